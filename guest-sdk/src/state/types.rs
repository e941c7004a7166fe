//! Plain data types of the keyed-state interface.

use std::fmt;

/// A time window: `start` inclusive, `end` exclusive, epoch milliseconds. For count
/// windows, the ordinal numbers of the first element and one past the last.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TimeWindow {
    /// First instant in the window.
    pub start: i64,
    /// First instant after the window.
    pub end: i64,
}

/// What a state holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateKind {
    /// One value per key (and window).
    Value,
    /// A list of values per key (and window).
    List,
    /// A map from user keys to values per key (and window).
    Map,
}

/// A state declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSpec {
    /// Name, unique within the operator.
    pub name: String,
    /// What it holds.
    pub kind: StateKind,
    /// Entries not written for this long read as absent.
    pub ttl_ms: Option<u64>,
    /// The type of its values and their serialisation (what lets the host refuse a new
    /// version of the function that would misread them).
    pub type_tag: Option<String>,
}

/// Whose state an operation touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Scope {
    /// Index of the key in the call's key table.
    pub key: u32,
    /// The window for per-window state, none for state global to the key.
    pub window: Option<TimeWindow>,
}

/// Why a state operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// No state with this id was declared.
    UnknownState(u32),
    /// The operation does not apply to the state's kind.
    WrongKind(u32),
    /// The input of this call is not keyed.
    NotKeyed,
    /// The key index is outside the call's key table.
    NoSuchKey(u32),
    /// A window scope outside a process-window call.
    NoSuchWindow,
    /// States can only be declared in `init`.
    DeclareOutsideInit,
    /// The name is reserved for the host or empty.
    InvalidName(String),
    /// A value or request exceeds the host's limit.
    TooLarge(u64),
    /// The state backend failed.
    Backend(String),
    /// The state exists with another declaration (kind, time to live or type).
    Conflict(String),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownState(id) => write!(f, "no state with id {id} was declared"),
            Self::WrongKind(id) => write!(f, "state {id} is of another kind"),
            Self::NotKeyed => f.write_str("the input is not keyed, so there is no keyed state"),
            Self::NoSuchKey(k) => write!(f, "key index {k} is not in this call"),
            Self::NoSuchWindow => f.write_str("no window is being processed"),
            Self::DeclareOutsideInit => f.write_str("states can only be declared in init"),
            Self::InvalidName(n) => write!(
                f,
                "`{n}` is not a usable state name (empty, or reserved: `__weir/...`)"
            ),
            Self::TooLarge(n) => write!(f, "{n} bytes exceed the host's limit"),
            Self::Backend(m) => write!(f, "state backend: {m}"),
            Self::Conflict(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for StateError {}

/// What a mutation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Set a value state.
    SetValue,
    /// Append to a list state.
    AddToList,
    /// Put a map entry.
    PutEntry,
    /// Remove a map entry.
    RemoveEntry,
    /// Clear the scope's state.
    Clear,
}

/// One write; its payload (user key, then value) follows in the data buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mutation {
    /// What to do.
    pub op: Op,
    /// Which state.
    pub state: u32,
    /// Whose state.
    pub scope: Scope,
    /// Length of the user key at the start of the payload.
    pub user_key_len: u32,
    /// Length of the value after it.
    pub value_len: u32,
}

/// A page of map entries, in user-key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Entries {
    /// User key then value of each entry, back to back.
    pub data: Vec<u8>,
    /// Two offsets per entry: end of its user key, end of its value.
    pub ends: Vec<u32>,
    /// Whether entries remain after this page.
    pub more: bool,
}

impl Entries {
    /// The entries as (user key, value) pairs.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        (0..self.ends.len() / 2).map(move |i| {
            let start = if i == 0 {
                0
            } else {
                self.ends[2 * i - 1] as usize
            };
            let key_end = self.ends[2 * i] as usize;
            let end = self.ends[2 * i + 1] as usize;
            (&self.data[start..key_end], &self.data[key_end..end])
        })
    }
}
