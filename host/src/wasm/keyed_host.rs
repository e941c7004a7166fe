//! The host side of `weir:udf/keyed-state`: a function reaches only the states it
//! declared, of the keys (and windows) of the call in progress, and its writes count
//! only if the call succeeds.

use std::collections::HashMap;

use anyhow::Result;

use super::bindings::keyed_state::{
    self, DeclareError, Entries, Mutation, Op, Scope, StateError, StateKind, StateSpec,
};
use super::bindings::types::TimeWindow;
use super::timers_host::TimerChange;
use crate::record::{KeyTable, Values};
use crate::state::{KeyedState, Kind, Namespace, Overlay, StateDef, StateKeyPrefix};

/// Largest value, list element or map entry a function may write.
pub const MAX_VALUE_BYTES: usize = 16 << 20;
/// Most scopes, user keys or entries one request may name or return.
pub const MAX_ITEMS: usize = 1 << 16;
/// Most bytes one read may return.
pub const MAX_READ_BYTES: usize = 64 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Init,
    Call,
}

/// The keyed-state side of a function's store.
pub struct KeyedHost {
    state: Option<KeyedState>,
    defs: Vec<StateDef>,
    by_name: HashMap<String, u32>,
    phase: Phase,
    /// The call's distinct keys and their key groups.
    keys: Vec<(Vec<u8>, u16)>,
    /// The windows the call may reach, by key index.
    windows: Vec<(u32, TimeWindow)>,
    overlay: Overlay,
    pub(super) now_ms: i64,
    /// A failure of the backend during the call: the call fails as the host's failure,
    /// whatever the function made of the error it received.
    host_error: std::cell::RefCell<Option<String>>,
    /// A declaration in `init` that conflicts with the state as it exists: `init`
    /// fails with it, whatever the function made of the error it received.
    conflict: Option<String>,
    /// Timers the call in progress registered or deleted.
    pub(super) timers_pending: Vec<TimerChange>,
    /// Timers of calls that succeeded, for the operator to take.
    timers_committed: Vec<TimerChange>,
    /// The operator's watermark, for `timers.current-watermark`.
    pub(super) watermark: i64,
    /// The timings of the windows the next process-window call fires.
    pub(super) panes: Vec<crate::time::Timing>,
}

impl KeyedHost {
    /// A host for a function whose input is keyed (`Some`) or not.
    pub fn new(state: Option<KeyedState>) -> Self {
        Self {
            state,
            defs: Vec::new(),
            by_name: HashMap::new(),
            phase: Phase::Idle,
            keys: Vec::new(),
            windows: Vec::new(),
            overlay: Overlay::default(),
            now_ms: 0,
            host_error: Default::default(),
            conflict: None,
            timers_pending: Vec::new(),
            timers_committed: Vec::new(),
            watermark: i64::MIN,
            panes: Vec::new(),
        }
    }

    /// The timings of the windows the next process-window call fires (`panes.timings`).
    pub fn set_panes(&mut self, panes: Vec<crate::time::Timing>) {
        self.panes = panes;
    }

    /// The timings set by [`set_panes`](Self::set_panes).
    pub fn panes(&self) -> &[crate::time::Timing] {
        &self.panes
    }

    /// The key of index `i` of the call in progress.
    pub(super) fn call_key(&self, i: u32) -> Option<Vec<u8>> {
        self.keys.get(i as usize).map(|(k, _)| k.clone())
    }

    /// Whether the call in progress has keys.
    pub(super) fn keyed_call(&self) -> bool {
        !self.keys.is_empty()
    }

    /// The operator's watermark, as `timers.current-watermark` tells it.
    pub fn set_watermark(&mut self, watermark: i64) {
        self.watermark = watermark;
    }

    /// Takes the timer changes of the calls that succeeded since the last take.
    pub fn take_timer_changes(&mut self) -> Vec<TimerChange> {
        std::mem::take(&mut self.timers_committed)
    }

    /// `init` is running: states may be declared.
    pub fn begin_init(&mut self) {
        self.phase = Phase::Init;
        self.conflict = None;
    }

    /// A declaration of the last `init` that conflicts with the state as it exists.
    pub fn conflict(&self) -> Option<String> {
        self.conflict.clone()
    }

    /// A call on `keys` (and, for process-window calls, `windows`) begins at processing
    /// time `now_ms`.
    pub fn begin_call(
        &mut self,
        keys: Option<&KeyTable>,
        windows: Vec<(u32, TimeWindow)>,
        now_ms: i64,
    ) {
        self.phase = Phase::Call;
        self.host_error.replace(None);
        self.now_ms = now_ms;
        self.windows = windows;
        self.keys.clear();
        if let (Some(t), Some(state)) = (keys, &self.state) {
            self.keys
                .extend((0..t.len()).map(|i| (t.key(i).to_vec(), state.group(t.key(i)))));
        }
    }

    /// The backend failure of the call in progress (or of `init`), if any.
    pub fn host_error(&self) -> Option<String> {
        self.host_error.borrow().clone()
    }

    /// The call succeeded: its writes go to the backend.
    pub fn commit(&mut self) -> Result<()> {
        self.phase = Phase::Idle;
        self.timers_committed.append(&mut self.timers_pending);
        let overlay = std::mem::take(&mut self.overlay);
        if let Some(state) = &self.state
            && !overlay.is_empty()
        {
            state.backend().write(overlay.into_writes())?;
        }
        Ok(())
    }

    /// The call failed: its writes are dropped.
    pub fn abort(&mut self) {
        self.phase = Phase::Idle;
        self.timers_pending.clear();
        self.overlay = Overlay::default();
        self.host_error.replace(None);
    }

    fn state(&self) -> Result<&KeyedState, StateError> {
        self.state.as_ref().ok_or(StateError::NotKeyed)
    }

    fn def(&self, id: u32, kind: Kind) -> Result<&StateDef, StateError> {
        let def = self
            .defs
            .get(id as usize)
            .ok_or(StateError::UnknownState(id))?;
        if def.kind != kind {
            return Err(StateError::WrongKind(id));
        }
        Ok(def)
    }

    fn prefix(&self, def: &StateDef, scope: Scope) -> Result<StateKeyPrefix, StateError> {
        self.state()?;
        let (key, group) = self
            .keys
            .get(scope.key as usize)
            .ok_or(StateError::NoSuchKey(scope.key))?;
        let ns = match scope.window {
            None => Namespace::Global,
            Some(w) => {
                if !self.windows.iter().any(|&(k, x)| k == scope.key && x == w) {
                    return Err(StateError::NoSuchWindow);
                }
                Namespace::Window {
                    start: w.start,
                    end: w.end,
                }
            }
        };
        Ok(StateKeyPrefix::new(def.id, *group, key, ns))
    }

    fn backend_err(&self, e: anyhow::Error) -> StateError {
        let message = format!("{e:#}");
        self.host_error.replace(Some(message.clone()));
        StateError::Backend(message)
    }

    fn too_many(n: usize) -> Result<(), StateError> {
        if n > MAX_ITEMS {
            return Err(StateError::TooLarge(n as u64));
        }
        Ok(())
    }

    fn values<'a>(
        &self,
        def: &StateDef,
        items: impl Iterator<Item = Option<&'a [u8]>>,
    ) -> Result<Values, StateError> {
        let mut out = Values::default();
        for item in items {
            out.push(item.and_then(|s| KeyedState::unwrap(def, s, self.now_ms)));
            if out.data.len() > MAX_READ_BYTES {
                return Err(StateError::TooLarge(out.data.len() as u64));
            }
        }
        Ok(out)
    }
}

impl KeyedHost {
    fn declare_tagged(
        &mut self,
        spec: StateSpec,
        type_tag: Option<String>,
    ) -> Result<u32, DeclareError> {
        if self.phase != Phase::Init {
            return Err(DeclareError::State(StateError::DeclareOutsideInit));
        }
        let kind = match spec.kind {
            StateKind::Value => Kind::Value,
            StateKind::List => Kind::List,
            StateKind::Map => Kind::Map,
        };
        if let Some(&id) = self.by_name.get(&spec.name) {
            return if self.defs[id as usize].kind == kind {
                Ok(id)
            } else {
                Err(DeclareError::State(StateError::WrongKind(id)))
            };
        }
        if spec.name.len() > 1024 {
            return Err(DeclareError::State(StateError::TooLarge(
                spec.name.len() as u64
            )));
        }
        if spec.name.is_empty() || spec.name.starts_with(crate::operator::window::RESERVED) {
            return Err(DeclareError::State(StateError::InvalidName(spec.name)));
        }
        if type_tag.as_ref().is_some_and(|t| t.len() > 1024) {
            return Err(DeclareError::State(StateError::TooLarge(1024)));
        }
        let def = match self.state().map_err(DeclareError::State)?.define(
            &spec.name,
            kind,
            spec.ttl_ms,
            type_tag,
        ) {
            Ok(d) => d,
            Err(e) => {
                if let Some(c) = e.downcast_ref::<crate::state::StateConflict>() {
                    let message = c.to_string();
                    self.conflict = Some(message.clone());
                    return Err(DeclareError::Conflict(message));
                }
                return Err(DeclareError::State(self.backend_err(e)));
            }
        };
        let id = self.defs.len() as u32;
        self.defs.push(def);
        self.by_name.insert(spec.name, id);
        Ok(id)
    }
}

impl keyed_state::Host for KeyedHost {
    fn declare(&mut self, spec: StateSpec) -> Result<u32, StateError> {
        self.declare_tagged(spec, None).map_err(|e| match e {
            DeclareError::State(s) => s,
            // Components of 0.1.0 know no conflict: the host fails their `init` with it.
            DeclareError::Conflict(m) => StateError::Backend(m),
        })
    }

    fn declare_typed(&mut self, spec: StateSpec, type_tag: String) -> Result<u32, DeclareError> {
        self.declare_tagged(spec, Some(type_tag))
    }

    fn get_values(&mut self, state: u32, scopes: Vec<Scope>) -> Result<Values, StateError> {
        Self::too_many(scopes.len())?;
        let def = self.def(state, Kind::Value)?;
        let keys = scopes
            .into_iter()
            .map(|s| self.prefix(def, s).map(|p| p.0))
            .collect::<Result<Vec<_>, _>>()?;
        let found = self
            .overlay
            .get_values(self.state()?.backend(), &keys)
            .map_err(|e| self.backend_err(e))?;
        self.values(def, found.iter().map(Option::as_deref))
    }

    fn get_list(&mut self, state: u32, scope: Scope) -> Result<Values, StateError> {
        let def = self.def(state, Kind::List)?;
        let key = self.prefix(def, scope)?;
        let elements = self
            .overlay
            .get_list(self.state()?.backend(), &key.0)
            .map_err(|e| self.backend_err(e))?;
        Self::too_many(elements.len())?;
        let live: Vec<&[u8]> = elements
            .iter()
            .filter_map(|e| KeyedState::unwrap(def, e, self.now_ms))
            .collect();
        let mut out = Values::default();
        for e in live {
            out.push(Some(e));
        }
        if out.data.len() > MAX_READ_BYTES {
            return Err(StateError::TooLarge(out.data.len() as u64));
        }
        Ok(out)
    }

    fn get_entries(
        &mut self,
        state: u32,
        scope: Scope,
        user_keys: Vec<Vec<u8>>,
    ) -> Result<Values, StateError> {
        Self::too_many(user_keys.len())?;
        let def = self.def(state, Kind::Map)?;
        let prefix = self.prefix(def, scope)?;
        let keys: Vec<Vec<u8>> = user_keys.iter().map(|u| prefix.entry(u)).collect();
        let found = self
            .overlay
            .get_entries(self.state()?.backend(), &keys)
            .map_err(|e| self.backend_err(e))?;
        self.values(def, found.iter().map(Option::as_deref))
    }

    fn scan_entries(
        &mut self,
        state: u32,
        scope: Scope,
        start_after: Option<Vec<u8>>,
        limit: u32,
    ) -> Result<Entries, StateError> {
        let def = self.def(state, Kind::Map)?;
        let prefix = self.prefix(def, scope)?;
        let after = start_after.map(|a| prefix.entry(&a));
        let limit = (limit as usize).clamp(1, MAX_ITEMS);
        let (page, more) = self
            .overlay
            .scan_entries(self.state()?.backend(), &prefix, after.as_deref(), limit)
            .map_err(|e| self.backend_err(e))?;
        let mut out = Entries {
            data: Vec::new(),
            ends: Vec::new(),
            more,
        };
        for (k, v) in &page {
            let Some(v) = KeyedState::unwrap(def, v, self.now_ms) else {
                continue;
            };
            out.data.extend_from_slice(&k[prefix.0.len()..]);
            out.ends.push(crate::record::offset(out.data.len()));
            out.data.extend_from_slice(v);
            out.ends.push(crate::record::offset(out.data.len()));
            if out.data.len() > MAX_READ_BYTES {
                return Err(StateError::TooLarge(out.data.len() as u64));
            }
        }
        Ok(out)
    }

    fn apply(&mut self, mutations: Vec<Mutation>, data: Vec<u8>) -> Result<(), StateError> {
        Self::too_many(mutations.len())?;
        // Check everything before writing anything: all or none.
        let mut planned = Vec::with_capacity(mutations.len());
        let mut at = 0usize;
        for m in &mutations {
            let (uk, vl) = (m.user_key_len as usize, m.value_len as usize);
            if uk > MAX_VALUE_BYTES || vl > MAX_VALUE_BYTES {
                return Err(StateError::TooLarge(uk.max(vl) as u64));
            }
            let end = at + uk + vl;
            if end > data.len() {
                return Err(StateError::TooLarge(end as u64));
            }
            let kind = self
                .defs
                .get(m.state as usize)
                .ok_or(StateError::UnknownState(m.state))?
                .kind;
            let wanted = match m.op {
                Op::SetValue => Some(Kind::Value),
                Op::AddToList => Some(Kind::List),
                Op::PutEntry | Op::RemoveEntry => Some(Kind::Map),
                Op::Clear => None,
            };
            if wanted.is_some_and(|w| w != kind) {
                return Err(StateError::WrongKind(m.state));
            }
            let def = &self.defs[m.state as usize];
            let prefix = self.prefix(def, m.scope)?;
            planned.push((m.op, kind, m.state, prefix, at..at + uk, at + uk..end));
            at = end;
        }
        for (op, kind, state, prefix, uk, v) in planned {
            let def = &self.defs[state as usize];
            let wrap = |b: &[u8]| KeyedState::wrap(def, b, self.now_ms);
            match (op, kind) {
                (Op::SetValue, _) => self.overlay.set_value(prefix.0, wrap(&data[v])),
                (Op::AddToList, _) => self.overlay.append(prefix.0, wrap(&data[v])),
                (Op::PutEntry, _) => self
                    .overlay
                    .put_entry(prefix.entry(&data[uk]), wrap(&data[v])),
                (Op::RemoveEntry, _) => self.overlay.remove_entry(prefix.entry(&data[uk])),
                (Op::Clear, Kind::Value) => self.overlay.delete_value(prefix.0),
                (Op::Clear, Kind::List) => self.overlay.clear_list(prefix.0),
                (Op::Clear, Kind::Map) => self.overlay.clear_map(&prefix),
            }
        }
        Ok(())
    }
}
