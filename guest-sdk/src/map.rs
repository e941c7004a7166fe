//! Map functions: records in, zero or more records out for each.

use crate::batch::{BatchView, KeyTableView, offset};
use crate::context::InitContext;
use crate::error::Result;
use crate::output::Output;
use crate::record::Record;
use crate::state;

/// A map function (Flink's `MapFunction`, `FlatMapFunction` and, on keyed input with
/// state, `KeyedProcessFunction`).
///
/// For each input record it emits any number of records into `out`. Returning an error
/// sends that record to the operator's error policy and goes on with the next one.
///
/// ```
/// use weir_sdk::{InitContext, Map, Output, Record, Result};
///
/// struct Upper;
///
/// impl Map for Upper {
///     fn init(_: &InitContext) -> Result<Self> {
///         Ok(Upper)
///     }
///
///     fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
///         out.emit(record.text()?.to_uppercase());
///         Ok(())
///     }
/// }
/// # weir_sdk::export_map!(Upper);
/// ```
pub trait Map: Sized + 'static {
    /// Creates the function instance: read config and files, declare state.
    fn init(ctx: &InitContext) -> Result<Self>;

    /// Handles one record.
    fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()>;
}

/// Runs `f` over one batch, as the host's `process` call does.
pub fn process_batch<M: Map>(
    f: &mut M,
    input: BatchView<'_>,
    keys: Option<KeyTableView<'_>>,
    out: &mut Output,
) {
    for_each_record(input, keys, out, |record, out| f.map(record, out));
}

/// Calls `each` for every record of a batch with keyed state scoped to the record's key,
/// collecting failures as record errors, and hands the call's state writes to the host.
pub(crate) fn for_each_record(
    input: BatchView<'_>,
    keys: Option<KeyTableView<'_>>,
    out: &mut Output,
    mut each: impl FnMut(&Record<'_>, &mut Output) -> Result<()>,
) {
    state::begin_call(keys.map(|k| offset(k.len())), Vec::new());
    for i in 0..input.len() {
        out.set_current(i);
        if let Some(k) = keys {
            state::with_call(|c| c.set_current(Some(k.of_record[i]), None));
        }
        if let Err(e) = each(&input.get(i), out) {
            out.fail_current(e);
        }
    }
    state::end_call();
}
