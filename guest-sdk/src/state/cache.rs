//! The state of one call: which keys and windows it may touch, what it read, and the
//! writes it will hand to the host in one `apply` when it ends.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

use super::types::{Mutation, Op, Scope, StateError, TimeWindow};
use crate::abi;
use crate::batch::{Values, offset};

/// A value state's slot in the call cache.
struct ValueSlot {
    value: Option<Vec<u8>>,
    dirty: bool,
}

/// A list state's slot: what the host holds (once read) and what this call appended.
#[derive(Default)]
pub(crate) struct ListSlot {
    pub(crate) base: Option<Vec<Vec<u8>>>,
    pub(crate) cleared: bool,
    pub(crate) appended: Vec<Vec<u8>>,
}

/// A map state's slot: entries this call read, and entries it wrote (`None` = removed).
#[derive(Default)]
pub(crate) struct MapSlot {
    pub(crate) cleared: bool,
    pub(crate) written: BTreeMap<Vec<u8>, Option<Vec<u8>>>,
    pub(crate) read: HashMap<Vec<u8>, Option<Vec<u8>>>,
}

/// A list or map write, kept in call order.
struct Logged {
    op: Op,
    state: u32,
    scope: Scope,
    user_key: Vec<u8>,
    value: Vec<u8>,
}

/// Everything the SDK knows about the call in progress.
#[derive(Default)]
pub(crate) struct CallState {
    /// Number of distinct keys of the call; `None` when the input is not keyed.
    key_count: Option<u32>,
    /// The fired windows of a process-window call, with their key index.
    windows: Vec<(u32, TimeWindow)>,
    current_key: Option<u32>,
    current_window: Option<TimeWindow>,
    values: HashMap<(u32, Scope), ValueSlot>,
    prefetched: HashSet<(u32, bool)>,
    lists: HashMap<(u32, Scope), ListSlot>,
    maps: HashMap<(u32, Scope), MapSlot>,
    log: Vec<Logged>,
}

thread_local! {
    static CALL: RefCell<CallState> = RefCell::new(CallState::default());
}

/// Runs `f` on the state of the call in progress.
pub(crate) fn with_call<R>(f: impl FnOnce(&mut CallState) -> R) -> R {
    CALL.with(|c| f(&mut c.borrow_mut()))
}

/// Starts a call with `key_count` distinct keys (none when unkeyed) and, for
/// process-window calls, its fired windows.
pub(crate) fn begin_call(key_count: Option<u32>, windows: Vec<(u32, TimeWindow)>) {
    with_call(|c| {
        *c = CallState {
            key_count,
            windows,
            ..CallState::default()
        }
    });
}

/// Ends the call: hands every write to the host in one `apply` and forgets the cache.
///
/// # Panics
/// If the host rejects the writes: the call must then fail as a whole, so that its
/// inputs go to the error policy and the state stays as it was before the call.
pub(crate) fn end_call() {
    let (mutations, data) = with_call(|c| {
        let taken = std::mem::take(c);
        taken.into_mutations()
    });
    if !mutations.is_empty()
        && let Err(e) = abi::apply(&mutations, &data)
    {
        panic!("keyed state: the host rejected this call's writes: {e}");
    }
}

impl CallState {
    /// Makes `key` (and `window`) the scope of the handles until the next change.
    /// The key index of the record (or timer) being handled.
    pub(crate) fn current_key(&self) -> Option<u32> {
        self.current_key
    }

    pub(crate) fn set_current(&mut self, key: Option<u32>, window: Option<TimeWindow>) {
        self.current_key = key;
        self.current_window = window;
    }

    /// The scope a handle works on now.
    pub(crate) fn scope(&self, per_window: bool) -> Result<Scope, StateError> {
        if self.key_count.is_none() {
            return Err(StateError::NotKeyed);
        }
        let key = self.current_key.ok_or(StateError::NotKeyed)?;
        let window = if per_window {
            Some(self.current_window.ok_or(StateError::NoSuchWindow)?)
        } else {
            None
        };
        Ok(Scope { key, window })
    }

    /// Reads a value state, fetching it for every scope of the call on first use.
    pub(crate) fn value(&mut self, state: u32, scope: Scope) -> Result<Option<&[u8]>, StateError> {
        if !self.values.contains_key(&(state, scope)) {
            self.prefetch(state, scope)?;
        }
        Ok(self
            .values
            .get(&(state, scope))
            .and_then(|slot| slot.value.as_deref()))
    }

    fn prefetch(&mut self, state: u32, scope: Scope) -> Result<(), StateError> {
        let per_window = scope.window.is_some();
        let mut scopes = Vec::new();
        if self.prefetched.insert((state, per_window)) {
            if per_window {
                scopes.extend(self.windows.iter().map(|&(key, w)| Scope {
                    key,
                    window: Some(w),
                }));
            } else {
                let n = self.key_count.unwrap_or(0);
                scopes.extend((0..n).map(|key| Scope { key, window: None }));
            }
        }
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
        let scopes: Vec<Scope> = scopes
            .into_iter()
            .filter(|s| !self.values.contains_key(&(state, *s)))
            .collect();
        let found = abi::get_values(state, &scopes)?;
        if found.len() != scopes.len() {
            return Err(StateError::Backend(format!(
                "asked for {} values, got {}",
                scopes.len(),
                found.len()
            )));
        }
        for (i, s) in scopes.into_iter().enumerate() {
            let value = found.get(i).map(<[u8]>::to_vec);
            self.values.insert(
                (state, s),
                ValueSlot {
                    value,
                    dirty: false,
                },
            );
        }
        Ok(())
    }

    /// Sets (or, with `None`, clears) a value state.
    pub(crate) fn set_value(&mut self, state: u32, scope: Scope, value: Option<Vec<u8>>) {
        self.values
            .insert((state, scope), ValueSlot { value, dirty: true });
    }

    /// The list slot of a scope, loading what the host holds when `load` is set.
    pub(crate) fn list(
        &mut self,
        state: u32,
        scope: Scope,
        load: bool,
    ) -> Result<&mut ListSlot, StateError> {
        let slot = self.lists.entry((state, scope)).or_default();
        if load && slot.base.is_none() && !slot.cleared {
            let found = abi::get_list(state, scope)?;
            slot.base = Some(found.iter().flatten().map(<[u8]>::to_vec).collect());
        }
        Ok(slot)
    }

    /// The map slot of a scope.
    pub(crate) fn map(&mut self, state: u32, scope: Scope) -> &mut MapSlot {
        self.maps.entry((state, scope)).or_default()
    }

    /// Records a list or map write for the end of the call.
    pub(crate) fn log(&mut self, op: Op, state: u32, scope: Scope, user_key: &[u8], value: &[u8]) {
        self.log.push(Logged {
            op,
            state,
            scope,
            user_key: user_key.to_vec(),
            value: value.to_vec(),
        });
    }

    fn into_mutations(self) -> (Vec<Mutation>, Vec<u8>) {
        let mut mutations = Vec::new();
        let mut data = Vec::new();
        let mut push = |op, state, scope, user_key: &[u8], value: &[u8]| {
            data.extend_from_slice(user_key);
            data.extend_from_slice(value);
            mutations.push(Mutation {
                op,
                state,
                scope,
                user_key_len: offset(user_key.len()),
                value_len: offset(value.len()),
            });
        };
        for ((state, scope), slot) in self.values {
            if slot.dirty {
                match slot.value {
                    Some(v) => push(Op::SetValue, state, scope, &[], &v),
                    None => push(Op::Clear, state, scope, &[], &[]),
                }
            }
        }
        for l in self.log {
            push(l.op, l.state, l.scope, &l.user_key, &l.value);
        }
        (mutations, data)
    }
}

/// Fetches map entries by user key (one host call for all of them).
pub(crate) fn fetch_entries(
    state: u32,
    scope: Scope,
    user_keys: &[Vec<u8>],
) -> Result<Values, StateError> {
    abi::get_entries(state, scope, user_keys)
}
