//! Wasm components as the functions operators call.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use wasmtime::component::Linker;

use super::function::{BroadcastFunction, FunctionLabel, MapFunction, WindowFunction};
use crate::manifest::Limits;
use crate::record::{Batch, KeyTable, Values};
use crate::state::KeyedState;
use crate::wasm::bindings::types::{InitContext, Output};
use crate::wasm::bindings::window_function::{FiredWindow, Fold, FoldOutput};
use crate::wasm::{
    BroadcastHost, BroadcastInstance, ComponentLoader, Exports, Failure, FunctionInfo,
    FunctionInstance, MapInstance, Prepared, StoreData, WasmEngine, WindowInstance, linker,
};

/// The Wasm side of a job: one engine, one component loader, one linker.
pub struct WasmFunctions {
    engine: Arc<WasmEngine>,
    loader: ComponentLoader,
    linker: Linker<StoreData>,
}

impl WasmFunctions {
    /// An engine with compiled code cached under `cache_dir` (none: no disk cache).
    pub fn new(cache_dir: Option<std::path::PathBuf>) -> Result<Self> {
        let engine = Arc::new(WasmEngine::new()?);
        let linker = linker(&engine)?;
        Ok(Self {
            engine,
            loader: ComponentLoader::new(cache_dir),
            linker,
        })
    }

    /// Loads, links and type-checks the component at `path` for `operator`.
    pub fn prepare<E: Exports>(
        &self,
        operator: &str,
        path: &Path,
        limits: Limits,
        init: InitContext,
    ) -> Result<Arc<Prepared<E>>> {
        let component = self
            .loader
            .load(&self.engine, path)
            .with_context(|| format!("operator `{operator}`: loading its component"))?;
        let info = FunctionInfo {
            operator: operator.to_owned(),
            component,
            limits,
        };
        Ok(Arc::new(Prepared::new(
            self.engine.clone(),
            &self.linker,
            info,
            init,
        )?))
    }

    /// A map function instance.
    pub fn map(
        prepared: &Arc<Prepared<crate::wasm::MapExports>>,
        subtask: u32,
        keyed: Option<KeyedState>,
    ) -> Result<Box<dyn MapFunction>> {
        let inst = start(prepared, subtask, keyed)?;
        Ok(Box::new(Wasm {
            label: label(&prepared.info),
            inst,
        }))
    }

    /// A process-window function instance.
    pub fn window(
        prepared: &Arc<Prepared<crate::wasm::bindings::window_function::Guest>>,
        subtask: u32,
        keyed: Option<KeyedState>,
    ) -> Result<Box<dyn WindowFunction>> {
        let inst = start(prepared, subtask, keyed)?;
        Ok(Box::new(Wasm {
            label: label(&prepared.info),
            inst,
        }))
    }

    /// A broadcast-process function instance, with its broadcast state restored from
    /// `restored` when given.
    pub fn broadcast(
        prepared: &Arc<Prepared<crate::wasm::bindings::broadcast_function::Guest>>,
        subtask: u32,
        keyed: Option<KeyedState>,
        restored: Option<&Path>,
    ) -> Result<Box<dyn BroadcastFunction>> {
        let broadcast = match restored {
            Some(p) => BroadcastHost::load(p)?,
            None => BroadcastHost::default(),
        };
        let inst = FunctionInstance::with_broadcast(prepared.clone(), subtask, keyed, broadcast)
            .map_err(|f| {
                anyhow::anyhow!("{}: instance {subtask} could not start: {f}", prepared.info)
            })?;
        Ok(Box::new(Wasm {
            label: label(&prepared.info),
            inst,
        }))
    }
}

fn start<E: Exports>(
    prepared: &Arc<Prepared<E>>,
    subtask: u32,
    keyed: Option<KeyedState>,
) -> Result<FunctionInstance<E>> {
    FunctionInstance::new(prepared.clone(), subtask, keyed)
        .map_err(|f| anyhow::anyhow!("{}: instance {subtask} could not start: {f}", prepared.info))
}

fn label(info: &FunctionInfo) -> FunctionLabel {
    FunctionLabel {
        operator: info.operator.clone(),
        function: format!(
            "component {}, sha256:{}",
            info.component.path.display(),
            info.component.short_hash()
        ),
    }
}

struct Wasm<E: Exports> {
    label: FunctionLabel,
    inst: FunctionInstance<E>,
}

impl MapFunction for Wasm<crate::wasm::MapExports> {
    fn label(&self) -> &FunctionLabel {
        &self.label
    }
    fn reinstantiations(&self) -> u64 {
        self.inst.reinstantiations()
    }
    fn process(
        &mut self,
        input: &Batch,
        keys: Option<&KeyTable>,
        now_ms: i64,
    ) -> Result<Output, Failure> {
        MapInstance::process(&mut self.inst, input, keys, now_ms)
    }
    fn has_timers(&self) -> bool {
        self.inst.has_timers()
    }
    fn set_watermark(&mut self, watermark: i64) {
        self.inst.data_mut().keyed.set_watermark(watermark);
    }
    fn take_timer_changes(&mut self) -> Vec<crate::wasm::TimerChange> {
        self.inst.data_mut().keyed.take_timer_changes()
    }
    fn on_timer(
        &mut self,
        keys: &KeyTable,
        timers: &[crate::wasm::bindings::timer_function::FiredTimer],
        now_ms: i64,
    ) -> Result<Output, Failure> {
        self.inst.on_timer(keys, timers, now_ms)
    }
}

impl WindowFunction for Wasm<crate::wasm::bindings::window_function::Guest> {
    fn label(&self) -> &FunctionLabel {
        &self.label
    }
    fn reinstantiations(&self) -> u64 {
        self.inst.reinstantiations()
    }
    fn process(
        &mut self,
        keys: &KeyTable,
        windows: &[FiredWindow],
        elements: &Batch,
        now_ms: i64,
    ) -> Result<Output, Failure> {
        WindowInstance::process(&mut self.inst, keys, windows, elements, now_ms)
    }
    fn set_panes(&mut self, panes: Vec<crate::time::Timing>) {
        self.inst.data_mut().keyed.set_panes(panes);
    }
    fn aggregate(
        &mut self,
        keys: &KeyTable,
        folds: &[Fold],
        accumulators: &Values,
        elements: &Batch,
    ) -> Result<FoldOutput, Failure> {
        WindowInstance::aggregate(&mut self.inst, keys, folds, accumulators, elements)
    }
    fn merge(&mut self, accumulators: &Values, groups: &[u32]) -> Result<Values, Failure> {
        WindowInstance::merge(&mut self.inst, accumulators, groups)
    }
}

impl BroadcastFunction for Wasm<crate::wasm::bindings::broadcast_function::Guest> {
    fn label(&self) -> &FunctionLabel {
        &self.label
    }
    fn reinstantiations(&self) -> u64 {
        self.inst.reinstantiations()
    }
    fn process_element(
        &mut self,
        input: &Batch,
        keys: Option<&KeyTable>,
        now_ms: i64,
    ) -> Result<Output, Failure> {
        BroadcastInstance::process_element(&mut self.inst, input, keys, now_ms)
    }
    fn process_broadcast(&mut self, input: &Batch, now_ms: i64) -> Result<Output, Failure> {
        BroadcastInstance::process_broadcast(&mut self.inst, input, now_ms)
    }
    fn broadcast_state(&self) -> (u64, usize) {
        let b = &self.inst.data().broadcast;
        (b.digest(), b.entries())
    }
    fn save_broadcast_state(&self, path: &Path) -> Result<u64> {
        self.inst.data().broadcast.save(path)
    }
    fn take_broadcast_state(&mut self) -> Option<BroadcastHost> {
        Some(std::mem::take(&mut self.inst.data_mut().broadcast))
    }
    fn set_broadcast_state(&mut self, state: BroadcastHost) -> Result<()> {
        self.inst.data_mut().broadcast = state;
        Ok(())
    }
}
