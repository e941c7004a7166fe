//! The functions operators call, whatever runs them: Wasm components, or native Rust
//! registered by name (for embedding and for measuring Wasm against native code).

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;

use crate::record::{Batch, KeyTable, Values};
use crate::state::KeyedState;
use crate::wasm::bindings::timer_function::FiredTimer;
use crate::wasm::bindings::types::{InitContext, Output};
use crate::wasm::bindings::window_function::{FiredWindow, Fold, FoldOutput};
use crate::wasm::{Failure, TimerChange};

/// Who a function is, in logs and errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionLabel {
    /// The operator.
    pub operator: String,
    /// The function: `component <path>, sha256:<hash>` or `native function <name>`.
    pub function: String,
}

impl std::fmt::Display for FunctionLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "operator `{}` ({})", self.operator, self.function)
    }
}

/// A map function instance.
pub trait MapFunction: Send {
    /// Who it is.
    fn label(&self) -> &FunctionLabel;
    /// How many fresh instances replaced failed ones so far.
    fn reinstantiations(&self) -> u64 {
        0
    }
    /// Processes a batch.
    fn process(
        &mut self,
        input: &Batch,
        keys: Option<&KeyTable>,
        now_ms: i64,
    ) -> Result<Output, Failure>;
    /// Whether it has timers (an `on-timer` to call).
    fn has_timers(&self) -> bool {
        false
    }
    /// Tells it the operator's watermark (what its calls see as the current one).
    fn set_watermark(&mut self, watermark: i64) {
        let _ = watermark;
    }
    /// Takes the timers its successful calls registered or deleted.
    fn take_timer_changes(&mut self) -> Vec<TimerChange> {
        Vec::new()
    }
    /// Timers that came due, `keys.of-record` giving each one's key.
    fn on_timer(
        &mut self,
        keys: &KeyTable,
        timers: &[FiredTimer],
        now_ms: i64,
    ) -> Result<Output, Failure> {
        let _ = (keys, timers, now_ms);
        Err(Failure::Host(format!(
            "{}: the function has no timers",
            self.label()
        )))
    }
}

/// A process-window function instance.
pub trait WindowFunction: Send {
    /// Who it is.
    fn label(&self) -> &FunctionLabel;
    /// How many fresh instances replaced failed ones so far.
    fn reinstantiations(&self) -> u64 {
        0
    }
    /// The timings of the windows the next `process` fires (what `panes.timings` tells).
    fn set_panes(&mut self, panes: Vec<crate::time::Timing>) {
        let _ = panes;
    }
    /// Processes fired windows.
    fn process(
        &mut self,
        keys: &KeyTable,
        windows: &[FiredWindow],
        elements: &Batch,
        now_ms: i64,
    ) -> Result<Output, Failure>;
    /// Folds elements into accumulators.
    fn aggregate(
        &mut self,
        keys: &KeyTable,
        folds: &[Fold],
        accumulators: &Values,
        elements: &Batch,
    ) -> Result<FoldOutput, Failure>;
    /// Merges accumulators.
    fn merge(&mut self, accumulators: &Values, groups: &[u32]) -> Result<Values, Failure>;
}

/// A broadcast-process function instance.
pub trait BroadcastFunction: Send {
    /// Who it is.
    fn label(&self) -> &FunctionLabel;
    /// How many fresh instances replaced failed ones so far.
    fn reinstantiations(&self) -> u64 {
        0
    }
    /// Processes main-input records.
    fn process_element(
        &mut self,
        input: &Batch,
        keys: Option<&KeyTable>,
        now_ms: i64,
    ) -> Result<Output, Failure>;
    /// Processes broadcast records.
    fn process_broadcast(&mut self, input: &Batch, now_ms: i64) -> Result<Output, Failure>;
    /// Digest and number of entries of the instance's broadcast state.
    fn broadcast_state(&self) -> (u64, usize);
    /// Hands the instance's broadcast state over (to the function replacing it).
    fn take_broadcast_state(&mut self) -> Option<crate::wasm::BroadcastHost> {
        None
    }
    /// Takes over broadcast state (from the function it replaces).
    fn set_broadcast_state(&mut self, state: crate::wasm::BroadcastHost) -> Result<()> {
        let _ = state;
        anyhow::bail!(
            "{}: this function cannot take over broadcast state",
            self.label()
        )
    }
    /// Saves the broadcast state to `path` (for a snapshot); returns its entries.
    fn save_broadcast_state(&self, path: &std::path::Path) -> Result<u64> {
        let _ = path;
        anyhow::bail!(
            "{}: this function's broadcast state cannot be saved",
            self.label()
        )
    }
}

/// A function instance of any kind: what a swap hands an operator.
pub enum Function {
    /// A map function.
    Map(Box<dyn MapFunction>),
    /// A process-window function.
    Window(Box<dyn WindowFunction>),
    /// A broadcast-process function.
    Broadcast(Box<dyn BroadcastFunction>),
}

impl Function {
    /// Who it is.
    pub fn label(&self) -> &FunctionLabel {
        match self {
            Function::Map(f) => f.label(),
            Function::Window(f) => f.label(),
            Function::Broadcast(f) => f.label(),
        }
    }
}

/// Makes a native map function instance: init context and keyed state (when keyed).
pub type MapFactory =
    dyn Fn(&InitContext, Option<KeyedState>) -> Result<Box<dyn MapFunction>> + Send + Sync;
/// Makes a native process-window function instance.
pub type WindowFactory =
    dyn Fn(&InitContext, Option<KeyedState>) -> Result<Box<dyn WindowFunction>> + Send + Sync;
/// Makes a native broadcast-process function instance.
pub type BroadcastFactory =
    dyn Fn(&InitContext, Option<KeyedState>) -> Result<Box<dyn BroadcastFunction>> + Send + Sync;

/// Native functions a manifest can name as `component = "native:<name>"`.
#[derive(Default, Clone)]
pub struct NativeFunctions {
    pub(crate) maps: HashMap<String, Arc<MapFactory>>,
    pub(crate) windows: HashMap<String, Arc<WindowFactory>>,
    pub(crate) broadcasts: HashMap<String, Arc<BroadcastFactory>>,
}

impl NativeFunctions {
    /// Registers a native map function.
    pub fn map(
        &mut self,
        name: &str,
        f: impl Fn(&InitContext, Option<KeyedState>) -> Result<Box<dyn MapFunction>>
        + Send
        + Sync
        + 'static,
    ) -> &mut Self {
        self.maps.insert(name.to_owned(), Arc::new(f));
        self
    }

    /// Registers a native process-window function.
    pub fn window(
        &mut self,
        name: &str,
        f: impl Fn(&InitContext, Option<KeyedState>) -> Result<Box<dyn WindowFunction>>
        + Send
        + Sync
        + 'static,
    ) -> &mut Self {
        self.windows.insert(name.to_owned(), Arc::new(f));
        self
    }

    /// Registers a native broadcast-process function.
    pub fn broadcast(
        &mut self,
        name: &str,
        f: impl Fn(&InitContext, Option<KeyedState>) -> Result<Box<dyn BroadcastFunction>>
        + Send
        + Sync
        + 'static,
    ) -> &mut Self {
        self.broadcasts.insert(name.to_owned(), Arc::new(f));
        self
    }
}
