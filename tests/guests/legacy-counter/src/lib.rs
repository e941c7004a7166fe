//! A keyed count built against the frozen `weir:udf@0.1.0` interface
//! (`tests/wit-0.1.0/`), without the SDK: it shows that a component of an earlier
//! version of the interface loads and runs on the current host. For each record it adds
//! one to its key's `count` (a value state holding a JSON number, as the SDK's
//! `ValueState<u64>` stores it) and emits `{"key","seq","count","tag":"legacy"}`.

use std::sync::atomic::{AtomicU32, Ordering};

wit_bindgen::generate!({
    world: "weir:udf/%map@0.1.0",
    path: "../../wit-0.1.0",
});

use exports::weir::udf::map_function::Guest;
use weir::udf::keyed_state as ks;
use weir::udf::types::{Batch, InitContext, KeyTable, Output, RecordError};

static COUNT: AtomicU32 = AtomicU32::new(0);

struct Legacy;

fn slice<'a>(data: &'a [u8], ends: &[u32], i: usize) -> &'a [u8] {
    let start = if i == 0 { 0 } else { ends[i - 1] as usize };
    &data[start..ends[i] as usize]
}

impl Guest for Legacy {
    fn init(_: InitContext) -> Result<(), String> {
        let id = ks::declare(&ks::StateSpec {
            name: "count".into(),
            kind: ks::StateKind::Value,
            ttl_ms: None,
        })
        .map_err(|e| format!("declaring count: {e:?}"))?;
        COUNT.store(id, Ordering::Relaxed);
        Ok(())
    }

    fn process(input: Batch, keys: Option<KeyTable>) -> Output {
        let mut out = Output {
            records: Batch {
                data: Vec::new(),
                ends: Vec::new(),
                flags: Vec::new(),
                timestamps: Vec::new(),
                headers: Vec::new(),
            },
            origins: Vec::new(),
            errors: Vec::new(),
        };
        let Some(keys) = keys else {
            out.errors = (0..input.ends.len() as u32 / 2)
                .map(|index| RecordError {
                    index,
                    message: "the input is not keyed".into(),
                })
                .collect();
            return out;
        };
        let state = COUNT.load(Ordering::Relaxed);
        let scopes: Vec<ks::Scope> = (0..keys.ends.len() as u32)
            .map(|key| ks::Scope { key, window: None })
            .collect();
        let found = match ks::get_values(state, &scopes) {
            Ok(v) => v,
            Err(e) => panic!("reading counts: {e:?}"),
        };
        let mut counts: Vec<u64> = (0..keys.ends.len())
            .map(|k| {
                if found.present[k] {
                    let text = slice(&found.data, &found.ends, k);
                    std::str::from_utf8(text)
                        .ok()
                        .and_then(|t| t.parse().ok())
                        .unwrap_or(0)
                } else {
                    0
                }
            })
            .collect();
        // Two offsets per record: where its key ends and where its value ends.
        for i in 0..input.ends.len() / 2 {
            let k = keys.of_record[i] as usize;
            counts[k] += 1;
            let key = String::from_utf8_lossy(slice(&keys.data, &keys.ends, k));
            let seq = String::from_utf8_lossy(slice(&input.data, &input.ends, 2 * i + 1));
            let line = format!(
                r#"{{"key":"{key}","seq":{seq},"count":{},"tag":"legacy"}}"#,
                counts[k]
            );
            // No key, then the value.
            out.records.ends.push(out.records.data.len() as u32);
            out.records.data.extend_from_slice(line.as_bytes());
            out.records.ends.push(out.records.data.len() as u32);
            out.records.flags.push(0);
            out.records.timestamps.push(0);
            out.origins.push(i as u32);
        }
        let mut mutations = Vec::new();
        let mut data = Vec::new();
        for (k, n) in counts.iter().enumerate() {
            let text = n.to_string();
            data.extend_from_slice(text.as_bytes());
            mutations.push(ks::Mutation {
                op: ks::Op::SetValue,
                state,
                scope: scopes[k],
                user_key_len: 0,
                value_len: text.len() as u32,
            });
        }
        if let Err(e) = ks::apply(&mutations, &data) {
            panic!("writing counts: {e:?}");
        }
        out
    }
}

export!(Legacy);
