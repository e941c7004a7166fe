//! The window operator on the aligned path: batches folded into window-major
//! accumulators, and windows fired whole when their end passes.

use anyhow::Result;

use super::aggregate;
use super::aligned::{Acc, AccKeys, Aligned, Firing};
use super::fire::{self, FiredSet, Pane};
use super::store::WindowState;
use super::{Collector, WindowOperator};
use crate::manifest::WindowAggregateKind;
use crate::runtime::KeyedBatch;
use crate::state::StateKeyPrefix;
use crate::time::{Timing, Window, assign, is_late, max_timestamp};

impl AccKeys for WindowState {
    fn acc_key_into(&self, out: &mut Vec<u8>, key: &[u8], group: u16, w: &Window) {
        StateKeyPrefix::encode_into(out, self.acc_id(), group, key, super::store::ns(w));
    }
}

impl WindowOperator {
    /// Folds a batch into its aligned windows.
    pub(super) fn absorb_aligned(&mut self, k: KeyedBatch, out: &mut Collector) -> Result<()> {
        let mut a = self
            .aligned
            .take()
            .expect("the operator is on the aligned path");
        let r = self.absorb_into(&mut a, &k, out);
        self.aligned = Some(a);
        r
    }

    fn absorb_into(&mut self, a: &mut Aligned, k: &KeyedBatch, out: &mut Collector) -> Result<()> {
        let now = self.clock.now_ms();
        let mut windows = std::mem::take(&mut self.scratch);
        // Each element's windows, as (element, window).
        let mut placed: Vec<(u32, Window)> = Vec::with_capacity(k.batch.len());
        for i in 0..k.batch.len() {
            let r = k.batch.get(i);
            let Some(t) = self.time_of(&r, now, out)? else {
                continue;
            };
            assign(&self.spec.kind, t, &mut windows);
            let before = placed.len();
            for &w in &windows {
                if !(self.event_time() && is_late(&w, self.spec.allowed_lateness, self.watermark)) {
                    placed.push((i as u32, w));
                }
            }
            if placed.len() > before {
                self.metrics.absorbed.add(1);
            } else {
                self.unplaced(&r, t, out);
            }
        }
        self.scratch = windows;
        let key_of = |i: u32| {
            let key = k.keys.of_record[i as usize] as usize;
            (k.keys.key(key), k.groups[key])
        };
        let backend = self.st.keyed.backend();
        if a.has_spilled() {
            let wanted = placed.iter().map(|&(i, w)| {
                let (key, group) = key_of(i);
                (w, key, group)
            });
            a.load(backend, &self.st, wanted)?;
        }
        match self.spec.aggregate {
            Some(WindowAggregateKind::Count) => {
                for &(i, w) in &placed {
                    let (key, group) = key_of(i);
                    a.count(&w, key, group, 1);
                }
            }
            Some(kind @ WindowAggregateKind::Function) => {
                let mut grouper = aggregate::Grouper::default();
                for &(i, w) in &placed {
                    grouper.add(k, i, w);
                }
                let groups = grouper.finish();
                let old: Vec<Option<Vec<u8>>> = groups
                    .iter()
                    .map(|g| match a.get(&g.window, &g.key.bytes) {
                        Some(Acc::Bytes(b)) => Some(b.clone()),
                        _ => None,
                    })
                    .collect();
                let new = aggregate::fold_into(
                    &groups,
                    &k.batch,
                    kind,
                    &old,
                    &mut *self.function,
                    &self.errors,
                    &self.metrics,
                    out,
                )?;
                for (g, acc) in groups.iter().zip(new) {
                    a.put(&g.window, &g.key.bytes, g.key.group, acc);
                }
            }
            None => unreachable!("the aligned path aggregates"),
        }
        a.maybe_spill(backend, &self.st)
    }

    /// Fires every aligned window whose last instant is at or before `time`, in order of
    /// their ends.
    pub(super) fn fire_aligned(&mut self, time: i64, out: &mut Collector) -> Result<()> {
        let Some(mut a) = self.aligned.take() else {
            return Ok(());
        };
        let r = self.fire_due(&mut a, time, out);
        self.aligned = Some(a);
        r
    }

    fn fire_due(&mut self, a: &mut Aligned, time: i64, out: &mut Collector) -> Result<()> {
        while let Some((w, accs)) = a.take_due(time, self.st.keyed.backend(), &self.st)? {
            self.fire_accumulators(w, accs, out)?;
        }
        Ok(())
    }

    fn fire_accumulators(&mut self, w: Window, accs: Firing, out: &mut Collector) -> Result<()> {
        let pane = Pane {
            update: false,
            timing: Timing::OnTime,
        };
        let at = Some(max_timestamp(&w));
        let mut set = FiredSet::distinct_keys();
        let mut buf = Vec::new();
        for (key, acc) in accs.iter() {
            set.push_accumulator(key, w, pane, at, acc.encode(&mut buf));
        }
        fire::fire(
            set,
            &mut *self.function,
            &self.errors,
            &self.metrics,
            self.clock.now_ms(),
            self.spec.pane_header,
            out,
        )
    }
}
