//! One instance of a function: instantiated from a pre-linked component, initialised
//! with its config, called under a deadline and a memory cap, and replaced by a fresh
//! instance after a call poisons it.

use std::sync::Arc;

use anyhow::{Context, Result};
use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre, Linker};

use super::bindings::types::InitContext;
use super::bindings::{
    broadcast_function, broadcast_state, keyed_state, log, map_function, panes, state_migration,
    timer_function, timers, window_function,
};
use super::broadcast_host::BroadcastHost;
use super::component::LoadedComponent;
use super::engine::WasmEngine;
use super::failure::{Failure, classify};
use super::keyed_host::KeyedHost;
use super::migration::Migrator;
use super::store::StoreData;
use crate::manifest::Limits;
use crate::state::KeyedState;

/// The exported interface of one function kind.
pub trait Exports: Sized + Send + 'static {
    /// Export lookups computed once per component.
    type Indices: Send + Sync + 'static;
    /// The world a component must target, for messages.
    const WORLD: &'static str;
    /// Finds (and type-checks) the exports in a component.
    fn indices(pre: &InstancePre<StoreData>) -> wasmtime::Result<Self::Indices>;
    /// The exports of an instance.
    fn load(
        ix: &Self::Indices,
        store: &mut Store<StoreData>,
        instance: &Instance,
    ) -> wasmtime::Result<Self>;
    /// Calls `init`.
    fn init(
        &self,
        store: &mut Store<StoreData>,
        ctx: &InitContext,
    ) -> wasmtime::Result<Result<(), String>>;
}

macro_rules! exports {
    ($ty:ty, $ix:ty, $world:literal) => {
        impl Exports for $ty {
            type Indices = $ix;
            const WORLD: &'static str = $world;
            fn indices(pre: &InstancePre<StoreData>) -> wasmtime::Result<$ix> {
                <$ix>::new(pre)
            }
            fn load(
                ix: &$ix,
                store: &mut Store<StoreData>,
                instance: &Instance,
            ) -> wasmtime::Result<Self> {
                ix.load(store, instance)
            }
            fn init(
                &self,
                store: &mut Store<StoreData>,
                ctx: &InitContext,
            ) -> wasmtime::Result<Result<(), String>> {
                self.call_init(store, ctx)
            }
        }
    };
}

/// A map function's exports: `map-function`, and `timer-function` when the component
/// has timers (world `timed-map`).
pub struct MapExports {
    /// `map-function`.
    pub map: map_function::Guest,
    /// `timer-function`, if the component exports it.
    pub timers: Option<timer_function::Guest>,
}

/// Where a map component's exports are.
pub struct MapIndices {
    map: map_function::GuestIndices,
    pub(super) timers: Option<timer_function::GuestIndices>,
}

impl Prepared<MapExports> {
    /// Whether the component exports `timer-function` (world `timed-map`).
    pub fn has_timers(&self) -> bool {
        self.indices.timers.is_some()
    }
}

impl Exports for MapExports {
    type Indices = MapIndices;
    const WORLD: &'static str = "weir:udf/map";
    fn indices(pre: &InstancePre<StoreData>) -> wasmtime::Result<MapIndices> {
        Ok(MapIndices {
            map: map_function::GuestIndices::new(pre)?,
            // Looked for in the component's type: components without timers still load.
            timers: timer_function::GuestIndices::new(pre).ok(),
        })
    }
    fn load(
        ix: &MapIndices,
        store: &mut Store<StoreData>,
        instance: &Instance,
    ) -> wasmtime::Result<Self> {
        Ok(Self {
            map: ix.map.load(&mut *store, instance)?,
            timers: match &ix.timers {
                Some(t) => Some(t.load(&mut *store, instance)?),
                None => None,
            },
        })
    }
    fn init(
        &self,
        store: &mut Store<StoreData>,
        ctx: &InitContext,
    ) -> wasmtime::Result<Result<(), String>> {
        self.map.call_init(store, ctx)
    }
}
exports!(
    window_function::Guest,
    window_function::GuestIndices,
    "weir:udf/process-window"
);
exports!(
    broadcast_function::Guest,
    broadcast_function::GuestIndices,
    "weir:udf/broadcast-process"
);

/// Builds the linker every function is instantiated with: WASI (granting nothing) and
/// weir's imports.
pub fn linker(engine: &WasmEngine) -> Result<Linker<StoreData>> {
    let mut l = Linker::new(engine.engine());
    wasmtime_wasi::p2::add_to_linker_sync(&mut l)?;
    log::add_to_linker::<StoreData, wasmtime::component::HasSelf<super::store::LogHost>>(
        &mut l,
        |d| &mut d.log,
    )?;
    keyed_state::add_to_linker::<StoreData, wasmtime::component::HasSelf<KeyedHost>>(
        &mut l,
        |d| &mut d.keyed,
    )?;
    broadcast_state::add_to_linker::<StoreData, wasmtime::component::HasSelf<BroadcastHost>>(
        &mut l,
        |d| &mut d.broadcast,
    )?;
    timers::add_to_linker::<StoreData, wasmtime::component::HasSelf<KeyedHost>>(&mut l, |d| {
        &mut d.keyed
    })?;
    panes::add_to_linker::<StoreData, wasmtime::component::HasSelf<KeyedHost>>(&mut l, |d| {
        &mut d.keyed
    })?;
    Ok(l)
}

/// Who a function is, for logs and errors.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    /// Operator name.
    pub operator: String,
    /// The component.
    pub component: Arc<LoadedComponent>,
    /// Its limits.
    pub limits: Limits,
}

impl std::fmt::Display for FunctionInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "operator `{}` (component {}, sha256:{})",
            self.operator,
            self.component.path.display(),
            self.component.short_hash()
        )
    }
}

/// A component linked and checked against its world, ready to instantiate many times.
pub struct Prepared<E: Exports> {
    engine: Arc<WasmEngine>,
    pre: InstancePre<StoreData>,
    pub(super) indices: E::Indices,
    /// The component's `state-migration` export, if it has one.
    migration: Option<state_migration::GuestIndices>,
    /// Who it is.
    pub info: FunctionInfo,
    /// What `init` receives (`subtask` is set per instance).
    pub init: InitContext,
}

impl<E: Exports> Prepared<E> {
    /// Links `component` and checks that it exports `E`'s world.
    pub fn new(
        engine: Arc<WasmEngine>,
        linker: &Linker<StoreData>,
        info: FunctionInfo,
        init: InitContext,
    ) -> Result<Self> {
        let pre = linker
            .instantiate_pre(&info.component.component)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!("{info}: the component imports something the host does not provide")
            })?;
        let indices = E::indices(&pre)
            .map_err(anyhow::Error::from)
            .with_context(|| {
                format!(
                    "{info}: the component does not export the `{}` world",
                    E::WORLD
                )
            })?;
        let migration = state_migration::GuestIndices::new(&pre).ok();
        Ok(Self {
            engine,
            pre,
            indices,
            migration,
            info,
            init,
        })
    }

    /// An instance of the component's `state-migration` export (without `init`), if it
    /// exports one.
    pub fn migrator(&self) -> Result<Option<Migrator>> {
        let Some(ix) = &self.migration else {
            return Ok(None);
        };
        let data = StoreData::new(
            Arc::from(self.info.operator.as_str()),
            self.info.limits.memory_bytes,
            KeyedHost::new(None),
            BroadcastHost::default(),
        );
        let mut store = Store::new(self.engine.engine(), data);
        store.limiter(|d| &mut d.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(WasmEngine::deadline_ticks(INIT_DEADLINE_MS));
        let instance = self
            .pre
            .instantiate(&mut store)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("{}: instantiating it to migrate state", self.info))?;
        let exports = ix
            .load(&mut store, &instance)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("{}: its state-migration export", self.info))?;
        Ok(Some(Migrator::new(store, exports, self.info.clone())))
    }
}

/// A live instance of a function.
pub struct FunctionInstance<E: Exports> {
    prepared: Arc<Prepared<E>>,
    store: Store<StoreData>,
    exports: Option<E>,
    subtask: u32,
    poisoned: bool,
    reinstantiations: u64,
}

/// An instance that could not start: why, and the data (with its state) it was given.
type FailedStart = Box<(Failure, StoreData)>;

/// Time `init` may take, whatever the per-call deadline.
pub(super) const INIT_DEADLINE_MS: u64 = 30_000;
/// Longest deadline of one call, however many records it has.
const MAX_CALL_DEADLINE_MS: u64 = 600_000;

impl<E: Exports> FunctionInstance<E> {
    /// Instantiates and initialises instance `subtask`; `keyed` is the operator's keyed
    /// state when its input is keyed.
    pub fn new(
        prepared: Arc<Prepared<E>>,
        subtask: u32,
        keyed: Option<KeyedState>,
    ) -> Result<Self, Failure> {
        Self::with_broadcast(prepared, subtask, keyed, BroadcastHost::default())
    }

    /// Like [`new`](Self::new), with broadcast state to start from (restored).
    pub fn with_broadcast(
        prepared: Arc<Prepared<E>>,
        subtask: u32,
        keyed: Option<KeyedState>,
        broadcast: BroadcastHost,
    ) -> Result<Self, Failure> {
        let label: Arc<str> = Arc::from(prepared.info.operator.as_str());
        let data = StoreData::new(
            label,
            prepared.info.limits.memory_bytes,
            KeyedHost::new(keyed),
            broadcast,
        );
        let (store, exports) = Self::start(&prepared, data, subtask).map_err(|e| e.0)?;
        Ok(Self {
            prepared,
            store,
            exports: Some(exports),
            subtask,
            poisoned: false,
            reinstantiations: 0,
        })
    }

    /// Instantiates and runs `init`; on failure gives the data (and so the state) back.
    fn start(
        prepared: &Prepared<E>,
        data: StoreData,
        subtask: u32,
    ) -> Result<(Store<StoreData>, E), FailedStart> {
        let mut store = Store::new(prepared.engine.engine(), data);
        store.limiter(|d| &mut d.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(WasmEngine::deadline_ticks(INIT_DEADLINE_MS));
        let cap = store.data().limiter.cap();
        let host = |e: wasmtime::Error, data: &StoreData| {
            if data.limiter.hit() {
                Failure::Init(format!(
                    "the component needs more memory than its cap of {} to start ({e:#}): raise `limits.memory`",
                    super::failure::bytes(cap)
                ))
            } else {
                Failure::Host(format!("{e:#}"))
            }
        };
        let instance = match prepared.pre.instantiate(&mut store) {
            Ok(i) => i,
            Err(e) => {
                let f = host(e, store.data());
                return Err(Box::new((f, store.into_data())));
            }
        };
        let exports = match E::load(&prepared.indices, &mut store, &instance) {
            Ok(x) => x,
            Err(e) => {
                let f = host(e, store.data());
                return Err(Box::new((f, store.into_data())));
            }
        };
        let mut ctx = prepared.init.clone();
        ctx.subtask = subtask;
        store.data_mut().keyed.begin_init();
        store.data().log.log.begin_call();
        let result = exports.init(&mut store, &ctx);
        let host_error = store.data().keyed.host_error();
        let conflict = store.data().keyed.conflict();
        store.data_mut().keyed.abort();
        store.data().log.log.flush();
        let failure = match result {
            _ if host_error.is_some() => Failure::Host(host_error.unwrap_or_default()),
            // A state conflict fails `init`, whatever the function made of it.
            _ if conflict.is_some() => Failure::Init(conflict.unwrap_or_default()),
            Ok(Ok(())) => return Ok((store, exports)),
            Ok(Err(message)) => Failure::Init(message),
            Err(e) => match classify(e, store.data(), INIT_DEADLINE_MS) {
                Failure::Deadline(_) => {
                    Failure::Init(format!("init ran past {INIT_DEADLINE_MS} ms"))
                }
                Failure::Host(h) => Failure::Host(h),
                other => Failure::Init(other.to_string()),
            },
        };
        Err(Box::new((failure, store.into_data())))
    }

    /// Who this is.
    pub fn info(&self) -> &FunctionInfo {
        &self.prepared.info
    }

    /// How many times a fresh instance replaced a poisoned one.
    pub fn reinstantiations(&self) -> u64 {
        self.reinstantiations
    }

    /// Replaces a poisoned instance with a fresh one, keeping its state. If the fresh
    /// one cannot start, the state stays in place and the failure is the host's to
    /// report (the function cannot run at all, whatever the record).
    fn renew(&mut self) -> Result<(), Failure> {
        let placeholder = StoreData::new(
            Arc::from(""),
            0,
            KeyedHost::new(None),
            BroadcastHost::default(),
        );
        let old = std::mem::replace(
            &mut self.store,
            Store::new(self.prepared.engine.engine(), placeholder),
        );
        self.exports = None;
        match Self::start(&self.prepared, old.into_data().renew(), self.subtask) {
            Ok((store, exports)) => {
                self.store = store;
                self.exports = Some(exports);
                self.poisoned = false;
                self.reinstantiations += 1;
                Ok(())
            }
            Err(e) => {
                let (f, data) = *e;
                self.store = Store::new(self.prepared.engine.engine(), data);
                Err(Failure::Host(format!(
                    "a fresh instance of {} could not start after a failed call: {f}",
                    self.prepared.info
                )))
            }
        }
    }

    /// Calls the function on `records` records (the deadline is the per-record deadline
    /// times that): `setup` prepares the host side for the call, `f` makes it. On failure
    /// the call's state writes are dropped and, if the instance is poisoned, the next call
    /// starts a fresh one. The call's log lines reach the job log if it succeeds, or if it
    /// fails on a single record (a failed call of several is replayed in parts).
    pub fn call<R>(
        &mut self,
        records: usize,
        setup: impl FnOnce(&mut StoreData),
        f: impl FnOnce(&E, &mut Store<StoreData>) -> wasmtime::Result<R>,
    ) -> Result<R, Failure> {
        if self.poisoned {
            self.renew()?;
        }
        let deadline = self
            .prepared
            .info
            .limits
            .deadline_ms
            .saturating_mul(records.max(1) as u64)
            .min(MAX_CALL_DEADLINE_MS);
        {
            let data = self.store.data_mut();
            data.limiter.reset();
            data.log.log.begin_call();
            setup(data);
        }
        self.store
            .set_epoch_deadline(WasmEngine::deadline_ticks(deadline));
        let exports = self.exports.as_ref().expect("a live instance has exports");
        let result = f(exports, &mut self.store);
        let host_error = self.store.data().keyed.host_error();
        match (result, host_error) {
            (Ok(r), None) => {
                self.store.data().log.log.flush();
                Ok(r)
            }
            (Ok(_), Some(h)) => {
                self.abort();
                Err(Failure::Host(h))
            }
            (Err(e), _) => {
                let failure = classify(e, self.store.data(), deadline);
                if records <= 1 || failure.is_host() {
                    self.store.data().log.log.flush();
                } else {
                    self.store.data().log.log.discard();
                }
                self.abort();
                Err(failure)
            }
        }
    }

    /// Keeps the state writes of the call that just returned.
    pub fn commit(&mut self) -> Result<(), Failure> {
        let data = self.store.data_mut();
        data.broadcast.commit();
        data.keyed
            .commit()
            .map_err(|e| Failure::Host(format!("writing state: {e:#}")))
    }

    /// Drops the state writes of the call that just returned. The instance is replaced
    /// before its next call: what it remembers of the call (its own caches of state it
    /// wrote, say) no longer matches the state.
    pub fn abort(&mut self) {
        let data = self.store.data_mut();
        data.keyed.abort();
        data.broadcast.abort();
        self.poisoned = true;
    }

    /// What the instance was made from.
    pub fn prepared(&self) -> &Prepared<E> {
        &self.prepared
    }

    /// The instance's store data (its broadcast state, for instance).
    pub fn data(&self) -> &StoreData {
        self.store.data()
    }

    /// The instance's store data, to change (hand its broadcast state over).
    pub fn data_mut(&mut self) -> &mut StoreData {
        self.store.data_mut()
    }
}
