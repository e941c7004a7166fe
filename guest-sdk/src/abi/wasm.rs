//! Host calls in Wasm: the generated WIT imports, with conversions to the SDK's types.

use super::bindings::broadcast::weir::udf::{
    broadcast_state as bs, keyed_state as ks, log as wl, types,
};
use crate::batch::Values;
use crate::broadcast::BroadcastError;
use crate::log::Level;
use crate::state::{Entries, Mutation, Op, Scope, StateError, StateKind, StateSpec, TimeWindow};

pub(crate) fn log(level: Level, message: &str) {
    let level = match level {
        Level::Trace => wl::Level::Trace,
        Level::Debug => wl::Level::Debug,
        Level::Info => wl::Level::Info,
        Level::Warn => wl::Level::Warn,
        Level::Error => wl::Level::Error,
    };
    wl::log(level, message);
}

fn state_error(e: ks::StateError) -> StateError {
    match e {
        ks::StateError::UnknownState(id) => StateError::UnknownState(id),
        ks::StateError::WrongKind(id) => StateError::WrongKind(id),
        ks::StateError::NotKeyed => StateError::NotKeyed,
        ks::StateError::NoSuchKey(k) => StateError::NoSuchKey(k),
        ks::StateError::NoSuchWindow => StateError::NoSuchWindow,
        ks::StateError::DeclareOutsideInit => StateError::DeclareOutsideInit,
        ks::StateError::InvalidName(n) => StateError::InvalidName(n),
        ks::StateError::TooLarge(n) => StateError::TooLarge(n),
        ks::StateError::Backend(m) => StateError::Backend(m),
    }
}

fn window(w: TimeWindow) -> types::TimeWindow {
    types::TimeWindow {
        start: w.start,
        end: w.end,
    }
}

fn scope(s: Scope) -> ks::Scope {
    ks::Scope {
        key: s.key,
        window: s.window.map(window),
    }
}

pub(crate) fn values(v: types::Values) -> Values {
    Values {
        data: v.data,
        ends: v.ends,
        present: v.present,
    }
}

pub(crate) fn declare(spec: &StateSpec) -> Result<u32, StateError> {
    let kind = match spec.kind {
        StateKind::Value => ks::StateKind::Value,
        StateKind::List => ks::StateKind::List,
        StateKind::Map => ks::StateKind::Map,
    };
    let wit = ks::StateSpec {
        name: spec.name.clone(),
        kind,
        ttl_ms: spec.ttl_ms,
    };
    match &spec.type_tag {
        None => ks::declare(&wit).map_err(state_error),
        Some(tag) => ks::declare_typed(&wit, tag).map_err(|e| match e {
            ks::DeclareError::State(s) => state_error(s),
            ks::DeclareError::Conflict(m) => StateError::Conflict(m),
        }),
    }
}

pub(crate) fn get_values(state: u32, scopes: &[Scope]) -> Result<Values, StateError> {
    let scopes: Vec<ks::Scope> = scopes.iter().copied().map(scope).collect();
    ks::get_values(state, &scopes)
        .map(values)
        .map_err(state_error)
}

pub(crate) fn get_list(state: u32, s: Scope) -> Result<Values, StateError> {
    ks::get_list(state, scope(s))
        .map(values)
        .map_err(state_error)
}

pub(crate) fn get_entries(
    state: u32,
    s: Scope,
    user_keys: &[Vec<u8>],
) -> Result<Values, StateError> {
    ks::get_entries(state, scope(s), user_keys)
        .map(values)
        .map_err(state_error)
}

pub(crate) fn scan_entries(
    state: u32,
    s: Scope,
    start_after: Option<&[u8]>,
    limit: u32,
) -> Result<Entries, StateError> {
    ks::scan_entries(state, scope(s), start_after, limit)
        .map(|e| Entries {
            data: e.data,
            ends: e.ends,
            more: e.more,
        })
        .map_err(state_error)
}

pub(crate) fn apply(mutations: &[Mutation], data: &[u8]) -> Result<(), StateError> {
    let mutations: Vec<ks::Mutation> = mutations
        .iter()
        .map(|m| ks::Mutation {
            op: match m.op {
                Op::SetValue => ks::Op::SetValue,
                Op::AddToList => ks::Op::AddToList,
                Op::PutEntry => ks::Op::PutEntry,
                Op::RemoveEntry => ks::Op::RemoveEntry,
                Op::Clear => ks::Op::Clear,
            },
            state: m.state,
            scope: scope(m.scope),
            user_key_len: m.user_key_len,
            value_len: m.value_len,
        })
        .collect();
    ks::apply(&mutations, data).map_err(state_error)
}

fn broadcast_error(e: bs::BroadcastError) -> BroadcastError {
    match e {
        bs::BroadcastError::ReadOnly => BroadcastError::ReadOnly,
        bs::BroadcastError::TooLarge(n) => BroadcastError::TooLarge(n),
        bs::BroadcastError::Backend(m) => BroadcastError::Backend(m),
    }
}

pub(crate) fn broadcast_get(state: &str, key: &[u8]) -> Result<Option<Vec<u8>>, BroadcastError> {
    bs::get(state, key).map_err(broadcast_error)
}

pub(crate) fn broadcast_scan(
    state: &str,
    start_after: Option<&[u8]>,
    limit: u32,
) -> Result<Entries, BroadcastError> {
    bs::scan(state, start_after, limit)
        .map(|e| Entries {
            data: e.data,
            ends: e.ends,
            more: e.more,
        })
        .map_err(broadcast_error)
}

pub(crate) fn broadcast_len(state: &str) -> Result<u64, BroadcastError> {
    bs::len(state).map_err(broadcast_error)
}

pub(crate) fn broadcast_put(state: &str, key: &[u8], value: &[u8]) -> Result<(), BroadcastError> {
    bs::put(state, key, value).map_err(broadcast_error)
}

pub(crate) fn broadcast_remove(state: &str, key: &[u8]) -> Result<(), BroadcastError> {
    bs::remove(state, key).map_err(broadcast_error)
}

pub(crate) fn broadcast_clear(state: &str) -> Result<(), BroadcastError> {
    bs::clear(state).map_err(broadcast_error)
}

pub(crate) fn timer_change(
    key: u32,
    event_time: bool,
    time: i64,
    delete: bool,
) -> Result<(), String> {
    use super::bindings::timed::weir::udf::timers as t;
    let domain = if event_time {
        t::TimeDomain::EventTime
    } else {
        t::TimeDomain::ProcessingTime
    };
    if delete {
        t::delete(key, domain, time)
    } else {
        t::register(key, domain, time)
    }
}

pub(crate) fn current_watermark() -> i64 {
    super::bindings::timed::weir::udf::timers::current_watermark()
}

pub(crate) fn current_processing_time() -> i64 {
    super::bindings::timed::weir::udf::timers::current_processing_time()
}

pub(crate) fn pane_timings() -> Vec<crate::window::Timing> {
    use super::bindings::window::weir::udf::panes;
    panes::timings()
        .into_iter()
        .map(|t| match t {
            panes::Timing::Early => crate::window::Timing::Early,
            panes::Timing::OnTime => crate::window::Timing::OnTime,
            panes::Timing::Late => crate::window::Timing::Late,
        })
        .collect()
}
