//! Reading lines from files, a watermark per split.
//!
//! A reader holds several splits open at once and reads a batch at a time from the split
//! whose watermark is lowest, so splits advance together in event time. Its watermark is
//! the minimum over its splits that are neither finished nor idle: a reader that reads
//! several files (or parts of one) counts every event, instead of racing one file ahead
//! and turning the next file's events late.

mod split_reader;

use std::collections::VecDeque;
use std::sync::Arc;

use anyhow::Result;

use super::source::{Source, SourceEvent, advance_watermark, carried_watermark, watermark_lag};
use super::splits::Split;
use crate::manifest::{EventTime, FileFormat, TimestampFrom};
use crate::record::Batch;
use crate::runtime::{Clock, NodeMetrics};
use split_reader::SplitReader;

/// A parallel reader of a file source.
pub struct FileSource {
    splits: Vec<SplitReader>,
    format: FileFormat,
    follow: bool,
    event_time: Option<EventTime>,
    batch_size: usize,
    clock: Arc<dyn Clock>,
    metrics: Arc<NodeMetrics>,
    queue: VecDeque<SourceEvent>,
    started: bool,
    emitted: i64,
    idle: bool,
    caught_up: bool,
    next: usize,
    missing_timestamps: u64,
    /// The split the last batch came from.
    last: Option<usize>,
}

impl FileSource {
    /// A reader of `splits`.
    pub fn new(
        splits: Vec<Split>,
        format: FileFormat,
        follow: bool,
        event_time: Option<EventTime>,
        batch_size: usize,
        clock: Arc<dyn Clock>,
        metrics: Arc<NodeMetrics>,
    ) -> Self {
        let now = clock.now_ms();
        Self {
            splits: splits
                .into_iter()
                .map(|s| SplitReader::new(s, now))
                .collect(),
            format,
            follow,
            event_time,
            batch_size,
            clock,
            metrics,
            queue: VecDeque::new(),
            started: false,
            emitted: i64::MIN,
            idle: false,
            caught_up: false,
            next: 0,
            missing_timestamps: 0,
            last: None,
        }
    }

    fn lag(&self) -> i64 {
        watermark_lag(self.event_time.as_ref())
    }

    /// The next event.
    pub fn next_event(&mut self) -> Result<SourceEvent> {
        if let Some(e) = self.queue.pop_front() {
            return Ok(e);
        }
        if !self.started {
            self.started = true;
            if self.event_time.is_none() {
                // No timestamps, so nothing from here can be late: never hold others back.
                self.emitted = i64::MAX;
                return Ok(SourceEvent::Watermark(i64::MAX));
            }
            // Restored splits resume with the watermark they had.
            self.advance_watermark();
            if let Some(e) = self.queue.pop_front() {
                return Ok(e);
            }
        }
        let now = self.clock.now_ms();
        let Some(i) = self.pick() else {
            if !self.caught_up {
                self.caught_up = true;
                self.queue.push_back(SourceEvent::End);
                return Ok(SourceEvent::CaughtUp);
            }
            return Ok(SourceEvent::End);
        };
        let batch = self.read(i, now)?;
        self.last = Some(i);
        if batch.is_empty() {
            // Watermark markers alone still move the watermark.
            self.advance_watermark();
            if let Some(e) = self.queue.pop_front() {
                return Ok(e);
            }
            if self.follow && self.splits.iter().all(|s| s.done || s.at_eof) {
                if !self.caught_up {
                    self.caught_up = true;
                    self.queue.push_back(SourceEvent::CaughtUp);
                }
                self.check_idle(now);
                if let Some(e) = self.queue.pop_front() {
                    return Ok(e);
                }
                return Ok(SourceEvent::Pending);
            }
            return self.next_event();
        }
        self.metrics.records_in.add(batch.len() as u64);
        self.queue.push_back(SourceEvent::Data(batch));
        self.advance_watermark();
        Ok(self.queue.pop_front().expect("just queued"))
    }

    /// A reader resuming restored splits (see [`snapshot`](Self::snapshot)).
    #[allow(clippy::too_many_arguments)]
    pub fn restored(
        splits: Vec<crate::checkpoint::SplitState>,
        format: FileFormat,
        follow: bool,
        event_time: Option<EventTime>,
        batch_size: usize,
        clock: Arc<dyn Clock>,
        metrics: Arc<NodeMetrics>,
    ) -> Self {
        let now = clock.now_ms();
        let mut s = Self::new(
            Vec::new(),
            format,
            follow,
            event_time,
            batch_size,
            clock,
            metrics,
        );
        s.splits = splits
            .iter()
            .map(|st| SplitReader::restored(st, now))
            .collect();
        s
    }

    /// Where the reader is in each split (at a barrier: between batches).
    pub fn snapshot(&self) -> Vec<crate::checkpoint::SplitState> {
        self.splits.iter().map(SplitReader::state).collect()
    }

    /// Whether the function reading this source sets its timestamps (see
    /// [`observe`](Self::observe)).
    pub fn timestamps_from_function(&self) -> bool {
        self.event_time
            .as_ref()
            .is_some_and(|e| e.from == TimestampFrom::Function)
    }

    /// The function that read the last batch emitted records up to `max_timestamp`: the
    /// batch's split advances by it (when timestamps come from the function).
    pub fn observe(&mut self, max_timestamp: i64) {
        if let Some(i) = self.last {
            let s = &mut self.splits[i];
            s.max_ts = s.max_ts.max(max_timestamp);
            self.advance_watermark();
        }
    }

    /// The open split with the lowest watermark (round robin among equals), preferring
    /// splits with data waiting. Splits at the end of their (followed) file are polled
    /// in turn, whatever their watermark: a silent split, whose watermark is the lowest,
    /// must not keep the others from being read.
    fn pick(&mut self) -> Option<usize> {
        let n = self.splits.len();
        let lag = self.lag();
        let candidates = (0..n)
            .map(|k| (self.next + k) % n)
            .filter(|&i| !self.splits[i].done);
        let best = candidates.min_by_key(|&i| {
            let s = &self.splits[i];
            (s.at_eof, if s.at_eof { 0 } else { s.watermark(lag) })
        })?;
        self.next = (best + 1) % n.max(1);
        Some(best)
    }

    /// Reads a batch from split `i`. With watermarks carried by records, the batch ends
    /// after a record that moves the split's watermark, so the watermark follows it
    /// before anything read after it (whatever the batch size).
    fn read(&mut self, i: usize, now: i64) -> Result<Batch> {
        let mut batch = Batch::with_capacity(self.batch_size, self.batch_size * 256);
        let format = self.format;
        let event_time = self.event_time.as_ref();
        let from = event_time.map(|e| &e.from);
        let carries = event_time.is_some_and(|e| e.record_watermarks.is_some());
        let mut max_ts = i64::MIN;
        let mut missing = 0u64;
        let mut markers = 0u64;
        let split = &mut self.splits[i];
        let mut blank = 0u64;
        let mut carried = split.max_ts;
        let mut read_any = false;
        split.read_lines(self.batch_size, self.follow, |line| {
            if format == FileFormat::JsonLines && line.iter().all(u8::is_ascii_whitespace) {
                blank += 1;
                return true;
            }
            read_any = true;
            let mut go_on = true;
            if let Some((w, marker)) = carried_watermark(event_time, line) {
                go_on = w <= carried;
                carried = carried.max(w);
                if marker {
                    markers += 1;
                    return go_on;
                }
            }
            let ts = match from {
                // Kafka timestamps are refused for file sources by the manifest checks.
                None | Some(TimestampFrom::Function | TimestampFrom::Kafka) => None,
                Some(TimestampFrom::Ingestion) => Some(now),
                Some(TimestampFrom::Field(path)) => {
                    match path.find(line).ok().and_then(|f| f.epoch_millis().ok()) {
                        Some(t) => Some(t),
                        None => {
                            missing += 1;
                            None
                        }
                    }
                }
            };
            if let Some(t) = ts {
                max_ts = max_ts.max(t);
            }
            batch.push(None, line, ts);
            go_on
        })?;
        if read_any {
            split.max_ts = if carries {
                carried
            } else {
                split.max_ts.max(max_ts)
            };
            split.idle = false;
            split.last_data_ms = now;
            if self.idle {
                self.idle = false;
            }
        }
        self.metrics.watermark_markers.add(markers);
        self.metrics.blank_lines.add(blank);
        if missing > 0 {
            if self.missing_timestamps == 0 {
                tracing::warn!(
                    "{}: records without a readable event time pass on without a timestamp",
                    split.split.path.display()
                );
            }
            self.missing_timestamps += missing;
            self.metrics.missing_timestamps.add(missing);
        }
        Ok(batch)
    }

    fn check_idle(&mut self, now: i64) {
        let Some(timeout) = self.event_time.as_ref().and_then(|e| e.idle_timeout_ms) else {
            return;
        };
        let mut changed = false;
        for s in &mut self.splits {
            if !s.done && !s.idle && s.at_eof && now - s.last_data_ms >= timeout as i64 {
                s.idle = true;
                changed = true;
            }
        }
        if changed {
            self.advance_watermark();
        }
        let open: Vec<&SplitReader> = self.splits.iter().filter(|s| !s.done).collect();
        if !self.idle && !open.is_empty() && open.iter().all(|s| s.idle) {
            self.idle = true;
            self.queue.push_back(SourceEvent::Idle);
        }
    }

    fn advance_watermark(&mut self) {
        if self.event_time.is_none() {
            return;
        }
        let lag = self.lag();
        let active = self
            .splits
            .iter()
            .filter(|s| !s.done && !s.idle)
            .map(|s| s.watermark(lag));
        if let Some(wm) = advance_watermark(active, &mut self.emitted) {
            self.queue.push_back(SourceEvent::Watermark(wm));
        }
    }
}

impl Source for FileSource {
    fn next_event(&mut self) -> Result<SourceEvent> {
        FileSource::next_event(self)
    }

    fn positions(&self) -> crate::checkpoint::OperatorState {
        crate::checkpoint::OperatorState::Source {
            splits: self.snapshot(),
        }
    }

    fn timestamps_from_function(&self) -> bool {
        FileSource::timestamps_from_function(self)
    }

    fn observe(&mut self, max_timestamp: i64) {
        FileSource::observe(self, max_timestamp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connector::plan_splits;
    use crate::record::json_field::FieldPath;
    use crate::runtime::SystemClock;

    fn drain(src: &mut FileSource) -> (Vec<String>, Vec<i64>) {
        let (mut lines, mut wms) = (Vec::new(), Vec::new());
        loop {
            match src.next_event().unwrap() {
                SourceEvent::Data(b) => lines.extend(
                    b.iter()
                        .map(|r| String::from_utf8(r.value.to_vec()).unwrap()),
                ),
                SourceEvent::Watermark(w) => wms.push(w),
                SourceEvent::End => return (lines, wms),
                _ => {}
            }
        }
    }

    fn source(splits: Vec<Split>, event_time: Option<EventTime>) -> FileSource {
        FileSource::new(
            splits,
            FileFormat::JsonLines,
            false,
            event_time,
            3,
            Arc::new(SystemClock),
            Arc::default(),
        )
    }

    #[test]
    fn byte_range_splits_read_every_line_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("in.jsonl");
        let lines: Vec<String> = (0..101)
            .map(|i| format!("{{\"n\":{i},\"pad\":\"{}\"}}", "x".repeat(i % 7)))
            .collect();
        std::fs::write(&f, lines.join("\n")).unwrap(); // no final newline
        for p in [1, 2, 3, 7, 40] {
            let mut all = Vec::new();
            let splits = plan_splits(&f, p, false).unwrap();
            for s in splits {
                all.extend(drain(&mut source(vec![s], None)).0);
            }
            all.sort_by_key(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["n"]
                    .as_i64()
                    .unwrap()
            });
            assert_eq!(all, lines, "parallelism {p}");
        }
    }

    #[test]
    fn a_silent_followed_file_does_not_keep_the_others_from_being_read() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::write(&a, "{\"t\":1000}\n").unwrap();
        std::fs::write(dir.path().join("b"), "").unwrap();
        let et = EventTime {
            from: TimestampFrom::Field(FieldPath::parse("t").unwrap()),
            max_out_of_orderness_ms: 0,
            idle_timeout_ms: None,
            record_watermarks: None,
        };
        let splits = plan_splits(dir.path(), 1, true).unwrap();
        let mut src = FileSource::new(
            splits,
            FileFormat::JsonLines,
            true,
            Some(et),
            3,
            Arc::new(SystemClock),
            Arc::default(),
        );
        let read = |src: &mut FileSource| {
            // Both files are at their end after a few polls; `b`, silent, has the lower
            // watermark.
            let mut lines = 0;
            for _ in 0..20 {
                if let SourceEvent::Data(b) = src.next_event().unwrap() {
                    lines += b.len();
                }
            }
            lines
        };
        assert_eq!(read(&mut src), 1);
        std::fs::OpenOptions::new()
            .append(true)
            .open(&a)
            .and_then(|mut f| std::io::Write::write_all(&mut f, b"{\"t\":2000}\n"))
            .unwrap();
        assert_eq!(read(&mut src), 1, "the line appended to `a` is read");
    }

    #[test]
    fn the_watermark_is_the_minimum_over_splits() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(
            &a,
            (0..10)
                .map(|i| format!("{{\"t\":{}}}\n", 1000 + i))
                .collect::<String>(),
        )
        .unwrap();
        std::fs::write(
            &b,
            (0..10)
                .map(|i| format!("{{\"t\":{}}}\n", 5000 + i))
                .collect::<String>(),
        )
        .unwrap();
        let et = EventTime {
            from: TimestampFrom::Field(FieldPath::parse("t").unwrap()),
            max_out_of_orderness_ms: 100,
            idle_timeout_ms: None,
            record_watermarks: None,
        };
        let splits = plan_splits(dir.path(), 1, false).unwrap();
        let (lines, wms) = drain(&mut source(splits, Some(et)));
        assert_eq!(lines.len(), 20);
        assert!(wms.windows(2).all(|w| w[0] < w[1]), "{wms:?}");
        // Split b is far ahead, but while a is open the watermark follows a.
        assert!(wms.iter().filter(|&&w| w < 4000).count() >= 2, "{wms:?}");
        // Once a is done, b alone leads; b's last batch finishes it, and the end of the
        // reader (not a watermark) then releases everything downstream.
        assert!(wms.iter().any(|&w| w > 5000 - 100 - 1), "{wms:?}");
        assert!(*wms.last().unwrap() < 5009 - 100, "{wms:?}");
    }

    #[test]
    fn when_every_split_is_idle_the_watermark_stays_and_the_reader_reports_idle() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), "{\"t\":1000}\n").unwrap();
        std::fs::write(dir.path().join("b"), "{\"t\":5000}\n").unwrap();
        let clock = crate::runtime::ManualClock::new(0);
        let et = EventTime {
            from: TimestampFrom::Field(FieldPath::parse("t").unwrap()),
            max_out_of_orderness_ms: 0,
            idle_timeout_ms: Some(10),
            record_watermarks: None,
        };
        let splits = plan_splits(dir.path(), 1, true).unwrap();
        let mut src = FileSource::new(
            splits,
            FileFormat::JsonLines,
            true,
            Some(et),
            10,
            clock.clone(),
            Arc::default(),
        );
        let mut wms = Vec::new();
        let mut idle = false;
        for step in 0..50 {
            if step == 10 {
                clock.advance(1_000);
            }
            match src.next_event().unwrap() {
                SourceEvent::Watermark(w) => wms.push(w),
                SourceEvent::Idle => idle = true,
                SourceEvent::End => panic!("followed files do not end"),
                _ => {}
            }
        }
        assert!(idle, "both splits went idle");
        assert_eq!(
            wms.last(),
            Some(&999),
            "split a holds the watermark; going idle does not lift it to b's: {wms:?}"
        );
    }

    #[test]
    fn marker_records_end_the_batch_move_the_watermark_and_are_taken_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a"),
            "{\"t\":1}\n{\"wm\":10}\n{\"t\":2}\n{\"wm\":5}\n{\"t\":3}\n{\"wm\":20}\n",
        )
        .unwrap();
        let et = EventTime {
            from: TimestampFrom::Field(FieldPath::parse("t").unwrap()),
            max_out_of_orderness_ms: 0,
            idle_timeout_ms: None,
            record_watermarks: Some(crate::manifest::RecordWatermarks {
                field: FieldPath::parse("wm").unwrap(),
                markers: true,
            }),
        };
        let metrics: Arc<NodeMetrics> = Arc::default();
        let mut src = FileSource::new(
            plan_splits(dir.path(), 1, false).unwrap(),
            FileFormat::JsonLines,
            false,
            Some(et),
            1024,
            Arc::new(SystemClock),
            metrics.clone(),
        );
        let mut events = Vec::new();
        loop {
            match src.next_event().unwrap() {
                SourceEvent::Data(b) => events.push(format!(
                    "data {:?}",
                    b.iter().map(|r| r.timestamp).collect::<Vec<_>>()
                )),
                SourceEvent::Watermark(w) => events.push(format!("wm {w}")),
                SourceEvent::End => break,
                _ => {}
            }
        }
        // A marker that moves the watermark ends the batch; one below it (5) does not.
        assert_eq!(
            events,
            [
                "data [Some(1)]",
                "wm 10",
                "data [Some(2), Some(3)]",
                "wm 20"
            ],
        );
        assert_eq!(metrics.watermark_markers.get(), 3);
        assert_eq!(metrics.records_in.get(), 3);
    }
}
