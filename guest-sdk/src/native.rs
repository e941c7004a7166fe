//! Running functions natively, outside Wasm: for unit tests of functions and for hosts
//! that compare a Wasm function with the same code compiled natively.
//!
//! On non-Wasm targets the SDK's host calls (log, keyed state, broadcast state) go to the
//! [`NativeHost`] installed on the current thread with [`with_host`]. Without one, logs
//! go to stderr and state operations fail with "not keyed".

use std::cell::Cell;
use std::ptr::NonNull;

use crate::batch::Values;
use crate::broadcast::BroadcastError;
use crate::log::Level;
use crate::state::{Entries, Mutation, Scope, StateError, StateSpec};

/// The host side of the SDK's imports, for native runs. Every method mirrors one
/// function of the WIT interfaces `log`, `keyed-state` and `broadcast-state`.
#[allow(unused_variables)]
pub trait NativeHost {
    /// `log.log`.
    fn log(&mut self, level: Level, message: &str) {
        eprintln!("[{level:?}] {message}");
    }
    /// `keyed-state.declare`.
    fn declare(&mut self, spec: &StateSpec) -> Result<u32, StateError> {
        Err(StateError::NotKeyed)
    }
    /// `keyed-state.get-values`.
    fn get_values(&mut self, state: u32, scopes: &[Scope]) -> Result<Values, StateError> {
        Err(StateError::NotKeyed)
    }
    /// `keyed-state.get-list`.
    fn get_list(&mut self, state: u32, scope: Scope) -> Result<Values, StateError> {
        Err(StateError::NotKeyed)
    }
    /// `keyed-state.get-entries`.
    fn get_entries(
        &mut self,
        state: u32,
        scope: Scope,
        user_keys: &[Vec<u8>],
    ) -> Result<Values, StateError> {
        Err(StateError::NotKeyed)
    }
    /// `keyed-state.scan-entries`.
    fn scan_entries(
        &mut self,
        state: u32,
        scope: Scope,
        start_after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Entries, StateError> {
        Err(StateError::NotKeyed)
    }
    /// `keyed-state.apply`.
    fn apply(&mut self, mutations: &[Mutation], data: &[u8]) -> Result<(), StateError> {
        Err(StateError::NotKeyed)
    }
    /// `timers.register` (`delete = false`) or `timers.delete` of key index `key`.
    fn timer_change(
        &mut self,
        key: u32,
        event_time: bool,
        time: i64,
        delete: bool,
    ) -> Result<(), String> {
        Err("this host has no timers".to_owned())
    }
    /// `timers.current-watermark`.
    fn current_watermark(&mut self) -> i64 {
        i64::MIN
    }
    /// `timers.current-processing-time`.
    fn current_processing_time(&mut self) -> i64 {
        0
    }
    /// `broadcast-state.get`.
    fn broadcast_get(
        &mut self,
        state: &str,
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, BroadcastError> {
        Err(no_broadcast())
    }
    /// `broadcast-state.scan`.
    fn broadcast_scan(
        &mut self,
        state: &str,
        start_after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Entries, BroadcastError> {
        Err(no_broadcast())
    }
    /// `broadcast-state.len`.
    fn broadcast_len(&mut self, state: &str) -> Result<u64, BroadcastError> {
        Err(no_broadcast())
    }
    /// `broadcast-state.put`.
    fn broadcast_put(
        &mut self,
        state: &str,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), BroadcastError> {
        Err(no_broadcast())
    }
    /// `broadcast-state.remove`.
    fn broadcast_remove(&mut self, state: &str, key: &[u8]) -> Result<(), BroadcastError> {
        Err(no_broadcast())
    }
    /// `broadcast-state.clear`.
    fn broadcast_clear(&mut self, state: &str) -> Result<(), BroadcastError> {
        Err(no_broadcast())
    }
}

fn no_broadcast() -> BroadcastError {
    BroadcastError::Backend("no broadcast state outside a broadcast-process operator".into())
}

/// The host used when none is installed.
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
struct Fallback;
impl NativeHost for Fallback {}

thread_local! {
    static HOST: Cell<Option<NonNull<dyn NativeHost + 'static>>> = const { Cell::new(None) };
}

/// Runs `f` with `host` serving the SDK's host calls on this thread.
pub fn with_host<R>(host: &mut dyn NativeHost, f: impl FnOnce() -> R) -> R {
    struct Restore(Option<NonNull<dyn NativeHost + 'static>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            HOST.with(|h| h.set(self.0));
        }
    }
    let ptr: NonNull<dyn NativeHost + '_> = NonNull::from(host);
    // SAFETY: only the lifetime is erased. The pointer is reachable only through `HOST`,
    // which `Restore` resets before `with_host` returns (or unwinds), so it never
    // outlives the borrow of `host`.
    let ptr: NonNull<dyn NativeHost + 'static> = unsafe { std::mem::transmute(ptr) };
    let _restore = Restore(HOST.with(|h| h.replace(Some(ptr))));
    f()
}

/// Calls `f` on the installed host (or the fallback).
#[cfg_attr(target_arch = "wasm32", allow(dead_code))]
pub(crate) fn call<R>(f: impl FnOnce(&mut dyn NativeHost) -> R) -> R {
    match HOST.with(Cell::get) {
        // SAFETY: set by `with_host` from a live `&mut` for the duration of its closure,
        // and the SDK never calls the host re-entrantly, so this is the only reference.
        Some(mut ptr) => f(unsafe { ptr.as_mut() }),
        None => f(&mut Fallback),
    }
}
