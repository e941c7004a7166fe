//! Count windows: every `slide` elements of a key, a window of its last `size` elements
//! fires (tumbling when `slide == size`). Bounds are element ordinals of the key.

use std::collections::HashMap;

use anyhow::Result;

use super::fire::{self, Fired};
use super::store::Key;
use super::{WindowOperator, elements};
use crate::operator::Collector;
use crate::record::Batch;
use crate::runtime::KeyedBatch;
use crate::time::Window;

impl WindowOperator {
    pub(super) fn process_count(
        &mut self,
        k: KeyedBatch,
        size: u64,
        slide: u64,
        out: &mut Collector,
    ) -> Result<()> {
        let mut counted: HashMap<u32, (Key, u64, Vec<Vec<u8>>)> = HashMap::new();
        let mut due = Vec::new();
        for i in 0..k.batch.len() {
            let ki = k.keys.of_record[i];
            if !counted.contains_key(&ki) {
                let key = Key {
                    bytes: k.keys.key(ki as usize).to_vec(),
                    group: k.groups[ki as usize],
                };
                let (n, retained) = self.st.counted(&key)?;
                counted.insert(ki, (key, n, retained));
            }
            let (key, n, retained) = counted.get_mut(&ki).expect("just loaded");
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
                due.push(Fired {
                    key: key.bytes.clone(),
                    window,
                    update: false,
                    elements: els,
                });
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
        let now = self.clock.now_ms();
        fire::fire(
            due,
            &mut *self.function,
            &self.errors,
            &self.metrics,
            now,
            out,
        )
    }
}
