//! Process-window functions, and incremental aggregates of window contents.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::batch::{BatchView, KeyTableView, Values, offset};
use crate::context::InitContext;
use crate::error::{Error, Result};
use crate::output::{Output, RecordError};
use crate::record::Record;
use crate::state::{self, TimeWindow};

/// A window that fires: its key, bounds and elements.
#[derive(Debug, Clone, Copy)]
pub struct FiredWindow<'a> {
    /// The window's key.
    pub key: &'a [u8],
    /// The window's bounds.
    pub window: TimeWindow,
    /// Whether the window fired before and fires again with late elements.
    pub update: bool,
    /// Where this firing stands relative to the window's end: early (a partial result of
    /// a count or continuous trigger), on time, or late.
    pub timing: Timing,
    /// The window's elements; with an incremental aggregate, one element holding the
    /// accumulator (read it with [`Elements::accumulator`]).
    pub elements: Elements<'a>,
}

impl FiredWindow<'_> {
    /// The key as UTF-8 text.
    pub fn key_str(&self) -> Result<&str> {
        Ok(std::str::from_utf8(self.key)?)
    }
}

/// The elements of a fired window.
#[derive(Debug, Clone, Copy)]
pub struct Elements<'a> {
    batch: BatchView<'a>,
    first: usize,
    count: usize,
}

impl<'a> Elements<'a> {
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether the window has no elements.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Element `i`.
    pub fn get(&self, i: usize) -> Record<'a> {
        assert!(i < self.count, "element {i} of {}", self.count);
        self.batch.get(self.first + i)
    }

    /// The elements in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Record<'a>> + '_ {
        (0..self.count).map(|i| self.get(i))
    }

    /// The window's accumulator, when the operator aggregates incrementally: the built-in
    /// `count` gives a `u64`; an aggregate function gives its `Acc`.
    pub fn accumulator<T: DeserializeOwned>(&self) -> Result<T> {
        if self.count != 1 {
            return Err(Error::msg(format_args!(
                "expected one accumulator element, the window has {}",
                self.count
            )));
        }
        Ok(serde_json::from_slice(self.get(0).value)?)
    }
}

/// A process-window function (Flink's `ProcessWindowFunction`): called once per fired
/// window with all its elements (or its accumulator); may use keyed state of the
/// window's key, global or per window.
pub trait ProcessWindow: Sized + 'static {
    /// Creates the function instance: read config and files, declare state.
    fn init(ctx: &InitContext) -> Result<Self>;

    /// Handles one fired window.
    fn process(&mut self, window: &FiredWindow<'_>, out: &mut Output) -> Result<()>;
}

/// Incremental aggregation of a window's elements (Flink's `AggregateFunction`), so the
/// host keeps one accumulator per window instead of every element. Used when the
/// operator's manifest says `aggregate = "function"`; export it with
/// `export_window!(MyFn, aggregate)`.
pub trait WindowAggregate: ProcessWindow {
    /// The accumulator, stored as JSON between elements.
    type Acc: Serialize + DeserializeOwned + Default;

    /// Folds one element into an accumulator.
    fn add(&self, acc: &mut Self::Acc, element: &Record<'_>) -> Result<()>;

    /// Folds `other` into `acc` (session windows that merge).
    fn merge(&self, acc: &mut Self::Acc, other: Self::Acc);
}

/// One fired window of a call, as the host describes it.
#[derive(Debug, Clone, Copy)]
pub struct WindowSpec {
    /// Bounds.
    pub window: TimeWindow,
    /// First element index in the call's element batch.
    pub first: u32,
    /// Number of elements.
    pub count: u32,
    /// Whether this is a re-firing.
    pub update: bool,
    /// Early, on time or late.
    pub timing: Timing,
}

/// Where a window's firing stands relative to the window's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Timing {
    /// Before the end: a partial result.
    Early,
    /// At the end.
    OnTime,
    /// After the end: late elements updated the window.
    Late,
}

/// Runs `f` over the windows of one call, as the host's `process` call does.
pub fn process_windows<W: ProcessWindow>(
    f: &mut W,
    keys: KeyTableView<'_>,
    windows: &[WindowSpec],
    elements: BatchView<'_>,
    out: &mut Output,
) {
    let scopes = windows
        .iter()
        .enumerate()
        .map(|(i, w)| (keys.of_record[i], w.window))
        .collect();
    state::begin_call(Some(offset(keys.len())), scopes);
    for (i, w) in windows.iter().enumerate() {
        out.set_current(i);
        let key = keys.of_record[i];
        state::with_call(|c| c.set_current(Some(key), Some(w.window)));
        let fired = FiredWindow {
            key: keys.key(key as usize),
            window: w.window,
            update: w.update,
            timing: w.timing,
            elements: Elements {
                batch: elements,
                first: w.first as usize,
                count: w.count as usize,
            },
        };
        if let Err(e) = f.process(&fired, out) {
            out.fail_current(e);
        }
    }
    state::end_call();
}

/// Folds the elements of each window of one call into its accumulator, as the host's
/// `aggregate` call does. Returns the new accumulators and the elements that failed.
///
/// # Panics
/// If a stored accumulator is not valid JSON for `A::Acc` (the call then fails whole).
pub fn aggregate<A: WindowAggregate>(
    f: &A,
    folds: &[WindowSpec],
    accumulators: &Values,
    elements: BatchView<'_>,
) -> (Values, Vec<RecordError>) {
    let mut out = Values::default();
    let mut errors = Vec::new();
    for (i, fold) in folds.iter().enumerate() {
        let mut acc: A::Acc = match accumulators.get(i) {
            Some(bytes) => serde_json::from_slice(bytes)
                .unwrap_or_else(|e| panic!("stored accumulator is not valid: {e}")),
            None => A::Acc::default(),
        };
        let first = fold.first as usize;
        for j in first..first + fold.count as usize {
            if let Err(e) = f.add(&mut acc, &elements.get(j)) {
                errors.push(RecordError {
                    index: offset(j),
                    message: e.message().to_owned(),
                });
            }
        }
        let bytes = serde_json::to_vec(&acc)
            .unwrap_or_else(|e| panic!("accumulator does not serialize: {e}"));
        out.push(Some(&bytes));
    }
    (out, errors)
}

/// Merges runs of accumulators: `groups[i]` consecutive accumulators become result `i`.
pub fn merge<A: WindowAggregate>(f: &A, accumulators: &Values, groups: &[u32]) -> Result<Values> {
    let mut out = Values::default();
    let mut next = 0usize;
    for &n in groups {
        let mut acc = A::Acc::default();
        for i in next..next + n as usize {
            if let Some(bytes) = accumulators.get(i) {
                f.merge(&mut acc, serde_json::from_slice(bytes)?);
            }
        }
        next += n as usize;
        out.push(Some(&serde_json::to_vec(&acc)?));
    }
    Ok(out)
}
