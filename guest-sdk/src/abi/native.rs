//! Host calls on native targets: forwarded to the thread's [`NativeHost`].
//!
//! [`NativeHost`]: crate::native::NativeHost

use crate::batch::Values;
use crate::broadcast::BroadcastError;
use crate::log::Level;
use crate::native::call;
use crate::state::{Entries, Mutation, Scope, StateError, StateSpec};

pub(crate) fn log(level: Level, message: &str) {
    call(|h| h.log(level, message));
}

pub(crate) fn declare(spec: &StateSpec) -> Result<u32, StateError> {
    call(|h| h.declare(spec))
}

pub(crate) fn get_values(state: u32, scopes: &[Scope]) -> Result<Values, StateError> {
    call(|h| h.get_values(state, scopes))
}

pub(crate) fn get_list(state: u32, scope: Scope) -> Result<Values, StateError> {
    call(|h| h.get_list(state, scope))
}

pub(crate) fn get_entries(
    state: u32,
    scope: Scope,
    user_keys: &[Vec<u8>],
) -> Result<Values, StateError> {
    call(|h| h.get_entries(state, scope, user_keys))
}

pub(crate) fn scan_entries(
    state: u32,
    scope: Scope,
    start_after: Option<&[u8]>,
    limit: u32,
) -> Result<Entries, StateError> {
    call(|h| h.scan_entries(state, scope, start_after, limit))
}

pub(crate) fn apply(mutations: &[Mutation], data: &[u8]) -> Result<(), StateError> {
    call(|h| h.apply(mutations, data))
}

pub(crate) fn broadcast_get(state: &str, key: &[u8]) -> Result<Option<Vec<u8>>, BroadcastError> {
    call(|h| h.broadcast_get(state, key))
}

pub(crate) fn broadcast_scan(
    state: &str,
    start_after: Option<&[u8]>,
    limit: u32,
) -> Result<Entries, BroadcastError> {
    call(|h| h.broadcast_scan(state, start_after, limit))
}

pub(crate) fn broadcast_len(state: &str) -> Result<u64, BroadcastError> {
    call(|h| h.broadcast_len(state))
}

pub(crate) fn broadcast_put(state: &str, key: &[u8], value: &[u8]) -> Result<(), BroadcastError> {
    call(|h| h.broadcast_put(state, key, value))
}

pub(crate) fn broadcast_remove(state: &str, key: &[u8]) -> Result<(), BroadcastError> {
    call(|h| h.broadcast_remove(state, key))
}

pub(crate) fn broadcast_clear(state: &str) -> Result<(), BroadcastError> {
    call(|h| h.broadcast_clear(state))
}

pub(crate) fn timer_change(
    key: u32,
    event_time: bool,
    time: i64,
    delete: bool,
) -> Result<(), String> {
    call(|h| h.timer_change(key, event_time, time, delete))
}

pub(crate) fn current_watermark() -> i64 {
    call(|h| h.current_watermark())
}

pub(crate) fn current_processing_time() -> i64 {
    call(|h| h.current_processing_time())
}
