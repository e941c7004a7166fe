//! Count windows: every `slide` elements of a key, a window of its last `size` elements
//! fires (tumbling when `slide == size`). Bounds are element ordinals of the key.
//!
//! As in Flink (a count evictor keeps the last `size` elements), the elements are kept
//! even with an incremental aggregate: they are folded into a fresh accumulator when the
//! window fires, since sliding count windows share elements.
//!
//! Count windows are not time windows, so their results carry the timestamp of the
//! window's latest element rather than `end - 1` (an ordinal, not a time). Flink gives
//! them the end of time instead, which would put them past every downstream window.

use std::collections::hash_map::Entry;

use anyhow::Result;

use super::aggregate::{self, Group};
use super::fire::{self, FiredSet, Pane};
use super::store::Key;
use super::{WindowOperator, elements};
use crate::hash::FastMap;
use crate::operator::Collector;
use crate::record::Batch;
use crate::runtime::KeyedBatch;
use crate::time::{Timing, Window};

/// A count window fires once, when full: on time.
const ON_TIME: Pane = Pane {
    update: false,
    timing: Timing::OnTime,
};

impl WindowOperator {
    pub(super) fn process_count(
        &mut self,
        k: KeyedBatch,
        size: u64,
        slide: u64,
        out: &mut Collector,
    ) -> Result<()> {
        let mut counted: FastMap<u32, (Key, u64, Vec<Vec<u8>>)> = FastMap::default();
        let mut due = Vec::new();
        self.metrics.absorbed.add(k.batch.len() as u64);
        for i in 0..k.batch.len() {
            let ki = k.keys.of_record[i];
            let (key, n, retained) = match counted.entry(ki) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => {
                    let key = Key {
                        bytes: k.keys.key(ki as usize).to_vec(),
                        group: k.groups[ki as usize],
                    };
                    let (n, retained) = self.st.counted(&key)?;
                    e.insert((key, n, retained))
                }
            };
            *n += 1;
            retained.push(elements::encode(&k.batch.get(i)));
            if retained.len() as u64 > size {
                retained.remove(0);
            }
            if *n % slide == 0 {
                let mut els = Batch::default();
                for e in retained.iter() {
                    elements::decode_into(e, &mut els)?;
                }
                let window = Window {
                    start: (*n - retained.len() as u64) as i64,
                    end: *n as i64,
                };
                due.push((key.clone(), window, els));
                // Keep what the next window shares with this one.
                let keep = size.saturating_sub(slide) as usize;
                let drop = retained.len().saturating_sub(keep);
                retained.drain(..drop);
            }
        }
        let mut ops = Vec::new();
        for (key, n, retained) in counted.values() {
            ops.extend(self.st.put_counted(key, *n, retained));
        }
        self.st.write(ops)?;
        let fired = self.count_windows(due, out)?;
        let now = self.clock.now_ms();
        fire::fire(
            fired,
            &mut *self.function,
            &self.errors,
            &self.metrics,
            now,
            self.spec.pane_header,
            out,
        )
    }

    /// The windows to fire: with their elements, or with an accumulator of them.
    fn count_windows(
        &mut self,
        due: Vec<(Key, Window, Batch)>,
        out: &mut Collector,
    ) -> Result<FiredSet> {
        let latest = |b: &Batch| b.iter().filter_map(|r| r.timestamp).max();
        let mut set = FiredSet::default();
        let Some(kind) = self.spec.aggregate else {
            for (key, window, elements) in due {
                set.push(
                    &key.bytes,
                    window,
                    ON_TIME,
                    latest(&elements),
                    elements.iter(),
                );
            }
            return Ok(set);
        };
        let mut all = Batch::default();
        let mut groups = Vec::with_capacity(due.len());
        for (key, window, elements) in &due {
            let first = all.len() as u32;
            for r in elements.iter() {
                all.push_record(&r);
            }
            groups.push(Group {
                key: key.clone(),
                window: *window,
                records: (first..all.len() as u32).collect(),
            });
        }
        let fresh = vec![None; groups.len()];
        let accs = aggregate::fold_into(
            &groups,
            &all,
            kind,
            &fresh,
            &mut *self.function,
            &self.errors,
            &self.metrics,
            out,
        )?;
        for ((key, window, elements), acc) in due.into_iter().zip(accs) {
            set.push_accumulator(&key.bytes, window, ON_TIME, latest(&elements), &acc);
        }
        Ok(set)
    }
}
