//! Operators: what a task does with the messages it receives.
//!
//! An operator gets data and watermarks and emits into a [`Collector`]: records and
//! watermarks on its main output, failed records on its dead-letter output, late elements
//! on its late output. Operators of one task are chained: the main output of one is the
//! input of the next.

mod broadcast;
pub mod dead_letter;
mod function;
pub(crate) mod isolate;
mod keyed_timers;
mod map;
mod wasm_functions;
pub mod window;

pub use broadcast::BroadcastOperator;
pub use dead_letter::{ErrorHandler, FunctionError, RecordSummary};
pub use function::{
    BroadcastFunction, Function, FunctionLabel, MapFunction, NativeFunctions, WindowFunction,
};
pub use isolate::{Isolated, run_isolated};
pub use map::MapOperator;
pub use wasm_functions::WasmFunctions;
pub use window::{WindowOperator, WindowSpec};

use anyhow::Result;

use crate::record::Batch;
use crate::runtime::Data;

/// Which input of an operator a message came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The main input.
    Main,
    /// The broadcast input of a broadcast operator.
    Broadcast,
}

/// The side outputs of an operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    /// Failed records, as JSON lines with their error.
    DeadLetter,
    /// Elements too late for their windows, as they arrived.
    Late,
}

/// What an operator emits on its main output (data far more often than watermarks, so
/// the data variant is not boxed).
#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)]
pub enum Event {
    /// Records.
    Data(Data),
    /// A watermark.
    Watermark(i64),
}

/// Collects what an operator emits while it handles one message.
#[derive(Debug, Default)]
pub struct Collector {
    /// Main output, in order.
    pub events: Vec<Event>,
    /// Side outputs.
    pub side: Vec<(Side, Batch)>,
}

impl Collector {
    /// Emits records.
    pub fn records(&mut self, batch: Batch) {
        if !batch.is_empty() {
            self.events.push(Event::Data(Data::Records(batch)));
        }
    }

    /// Emits a watermark.
    pub fn watermark(&mut self, wm: i64) {
        self.events.push(Event::Watermark(wm));
    }

    /// Emits records on a side output.
    pub fn side(&mut self, side: Side, batch: Batch) {
        if !batch.is_empty() {
            self.side.push((side, batch));
        }
    }

    /// Whether nothing was emitted.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.side.is_empty()
    }
}

/// What an operator reports when the job ends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperatorReport {
    /// Digest and size of the broadcast state (broadcast operators).
    pub broadcast_state: Option<(u64, usize)>,
}

/// Why an operator's inputs are done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// The input ended: the watermark reached the end of time, every window fires.
    Drained,
    /// The job was stopped before the end of its input: what was read is processed, but
    /// windows that have not ended stay unfired (counted, not emitted as if complete).
    Stopped,
}

/// Where and for which snapshot an operator saves its state.
#[derive(Debug, Clone)]
pub struct SnapshotContext<'a> {
    /// The snapshot's id.
    pub id: u64,
    /// The snapshot's folder.
    pub dir: &'a std::path::Path,
    /// What the instance's files in it are named from (`<uid>-<subtask>`).
    pub prefix: &'a str,
}

/// A task's handling of one kind of node.
pub trait Operator: Send {
    /// Handles data arriving on `input`.
    fn process(&mut self, input: Input, data: Data, out: &mut Collector) -> Result<()>;

    /// The input watermark advanced to `wm`. By default it is passed on.
    fn on_watermark(&mut self, wm: i64, out: &mut Collector) -> Result<()> {
        out.watermark(wm);
        Ok(())
    }

    /// Processing time is now `now_ms` (called regularly while the task runs).
    fn on_processing_time(&mut self, now_ms: i64, out: &mut Collector) -> Result<()> {
        let _ = (now_ms, out);
        Ok(())
    }

    /// Every input is done (see [`Finish`]); emit what remains.
    fn finish(&mut self, how: Finish, out: &mut Collector) -> Result<()> {
        let _ = (how, out);
        Ok(())
    }

    /// The job is ending; report what the summary shows.
    fn report(&self) -> OperatorReport {
        OperatorReport::default()
    }

    /// A snapshot is about to save the instance's keyed state. Returns the entries the
    /// operator holds in memory instead of in the backend (a write-back cache), encoded
    /// (see [`crate::state::snapshot::encode_overlay`]): the snapshot saves them beside
    /// the backend's files, off the task's thread, so the task goes on at once.
    fn prepare_snapshot(&mut self) -> Result<Vec<u8>> {
        Ok(Vec::new())
    }

    /// Saves what the operator keeps besides keyed state, at a barrier.
    fn snapshot(&mut self, cx: &SnapshotContext<'_>) -> Result<crate::checkpoint::OperatorState> {
        let _ = cx;
        Ok(crate::checkpoint::OperatorState::None)
    }

    /// What the operator keeps once its input has ended and it has finished: part of
    /// every snapshot taken after (no keyed state: a finished operator needs none).
    fn final_state(&mut self) -> Result<crate::checkpoint::OperatorState> {
        Ok(crate::checkpoint::OperatorState::None)
    }

    /// Switches to another version of the operator's function (at a swap barrier),
    /// keeping the operator's state.
    fn replace_function(&mut self, f: Function) -> Result<()> {
        let _ = f;
        anyhow::bail!("this node runs no function")
    }

    /// Snapshot `id` completed: what waited for it may become visible (a sink's parts).
    fn checkpoint_complete(&mut self, id: u64) -> Result<()> {
        let _ = id;
        Ok(())
    }
}
