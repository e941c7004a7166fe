//! Session windows: each element proposes `[t, t + gap)`, which merges with every session
//! of its key it overlaps or touches. Merged sessions' elements (or accumulators) move to
//! the merged window, their timers are replaced by its timers.

use std::collections::hash_map::Entry;

use anyhow::Result;

use super::store::Key;
use super::triggers::TriggerState;
use super::{WindowOperator, aggregate, elements};
use crate::hash::FastMap;
use crate::operator::Collector;
use crate::record::Batch;
use crate::runtime::KeyedBatch;
use crate::state::{WriteOp, encode_list_element};
use crate::time::{TimerKind, Timing, TriggerKind, Window, is_late, max_timestamp, merge_session};

impl WindowOperator {
    pub(super) fn process_sessions(
        &mut self,
        k: KeyedBatch,
        gap: i64,
        out: &mut Collector,
    ) -> Result<()> {
        let now = self.clock.now_ms();
        let mut sessions: FastMap<u32, Vec<Window>> = FastMap::default();
        for i in 0..k.batch.len() {
            let r = k.batch.get(i);
            let Some(t) = self.time_of(&r, now, out)? else {
                continue;
            };
            let ki = k.keys.of_record[i];
            let key = Key {
                bytes: k.keys.key(ki as usize).to_vec(),
                group: k.groups[ki as usize],
            };
            let set = match sessions.entry(ki) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) => e.insert(self.st.sessions(&key)?),
            };
            let before = set.clone();
            let m = merge_session(
                set,
                Window {
                    start: t,
                    end: t.saturating_add(gap),
                },
            );
            if self.event_time() && is_late(&m.result, self.spec.allowed_lateness, self.watermark) {
                *set = before;
                self.unplaced(&r, t, out);
                continue;
            }
            self.metrics.absorbed.add(1);
            let mut ops = Vec::new();
            let mut was_fired = false;
            let mut moved_accs = Vec::new();
            for old in m.merged.iter().filter(|w| **w != m.result) {
                was_fired |= self.fired.remove(&(key.bytes.clone(), *old));
                let fire_at = max_timestamp(old);
                self.timers.remove(
                    &key.bytes,
                    *old,
                    &[
                        (fire_at, TimerKind::Fire),
                        (
                            fire_at.saturating_add(self.spec.allowed_lateness),
                            TimerKind::Cleanup,
                        ),
                    ],
                );
                match self.spec.aggregate {
                    Some(_) => {
                        if let Some(acc) = self.st.accumulators_of([(&key, old)])?.pop().flatten() {
                            moved_accs.push(acc);
                        }
                    }
                    None => {
                        let els = self.st.elements(&key, old)?;
                        let at = self.st.contents_key(&key, &m.result);
                        for e in els.iter() {
                            ops.push(WriteOp::Append(
                                at.clone(),
                                encode_list_element(&elements::encode(&e)),
                            ));
                        }
                    }
                }
                ops.push(self.st.clear(&key, old, self.spec.aggregate.is_some()));
            }
            if was_fired {
                self.fired.insert((key.bytes.clone(), m.result));
            }
            // Write the moved state before adding the element to it.
            if let Some(kind) = self.spec.aggregate {
                let at = self.st.acc_key(&key, &m.result);
                if let Some(existing) = self
                    .st
                    .accumulators_of([(&key, &m.result)])?
                    .pop()
                    .flatten()
                {
                    moved_accs.push(existing);
                }
                if !moved_accs.is_empty() {
                    let merged = aggregate::merge(&moved_accs, kind, &mut *self.function)?;
                    ops.push(WriteOp::Put(at, merged));
                }
                self.st.write(ops)?;
                let mut one = Batch::default();
                one.push_record(&r);
                let group = aggregate::Group {
                    key: key.clone(),
                    window: m.result,
                    records: vec![0],
                };
                self.fold(&[group], &one, kind, out)?;
            } else {
                let at = self.st.contents_key(&key, &m.result);
                ops.push(WriteOp::Append(
                    at,
                    encode_list_element(&elements::encode(&r)),
                ));
                self.st.write(ops)?;
            }
            self.st.write(vec![self.st.put_sessions(&key, set)])?;
            self.schedule(&key, m.result, false);
            self.merge_trigger_state(&key.bytes, &m.merged, m.result);
            if let Some(timing) = self.session_element(&key.bytes, m.result, t, now) {
                self.fire_windows(&[(key, m.result, timing)], out)?;
            }
        }
        Ok(())
    }

    /// The trigger's state of sessions that merged moves to the merged one (Flink's
    /// `onMerge`): their counts add up, the earliest periodic firing stays.
    fn merge_trigger_state(&mut self, key: &[u8], merged: &[Window], result: Window) {
        if self.trig.is_empty() {
            return;
        }
        let mut st = TriggerState::default();
        let mut any = false;
        for w in merged.iter().chain(std::iter::once(&result)) {
            let Some(old) = self.trig.remove(&(key.to_vec(), *w)) else {
                continue;
            };
            any = true;
            st.count += old.count;
            if let Some(next) = old.next {
                self.timers.remove(key, *w, &[(next, TimerKind::Periodic)]);
                self.ptimers.remove(key, *w, &[(next, TimerKind::Periodic)]);
                st.next = Some(st.next.map_or(next, |n| n.min(next)));
            }
        }
        if any {
            self.trig.insert((key.to_vec(), result), st);
            if let Some(next) = st.next {
                self.register_periodic(key, result, next);
            }
        }
    }

    /// What the trigger makes of an element (at time `t`) added to session `w`: the
    /// timing of the firing it causes, if any (a late element; a count reached), and the
    /// start of periodic firings.
    fn session_element(&mut self, key: &[u8], w: Window, t: i64, now: i64) -> Option<Timing> {
        let past_end = self.event_time() && max_timestamp(&w) <= self.watermark;
        match self.spec.trigger.kind {
            // A late element fires its session at once, as Flink's event-time trigger.
            TriggerKind::EventTime | TriggerKind::ContinuousEventTime(_) if past_end => {
                Some(Timing::Late)
            }
            TriggerKind::Count(every) => {
                let timing = self.timing_now(&w);
                let st = self.trig.entry((key.to_vec(), w)).or_default();
                st.count += 1;
                (st.count >= every).then(|| {
                    st.count = 0;
                    timing
                })
            }
            TriggerKind::ContinuousEventTime(interval) => {
                self.start_periodic(key, w, t, interval);
                None
            }
            TriggerKind::ContinuousProcessingTime(interval) => {
                self.start_periodic(key, w, now, interval);
                None
            }
            TriggerKind::EventTime | TriggerKind::ProcessingTime => None,
        }
    }
}
