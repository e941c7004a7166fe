//! Queryable state: one key's state of a running operator, read from the instance that
//! owns the key's group while the job runs. Each read sees the state as the function's
//! last completed call left it (a call's writes land together, or not at all).

use std::sync::{Mutex, Weak};

use super::swap::SwapContext;
use crate::state::StateRead;

/// Most map entries one query returns.
pub const MAX_ENTRIES: usize = 10_000;

/// Why a state could not be read.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// No operator has the name.
    #[error("no operator `{name}` (operators: {known})")]
    NoOperator {
        /// The name asked for.
        name: String,
        /// The operators there are.
        known: String,
    },
    /// The operator's input is not keyed.
    #[error("operator `{0}` has no keyed state: its input is not keyed (key_by)")]
    NotKeyed(String),
    /// The operator declared no state of that name.
    #[error("operator `{operator}` has no state `{state}` (it declared: {declared})")]
    NoState {
        /// The operator.
        operator: String,
        /// The state asked for.
        state: String,
        /// What it declared.
        declared: String,
    },
    /// The job is between attempts or has ended.
    #[error("the job is not running now (it is restarting or has ended)")]
    NotRunning,
    /// The state backend failed.
    #[error("reading the state failed: {0}")]
    Backend(String),
}

/// What a query found: the instance that owns the key, and the state.
#[derive(Debug, Clone)]
pub struct StateAnswer {
    /// The operator instance that owns the key.
    pub subtask: u32,
    /// The key's group.
    pub key_group: u16,
    /// `value`, `list` or `map`.
    pub kind: &'static str,
    /// What it holds.
    pub read: StateRead,
}

/// The running attempt, as queries see it (not kept alive by them: its state backends
/// close when it ends).
pub type Running = Mutex<Weak<SwapContext>>;

/// Reads state `state` of `key` in operator `operator` of the running attempt.
pub fn read_state(
    running: &Running,
    operator: &str,
    state: &str,
    key: &[u8],
) -> Result<StateAnswer, QueryError> {
    let ctx = running
        .lock()
        .expect("running attempt")
        .upgrade()
        .ok_or(QueryError::NotRunning)?;
    let Some(node) = ctx.job.nodes.iter().position(|n| n.name == operator) else {
        return Err(QueryError::NoOperator {
            name: operator.to_owned(),
            known: ctx
                .job
                .nodes
                .iter()
                .filter(|n| matches!(n.kind, crate::manifest::NodeKind::Operator(_)))
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        });
    };
    let keyed: Vec<(u32, &crate::state::KeyedState)> = ctx
        .targets
        .get(&node)
        .into_iter()
        .flatten()
        .filter_map(|t| Some((t.subtask, t.keyed.as_ref()?)))
        .collect();
    let Some(&(_, first)) = keyed.first() else {
        return Err(QueryError::NotKeyed(operator.to_owned()));
    };
    let def = first.declared(state).ok_or_else(|| QueryError::NoState {
        operator: operator.to_owned(),
        state: state.to_owned(),
        declared: {
            let names: Vec<String> = first
                .declared_names()
                .iter()
                .filter(|s| !s.starts_with(crate::operator::window::RESERVED))
                .map(|s| format!("`{s}`"))
                .collect();
            if names.is_empty() {
                "nothing".to_owned()
            } else {
                names.join(", ")
            }
        },
    })?;
    let group = first.group(key);
    let (subtask, owner) = keyed
        .iter()
        .find(|(_, k)| k.groups().contains(group))
        .ok_or_else(|| QueryError::Backend(format!("no instance owns key group {group}")))?;
    let read = owner
        .read(&def, key, super::epoch_ms(), MAX_ENTRIES)
        .map_err(|e| QueryError::Backend(format!("{e:#}")))?;
    Ok(StateAnswer {
        subtask: *subtask,
        key_group: group,
        kind: def.kind.name(),
        read,
    })
}
