//! One instance of a function: instantiated from a pre-linked component, initialised
//! with its config, called under a deadline and a memory cap, and replaced by a fresh
//! instance after a call poisons it.

use std::sync::Arc;

use anyhow::{Context, Result};
use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre, Linker};

use super::bindings::types::InitContext;
use super::bindings::{
    broadcast_function, broadcast_state, keyed_state, log, map_function, window_function,
};
use super::broadcast_host::BroadcastHost;
use super::component::LoadedComponent;
use super::engine::WasmEngine;
use super::failure::{Failure, classify};
use super::keyed_host::KeyedHost;
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

exports!(
    map_function::Guest,
    map_function::GuestIndices,
    "weir:udf/map"
);
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
    indices: E::Indices,
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
        Ok(Self {
            engine,
            pre,
            indices,
            info,
            init,
        })
    }
}

/// A live instance of a function.
pub struct FunctionInstance<E: Exports> {
    prepared: Arc<Prepared<E>>,
    store: Store<StoreData>,
    exports: E,
    subtask: u32,
    poisoned: bool,
}

/// Time `init` may take, whatever the per-call deadline.
const INIT_DEADLINE_MS: u64 = 30_000;

impl<E: Exports> FunctionInstance<E> {
    /// Instantiates and initialises instance `subtask`; `keyed` is the operator's keyed
    /// state when its input is keyed.
    pub fn new(
        prepared: Arc<Prepared<E>>,
        subtask: u32,
        keyed: Option<KeyedState>,
    ) -> Result<Self, Failure> {
        let label: Arc<str> = Arc::from(prepared.info.operator.as_str());
        let data = StoreData::new(
            label,
            prepared.info.limits.memory_bytes,
            KeyedHost::new(keyed),
            BroadcastHost::default(),
        );
        let (store, exports) = Self::start(&prepared, data, subtask)?;
        Ok(Self {
            prepared,
            store,
            exports,
            subtask,
            poisoned: false,
        })
    }

    fn start(
        prepared: &Prepared<E>,
        data: StoreData,
        subtask: u32,
    ) -> Result<(Store<StoreData>, E), Failure> {
        let mut store = Store::new(prepared.engine.engine(), data);
        store.limiter(|d| &mut d.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(WasmEngine::deadline_ticks(INIT_DEADLINE_MS));
        let host = |e: wasmtime::Error| Failure::Host(format!("{e:#}"));
        let instance = prepared.pre.instantiate(&mut store).map_err(host)?;
        let exports = E::load(&prepared.indices, &mut store, &instance).map_err(host)?;
        let mut ctx = prepared.init.clone();
        ctx.subtask = subtask;
        store.data_mut().keyed.begin_init();
        let result = exports.init(&mut store, &ctx);
        store.data_mut().keyed.abort();
        match result {
            Ok(Ok(())) => Ok((store, exports)),
            Ok(Err(message)) => Err(Failure::Init(message)),
            Err(e) => Err(match classify(e, store.data(), INIT_DEADLINE_MS) {
                Failure::Deadline(_) => {
                    Failure::Init(format!("init ran past {INIT_DEADLINE_MS} ms"))
                }
                other => Failure::Init(other.to_string()),
            }),
        }
    }

    /// Who this is.
    pub fn info(&self) -> &FunctionInfo {
        &self.prepared.info
    }

    /// Replaces a poisoned instance with a fresh one (keeping its state).
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
        let (store, exports) = Self::start(&self.prepared, old.into_data().renew(), self.subtask)?;
        self.store = store;
        self.exports = exports;
        self.poisoned = false;
        Ok(())
    }

    /// Calls the function: `setup` prepares the host side for the call, `f` makes it.
    /// On failure the call's state writes are dropped and, if the instance is poisoned,
    /// the next call starts a fresh one.
    pub fn call<R>(
        &mut self,
        setup: impl FnOnce(&mut StoreData),
        f: impl FnOnce(&E, &mut Store<StoreData>) -> wasmtime::Result<R>,
    ) -> Result<R, Failure> {
        if self.poisoned {
            self.renew()?;
        }
        let deadline = self.prepared.info.limits.deadline_ms;
        {
            let data = self.store.data_mut();
            data.limiter.reset();
            data.log.last_panic = None;
            setup(data);
        }
        self.store
            .set_epoch_deadline(WasmEngine::deadline_ticks(deadline));
        match f(&self.exports, &mut self.store) {
            Ok(r) => Ok(r),
            Err(e) => {
                let failure = classify(e, self.store.data(), deadline);
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

    /// The instance's store data (its broadcast state, for instance).
    pub fn data(&self) -> &StoreData {
        self.store.data()
    }
}
