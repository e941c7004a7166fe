//! The window operator: keyed tumbling, sliding, session and count windows in event or
//! processing time, with triggers, allowed lateness, a late-data output, and optional
//! incremental aggregation; fired windows go to a process-window function.
//!
//! Semantics follow Flink's: by default an event-time window fires when the watermark
//! reaches its last instant (`end - 1`); its state is kept until the watermark passes
//! that instant plus the allowed lateness, and each element arriving in between fires it
//! again with the update. An element whose every window is past that point goes to the
//! late output. Other triggers fire on counts or periodically; a firing that depends on
//! elements happens exactly after the element, whatever the batch size.

mod aggregate;
mod aligned;
mod aligned_op;
mod cache;
mod count;
pub mod elements;
mod fire;
mod restore;
mod sessions;
mod store;
mod triggers;

use std::sync::Arc;

use anyhow::{Result, bail};

pub use store::RESERVED;

use aggregate::Group;
use fire::{FiredSet, Pane};
use store::{Key, WindowState};
use triggers::TriggerState;

use super::dead_letter::ErrorHandler;
use super::function::WindowFunction;
use super::map::reject_unkeyed;
use super::{Collector, Finish, Input, Operator, Side};
use crate::hash::{FastMap, FastSet};
use crate::manifest::{TimeDomain, WindowAggregateKind, WindowKind};
use crate::record::{Batch, RecordRef};
use crate::runtime::{Clock, Data, KeyedBatch, NodeMetrics};
use crate::state::{KeyedState, WriteOp};
use crate::time::{
    MAX_TIMESTAMP, MIN_TIMESTAMP, TimerKind, Timers, Timing, Trigger, Window, assign, in_range,
    is_late, max_timestamp,
};

/// How a window operator is set up.
#[derive(Debug, Clone, Copy)]
pub struct WindowSpec {
    /// The assigner.
    pub kind: WindowKind,
    /// Event or processing time.
    pub time: TimeDomain,
    /// Incremental aggregate, if any.
    pub aggregate: Option<WindowAggregateKind>,
    /// Allowed lateness in milliseconds.
    pub allowed_lateness: i64,
    /// When windows fire.
    pub trigger: Trigger,
    /// Mark emitted records with their firing's timing.
    pub pane_header: bool,
    /// Which elements a firing keeps (windows that keep their elements).
    pub evictor: Option<crate::time::Evictor>,
    /// Bytes of accumulators this instance keeps in memory before writing them back.
    pub cache_bytes: usize,
}

/// Runs windows and a process-window function.
pub struct WindowOperator {
    spec: WindowSpec,
    function: Box<dyn WindowFunction>,
    errors: ErrorHandler,
    clock: Arc<dyn Clock>,
    metrics: Arc<NodeMetrics>,
    st: WindowState,
    /// Timers in the windows' own time.
    timers: Timers,
    /// Processing-time timers of event-time windows (a continuous processing-time
    /// trigger's firings).
    ptimers: Timers,
    /// Windows that fired and still have state (a late element fires them again).
    fired: FastSet<(Vec<u8>, Window)>,
    /// What the trigger keeps per window (count and continuous triggers).
    trig: FastMap<(Vec<u8>, Window), TriggerState>,
    watermark: i64,
    scratch: Vec<Window>,
    /// Accumulators of aligned windows that fire once, window by window (then `timers`,
    /// `fired` and `trig` stay empty).
    aligned: Option<aligned::Aligned>,
}

impl WindowOperator {
    /// A window operator over `keyed` state.
    pub fn new(
        spec: WindowSpec,
        function: Box<dyn WindowFunction>,
        errors: ErrorHandler,
        keyed: KeyedState,
        clock: Arc<dyn Clock>,
        metrics: Arc<NodeMetrics>,
    ) -> Result<Self> {
        Ok(Self {
            spec,
            function,
            errors,
            clock,
            metrics,
            st: WindowState::new(keyed, spec.cache_bytes)?,
            timers: Timers::default(),
            ptimers: Timers::default(),
            fired: FastSet::default(),
            trig: FastMap::default(),
            watermark: i64::MIN,
            scratch: Vec::new(),
            aligned: aligned_path(&spec)
                .map(|counting| aligned::Aligned::new(counting, spec.cache_bytes)),
        })
    }

    fn event_time(&self) -> bool {
        self.spec.time == TimeDomain::Event
    }

    /// The time an element counts at, or `None` (it went to the error policy).
    fn time_of(&self, r: &RecordRef<'_>, now: i64, out: &mut Collector) -> Result<Option<i64>> {
        if !self.event_time() {
            return Ok(Some(now));
        }
        let why = match r.timestamp {
            Some(t) if in_range(t) => return Ok(Some(t)),
            Some(t) => format!(
                "the record's event timestamp {t} is outside the range windows take ({MIN_TIMESTAMP}..={MAX_TIMESTAMP} ms)"
            ),
            None => "the record has no event timestamp (see the source's event_time)".to_owned(),
        };
        self.errors.failed(r, &why, out)?;
        self.errors.count_rejected(1);
        Ok(None)
    }

    /// An element no window took: late (to the late output) or between sliding windows
    /// (dropped, counted: the rule of a slide longer than the size).
    fn unplaced(&mut self, r: &RecordRef<'_>, t: i64, out: &mut Collector) {
        if self.event_time() && t.saturating_add(self.spec.allowed_lateness) <= self.watermark {
            let mut b = Batch::default();
            b.push_record(r);
            self.metrics.late.add(1);
            out.side(Side::Late, b);
        } else {
            self.metrics.dropped.add(1);
        }
    }

    /// Registers a window's timers (unless `known`: a window that had state has them):
    /// its firing at the end, when its trigger fires there and the end has not passed (a
    /// late element fires it itself, as Flink's event-time trigger), and its cleanup.
    fn schedule(&mut self, key: &Key, w: Window, known: bool) {
        if known {
            return;
        }
        let fire_at = max_timestamp(&w);
        let past_end = self.event_time() && fire_at <= self.watermark;
        if !past_end && self.spec.trigger.fires_at_end(self.event_time()) {
            self.timers
                .register(fire_at, TimerKind::Fire, w, &key.bytes);
        }
        let cleanup_at = fire_at.saturating_add(self.spec.allowed_lateness);
        self.timers
            .register(cleanup_at, TimerKind::Cleanup, w, &key.bytes);
    }

    fn process_time_windows(&mut self, k: KeyedBatch, out: &mut Collector) -> Result<()> {
        if self.aligned.is_some() {
            return self.absorb_aligned(k, out);
        }
        let now = self.clock.now_ms();
        let mut grouper = aggregate::Grouper::default();
        let mut windows = std::mem::take(&mut self.scratch);
        for i in 0..k.batch.len() {
            let r = k.batch.get(i);
            let Some(t) = self.time_of(&r, now, out)? else {
                continue;
            };
            assign(&self.spec.kind, t, &mut windows);
            let mut placed = false;
            for &w in &windows {
                if self.event_time() && is_late(&w, self.spec.allowed_lateness, self.watermark) {
                    continue;
                }
                placed = true;
                grouper.add(&k, i as u32, w);
            }
            if placed {
                self.metrics.absorbed.add(1);
            } else {
                self.unplaced(&r, t, out);
            }
        }
        self.scratch = windows;
        let groups = grouper.finish();
        let cuts = self.cuts(&groups, &k.batch, now);
        if cuts.iter().all(Vec::is_empty) {
            return self.absorb(&groups, &k.batch, out);
        }
        // Some elements fire their window: take the groups in rounds, each up to its next
        // firing, so a firing holds exactly the elements before it.
        let rounds = cuts.iter().map(Vec::len).max().unwrap_or(0) + 1;
        for round in 0..rounds {
            let mut part = Vec::new();
            let mut fire = Vec::new();
            for (g, cuts) in groups.iter().zip(&cuts) {
                let from = match round {
                    0 => 0,
                    r => match cuts.get(r - 1) {
                        Some(&(end, _)) => end,
                        None => continue,
                    },
                };
                let (to, timing) = match cuts.get(round) {
                    Some(&(end, timing)) => (end, Some(timing)),
                    None => (g.records.len(), None),
                };
                if from < to {
                    part.push(Group {
                        key: g.key.clone(),
                        window: g.window,
                        records: g.records[from..to].to_vec(),
                    });
                }
                if let Some(timing) = timing {
                    fire.push((g.key.clone(), g.window, timing));
                }
            }
            self.absorb(&part, &k.batch, out)?;
            self.fire_windows(&fire, out)?;
        }
        Ok(())
    }

    /// Adds groups of elements to their windows (accumulators or contents) and registers
    /// the timers of windows that are new.
    fn absorb(&mut self, groups: &[Group], batch: &Batch, out: &mut Collector) -> Result<()> {
        let (ops, fresh) = match self.spec.aggregate {
            Some(kind) => (Vec::new(), self.fold(groups, batch, kind, out)?),
            None => {
                let mut ops = Vec::new();
                for g in groups {
                    let at = self.st.contents_key(&g.key, &g.window);
                    for &i in &g.records {
                        let e = elements::encode(&batch.get(i as usize));
                        ops.push(WriteOp::Append(
                            at.clone(),
                            crate::state::encode_list_element(&e),
                        ));
                    }
                }
                // Whether a window had elements is not read: register its timers again
                // (a registered timer is kept once).
                (ops, Vec::new())
            }
        };
        self.st.write(ops)?;
        for (i, g) in groups.iter().enumerate() {
            let known = fresh.get(i).is_some_and(|fresh| !fresh);
            self.schedule(&g.key, g.window, known);
        }
        Ok(())
    }

    /// Folds groups of elements into their windows' accumulators; for each group,
    /// whether its window is new.
    fn fold(
        &mut self,
        groups: &[Group],
        batch: &Batch,
        kind: WindowAggregateKind,
        out: &mut Collector,
    ) -> Result<Vec<bool>> {
        aggregate::fold(
            groups,
            batch,
            kind,
            &self.st,
            &mut *self.function,
            &self.errors,
            &self.metrics,
            out,
        )
    }

    /// Fires windows now, with what their state holds (a window with nothing, e.g. purged
    /// since its last firing, emits nothing); a purging trigger then clears them.
    fn fire_windows(
        &mut self,
        windows: &[(Key, Window, Timing)],
        out: &mut Collector,
    ) -> Result<()> {
        if windows.is_empty() {
            return Ok(());
        }
        let mut set = FiredSet::default();
        match self.spec.aggregate {
            Some(_) => {
                let accs = self
                    .st
                    .accumulators_of(windows.iter().map(|(k, w, _)| (k, w)))?;
                for ((key, w, timing), acc) in windows.iter().zip(accs) {
                    let Some(acc) = acc else { continue };
                    let pane = self.pane(key, *w, *timing);
                    let at = Some(max_timestamp(w));
                    set.push_accumulator(&key.bytes, *w, pane, at, &acc);
                }
            }
            None => {
                let mut evicted = Vec::new();
                for (key, w, timing) in windows {
                    let elements = self.st.elements(key, w)?;
                    if elements.is_empty() {
                        continue;
                    }
                    let pane = self.pane(key, *w, *timing);
                    let at = Some(max_timestamp(w));
                    let Some(ev) = self.spec.evictor else {
                        set.push(&key.bytes, *w, pane, at, elements.iter());
                        continue;
                    };
                    let stamps: Vec<Option<i64>> = elements.iter().map(|r| r.timestamp).collect();
                    let keeps = ev.keeps(&stamps);
                    let kept = || {
                        elements
                            .iter()
                            .zip(&keeps)
                            .filter(|(_, k)| **k)
                            .map(|(r, _)| r)
                    };
                    if ev.after {
                        set.push(&key.bytes, *w, pane, at, elements.iter());
                    } else {
                        set.push(&key.bytes, *w, pane, at, kept());
                    }
                    if keeps.iter().any(|k| !k) {
                        evicted.push(self.st.put_elements(key, w, kept()));
                    }
                }
                self.st.write(evicted)?;
            }
        }
        let now = self.clock.now_ms();
        fire::fire(
            set,
            &mut *self.function,
            &self.errors,
            &self.metrics,
            now,
            self.spec.pane_header,
            out,
        )?;
        if self.spec.trigger.purging {
            self.purge(windows.iter().map(|(k, w, _)| (k, w)))?;
        }
        Ok(())
    }

    /// Clears windows' contents or accumulators (their timers and trigger state stay).
    fn purge<'a>(&mut self, windows: impl Iterator<Item = (&'a Key, &'a Window)>) -> Result<()> {
        if self.spec.aggregate.is_some() {
            return self.st.drop_accumulators(windows);
        }
        let ops = windows.map(|(k, w)| self.st.clear(k, w, false)).collect();
        self.st.write(ops)
    }

    /// What a firing of `window` now is (and remembers that it fired).
    fn pane(&mut self, key: &Key, window: Window, timing: Timing) -> Pane {
        Pane {
            update: self.is_update(key, window),
            timing,
        }
    }

    /// Whether a window firing now fired before (and remembers that it fired).
    fn is_update(&mut self, key: &Key, window: Window) -> bool {
        // An event-time window without allowed lateness whose only firing is its end is
        // cleaned up as it fires: nothing fires it again, so it need not be remembered.
        let remember = !self.event_time()
            || self.spec.allowed_lateness > 0
            || self.spec.trigger.kind != crate::time::TriggerKind::EventTime;
        remember && !self.fired.insert((key.bytes.clone(), window))
    }

    /// Fires and cleans up every window whose timers in the windows' own time are due at
    /// `time`, one timer time after the other, so periodic firings those firings
    /// register come in their turn.
    fn advance(&mut self, time: i64, out: &mut Collector) -> Result<()> {
        self.fire_aligned(time, out)?;
        while let Some(t) = self.timers.next_time().filter(|&t| t <= time) {
            let due = self.timers.due(t);
            self.on_timers(due, true, out)?;
        }
        Ok(())
    }

    /// Fires the periodic firings of event-time windows due on the processing clock.
    fn advance_processing(&mut self, now: i64, out: &mut Collector) -> Result<()> {
        while let Some(t) = self.ptimers.next_time().filter(|&t| t <= now) {
            let due = self.ptimers.due(t);
            self.on_timers(due, false, out)?;
        }
        Ok(())
    }

    /// Handles due timers, in the windows' own time (`own`) or the processing-time
    /// timers of event-time windows.
    fn on_timers(
        &mut self,
        due: Vec<crate::time::Timer>,
        own: bool,
        out: &mut Collector,
    ) -> Result<()> {
        let mut fire = Vec::new();
        let mut cleanup = Vec::new();
        for t in due {
            match t.kind {
                TimerKind::Fire => fire.push((self.st.owned_key(t.key), t.window, Timing::OnTime)),
                TimerKind::Periodic if !self.event_time() && t.time > self.clock.now_ms() => {
                    // Draining processing-time windows at the end of the input: their
                    // periodic firings past the present never happen (the end one does).
                }
                TimerKind::Periodic => {
                    self.next_periodic(&t.key, t.window, t.time);
                    // In the window's own time a periodic firing comes before its end.
                    let timing = if own {
                        Timing::Early
                    } else {
                        self.timing_now(&t.window)
                    };
                    fire.push((self.st.owned_key(t.key), t.window, timing));
                }
                TimerKind::Cleanup => cleanup.push((self.st.owned_key(t.key), t.window)),
            }
        }
        self.fire_windows(&fire, out)?;
        let mut ops = Vec::new();
        let aggregating = self.spec.aggregate.is_some();
        if aggregating {
            self.st
                .drop_accumulators(cleanup.iter().map(|(k, w)| (k, w)))?;
        }
        for (key, w) in cleanup {
            if !self.fired.is_empty() {
                self.fired.remove(&(key.bytes.clone(), w));
            }
            self.drop_trigger_state(&key.bytes, w);
            if !aggregating {
                ops.push(self.st.clear(&key, &w, false));
            }
            if matches!(self.spec.kind, WindowKind::Session { .. }) {
                let mut s = self.st.sessions(&key)?;
                s.retain(|x| *x != w);
                ops.push(self.st.put_sessions(&key, &s));
            }
        }
        self.st.write(ops)
    }
}

impl Operator for WindowOperator {
    fn replace_function(&mut self, f: crate::operator::Function) -> Result<()> {
        let crate::operator::Function::Window(f) = f else {
            bail!("a window operator takes a process-window function");
        };
        self.errors.relabel(f.label().clone());
        self.function = f;
        Ok(())
    }

    fn prepare_snapshot(&mut self) -> Result<Vec<u8>> {
        self.st.record_fired(self.fired.iter())?;
        if self.spec.trigger.keeps_state() {
            self.st.record_triggers(self.trig.iter())?;
        }
        let mut overlay = self.st.cached()?;
        if let Some(a) = &self.aligned {
            a.overlay(&self.st, &mut overlay);
        }
        Ok(overlay)
    }

    fn final_state(&mut self) -> Result<crate::checkpoint::OperatorState> {
        Ok(crate::checkpoint::OperatorState::Window {
            watermark: self.watermark,
        })
    }

    fn snapshot(
        &mut self,
        _cx: &crate::operator::SnapshotContext<'_>,
    ) -> Result<crate::checkpoint::OperatorState> {
        Ok(crate::checkpoint::OperatorState::Window {
            watermark: self.watermark,
        })
    }

    fn process(&mut self, _input: Input, data: Data, out: &mut Collector) -> Result<()> {
        self.metrics.records_in.add(data.len() as u64);
        reject_unkeyed(&data, &self.errors, out)?;
        let Data::Keyed(k) = data else {
            bail!("a window operator's input must be keyed");
        };
        let k = without_unkeyed(k);
        match self.spec.kind {
            WindowKind::Count { size, slide } => self.process_count(k, size, slide, out),
            WindowKind::Session { gap_ms } => self.process_sessions(k, gap_ms, out),
            _ => self.process_time_windows(k, out),
        }
    }

    fn on_watermark(&mut self, wm: i64, out: &mut Collector) -> Result<()> {
        if self.event_time() && wm > self.watermark {
            self.watermark = wm;
            self.advance(wm, out)?;
        }
        out.watermark(wm);
        Ok(())
    }

    fn on_processing_time(&mut self, now_ms: i64, out: &mut Collector) -> Result<()> {
        if matches!(self.spec.kind, WindowKind::Count { .. }) {
            return Ok(());
        }
        if self.event_time() {
            self.advance_processing(now_ms, out)
        } else {
            self.advance(now_ms, out)
        }
    }

    fn finish(&mut self, how: Finish, out: &mut Collector) -> Result<()> {
        // At the end of the input every window fires: event-time windows already did at
        // the final watermark; processing-time windows do now. A stopped job fires
        // nothing more: its open windows are counted, not emitted as if complete.
        match how {
            Finish::Drained if !self.event_time() => self.advance(i64::MAX, out)?,
            Finish::Drained => {}
            Finish::Stopped => {
                let open = if let Some(a) = &self.aligned {
                    a.open()
                } else if self.spec.trigger.fires_at_end(self.event_time()) {
                    self.timers.count(TimerKind::Fire)
                } else {
                    self.timers.count(TimerKind::Cleanup)
                };
                self.metrics.incomplete_windows.add(open as u64);
            }
        }
        // Count windows fire only when full (as Flink's count trigger): what has not
        // filled at the end is counted and reported, not emitted.
        if let WindowKind::Count { slide, .. } = self.spec.kind {
            self.metrics.unfired.add(self.st.unfired(slide)?);
        }
        // Leave the backend complete (what `--keep-state` keeps).
        self.st.flush()?;
        if let Some(a) = &mut self.aligned {
            a.flush(self.st.keyed.backend(), &self.st)?;
        }
        Ok(())
    }
}

/// Whether windows of `spec` take the aligned path (and whether they count): aggregating
/// tumbling or sliding windows whose trigger fires once, at their end, with no allowed
/// lateness (each fires once and is gone), and no evictor.
fn aligned_path(spec: &WindowSpec) -> Option<bool> {
    let event_time = spec.time == TimeDomain::Event;
    let aligned = matches!(
        spec.kind,
        WindowKind::Tumbling { .. } | WindowKind::Sliding { .. }
    );
    let once = spec.trigger == crate::time::Trigger::default_for(event_time)
        && (spec.allowed_lateness == 0 || !event_time);
    let kind = spec.aggregate?;
    (aligned && once && spec.evictor.is_none()).then_some(kind == WindowAggregateKind::Count)
}

/// Drops records that could not be keyed (they went to the error policy).
fn without_unkeyed(k: KeyedBatch) -> KeyedBatch {
    if k.unkeyed.is_empty() {
        return k;
    }
    // A key keeps its group: look them up in the original table.
    let by_key: FastMap<Vec<u8>, u16> = (0..k.keys.len())
        .map(|i| (k.keys.key(i).to_vec(), k.groups[i]))
        .collect();
    let (batch, keys) = super::map::processable(Data::Keyed(k));
    let keys = keys.expect("keyed data has keys");
    let groups = (0..keys.len()).map(|i| by_key[keys.key(i)]).collect();
    KeyedBatch {
        batch,
        keys,
        groups,
        unkeyed: Vec::new(),
    }
}
