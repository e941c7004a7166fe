//! Timers of keys in a map operator (Flink's `KeyedProcessFunction` timer service): the
//! function's successful calls register and delete them, due ones go to its `on-timer`,
//! and they are keyed state, written into the backend before every snapshot.

use std::collections::BTreeSet;

use anyhow::{Context, Result, bail};

use crate::state::{KeyedState, Kind, Namespace, StateDef, StateKeyPrefix, WriteOp};
use crate::wasm::TimerChange;

/// Reserved name of the state the timers are saved in.
const STATE: &str = "__weir/timers";

/// Pending timers of one operator instance, by clock.
pub struct KeyedTimers {
    keyed: KeyedState,
    def: StateDef,
    event: BTreeSet<(i64, Vec<u8>)>,
    processing: BTreeSet<(i64, Vec<u8>)>,
}

impl KeyedTimers {
    /// No timers, saved in `keyed`.
    pub fn new(keyed: KeyedState) -> Result<Self> {
        let def = keyed.define(STATE, Kind::Value, None, None)?;
        Ok(Self {
            keyed,
            def,
            event: BTreeSet::new(),
            processing: BTreeSet::new(),
        })
    }

    /// Applies what a call registered and deleted, in order.
    pub fn apply(&mut self, changes: Vec<TimerChange>) {
        for c in changes {
            let set = if c.event_time {
                &mut self.event
            } else {
                &mut self.processing
            };
            if c.delete {
                set.remove(&(c.time, c.key));
            } else {
                set.insert((c.time, c.key));
            }
        }
    }

    /// The time of the earliest timer of a clock.
    pub fn next_time(&self, event_time: bool) -> Option<i64> {
        let set = if event_time {
            &self.event
        } else {
            &self.processing
        };
        set.first().map(|(t, _)| *t)
    }

    /// Takes the timers of a clock due at `time` exactly, in key order.
    pub fn take_at(&mut self, event_time: bool, time: i64) -> Vec<Vec<u8>> {
        let set = if event_time {
            &mut self.event
        } else {
            &mut self.processing
        };
        let mut keys = Vec::new();
        while let Some((t, _)) = set.first() {
            if *t != time {
                break;
            }
            keys.push(set.pop_first().expect("just seen").1);
        }
        keys
    }

    /// Pending timers of a clock.
    pub fn len(&self, event_time: bool) -> usize {
        if event_time {
            self.event.len()
        } else {
            self.processing.len()
        }
    }

    /// Writes the timers into the backend (replacing what was written before), one value
    /// per key: its timers as (clock, time) pairs.
    pub fn save(&self) -> Result<()> {
        let groups = self.keyed.groups();
        let mut ops: Vec<WriteOp> = (groups.start..=groups.end)
            .map(|g| WriteOp::DeletePrefix(StateKeyPrefix::group_prefix(self.def.id, g)))
            .collect();
        let mut by_key: std::collections::BTreeMap<&[u8], Vec<u8>> = Default::default();
        for (clock, set) in [(0u8, &self.event), (1u8, &self.processing)] {
            for (t, k) in set {
                let v = by_key.entry(k.as_slice()).or_default();
                v.push(clock);
                v.extend_from_slice(&t.to_be_bytes());
            }
        }
        for (key, value) in by_key {
            let group = self.keyed.group(key);
            ops.push(WriteOp::Put(
                StateKeyPrefix::new(self.def.id, group, key, Namespace::Global).0,
                value,
            ));
        }
        self.keyed.backend().write(ops)
    }

    /// Reads the timers back from restored state.
    pub fn load(&mut self) -> Result<()> {
        let (event, processing) = (&mut self.event, &mut self.processing);
        self.keyed.for_each(&self.def, |k, v| {
            let (_, _, key, _, _) = StateKeyPrefix::decode(k)?;
            if v.len() % 9 != 0 {
                bail!("corrupt timer state");
            }
            for c in v.chunks(9) {
                let t = i64::from_be_bytes(c[1..].try_into().context("corrupt timer state")?);
                match c[0] {
                    0 => event.insert((t, key.to_vec())),
                    _ => processing.insert((t, key.to_vec())),
                };
            }
            Ok(())
        })
    }
}
