//! What a source task reads, whatever the source: the events a reader produces and the
//! calls a task makes on it.

use anyhow::Result;

use crate::checkpoint::OperatorState;
use crate::manifest::EventTime;
use crate::record::Batch;

/// What a source produces.
#[derive(Debug)]
pub enum SourceEvent {
    /// Records.
    Data(Batch),
    /// The reader's watermark advanced.
    Watermark(i64),
    /// Every split still open is idle.
    Idle,
    /// Everything the source held at the start has been read.
    CaughtUp,
    /// Nothing more will come.
    End,
    /// Nothing available right now (following growing files, waiting on a topic).
    Pending,
}

/// One parallel reader of a source: a file source or a Kafka source. A source task
/// calls it between batches; barriers are injected between two calls of
/// [`next_event`](Source::next_event), so [`positions`](Source::positions) is where the
/// next batch starts.
pub trait Source: Send {
    /// The next event.
    fn next_event(&mut self) -> Result<SourceEvent>;

    /// Where the reader is in each of its splits (what a checkpoint records).
    fn positions(&self) -> OperatorState;

    /// Whether the function reading this source sets its timestamps (see
    /// [`observe`](Source::observe)).
    fn timestamps_from_function(&self) -> bool;

    /// The function that read the last batch emitted records up to `max_timestamp`: the
    /// batch's split advances by it (when timestamps come from the function).
    fn observe(&mut self, max_timestamp: i64);

    /// Snapshot `id`, the latest this reader took, completed. By default nothing
    /// happens; a Kafka source commits the snapshot's offsets to its consumer group.
    fn checkpoint_complete(&mut self, id: u64) -> Result<()> {
        let _ = id;
        Ok(())
    }
}

/// A reader's watermark from those of its splits (or partitions) still active: their
/// minimum, if it passed `emitted` (which it then becomes). With no split active the
/// watermark stays where it is: idle splits may resume with data it must not have
/// passed (the reader reports itself idle instead), and finished ones release it when
/// the reader ends.
pub(crate) fn advance_watermark(
    active: impl Iterator<Item = i64>,
    emitted: &mut i64,
) -> Option<i64> {
    let wm = active.min()?;
    (wm > *emitted).then(|| {
        *emitted = wm;
        wm
    })
}

/// How far a split's watermark is below the largest value it has seen: a watermark
/// bounded by out-of-orderness lags the largest timestamp by the bound plus 1 ms (an
/// element at the watermark would be late); a watermark carried by records is taken as it
/// is.
pub(crate) fn watermark_lag(event_time: Option<&EventTime>) -> i64 {
    match event_time {
        Some(e) if e.record_watermarks.is_some() => 0,
        Some(e) => (e.max_out_of_orderness_ms as i64).saturating_add(1),
        None => 1,
    }
}

/// The watermark a record carries under the source's `watermark_field`, and whether the
/// record is a marker (carries only that). A record without the field, or whose field is
/// not epoch milliseconds, carries none and is data.
pub(crate) fn carried_watermark(
    event_time: Option<&EventTime>,
    value: &[u8],
) -> Option<(i64, bool)> {
    let rw = event_time?.record_watermarks.as_ref()?;
    let w = rw.field.find(value).ok()?.epoch_millis().ok()?;
    Some((w, rw.markers))
}
