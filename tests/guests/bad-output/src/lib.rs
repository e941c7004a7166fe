//! A map function written against the WIT bindings directly (the SDK cannot produce
//! malformed output): a batch holding the line `bad` gets an output whose record claims
//! an input that does not exist. Every other line comes back as `<line>:<n>`, `n` being
//! how many calls this instance has served, so a test sees when the host replaces it.

use std::sync::atomic::{AtomicU32, Ordering};

wit_bindgen::generate!({
    world: "weir:udf/%map",
    path: "../../../wit",
});

use exports::weir::udf::map_function::Guest;
use weir::udf::types::{Batch, InitContext, KeyTable, Output};

static CALLS: AtomicU32 = AtomicU32::new(0);

struct BadOutput;

impl Guest for BadOutput {
    fn init(_ctx: InitContext) -> Result<(), String> {
        Ok(())
    }

    fn process(input: Batch, _keys: Option<KeyTable>) -> Output {
        let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
        let n = input.flags.len();
        let mut out = Batch {
            data: Vec::new(),
            ends: Vec::new(),
            flags: Vec::new(),
            timestamps: Vec::new(),
            headers: Vec::new(),
        };
        let mut origins = Vec::new();
        for i in 0..n {
            let key_end = input.ends[2 * i] as usize;
            let value_end = input.ends[2 * i + 1] as usize;
            let value = &input.data[key_end..value_end];
            let (text, origin) = if value == b"bad" {
                (b"bad".to_vec(), n as u32)
            } else {
                let mut t = value.to_vec();
                t.extend_from_slice(format!(":{calls}").as_bytes());
                (t, i as u32)
            };
            out.ends.push(out.data.len() as u32);
            out.data.extend_from_slice(&text);
            out.ends.push(out.data.len() as u32);
            out.flags.push(0);
            out.timestamps.push(0);
            origins.push(origin);
        }
        Output {
            records: out,
            origins,
            errors: Vec::new(),
        }
    }
}

export!(BadOutput);
