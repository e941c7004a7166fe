//! Finding the records a failed call failed on.
//!
//! A function is called once per batch. When such a call fails as a whole (a trap, a
//! missed deadline, the memory cap), the host does not know which record caused it, and
//! the call's state writes were dropped. So the batch is replayed one record per call, on
//! a fresh instance after each failure: the records that fail alone are the culprits,
//! and every other record is processed exactly once.

use crate::record::{Batch, KeyTable, KeyTableBuilder};
use crate::wasm::Failure;
use crate::wasm::bindings::types::{Output, RecordError};

/// The outcome of a batch: what the calls produced (origins and errors relative to the
/// whole batch) and the records whose own call failed.
#[derive(Debug, Default)]
pub struct Isolated {
    /// Output of the successful calls.
    pub output: Output,
    /// Records that failed alone, with why.
    pub failures: Vec<(u32, Failure)>,
}

/// Calls `call` on the whole batch and, if that call fails, on each record alone.
pub fn run_isolated(
    input: &Batch,
    keys: Option<&KeyTable>,
    mut call: impl FnMut(&Batch, Option<&KeyTable>) -> Result<Output, Failure>,
) -> Isolated {
    match call(input, keys) {
        Ok(output) => Isolated {
            output,
            failures: Vec::new(),
        },
        Err(f) if input.len() == 1 => Isolated {
            output: Output::default(),
            failures: vec![(0, f)],
        },
        Err(_) => replay(input, keys, call),
    }
}

fn replay(
    input: &Batch,
    keys: Option<&KeyTable>,
    mut call: impl FnMut(&Batch, Option<&KeyTable>) -> Result<Output, Failure>,
) -> Isolated {
    let mut out = Isolated::default();
    let mut one = Batch::default();
    for i in 0..input.len() {
        one.clear();
        one.push_record(&input.get(i));
        let table = keys.map(|k| {
            let mut b = KeyTableBuilder::default();
            b.push(k.key_of(i));
            b.finish()
        });
        match call(&one, table.as_ref()) {
            Ok(o) => append(&mut out.output, o, i as u32),
            Err(f) => out.failures.push((i as u32, f)),
        }
    }
    out
}

/// Appends the output of a one-record call for input `index`.
fn append(into: &mut Output, from: Output, index: u32) {
    for r in 0..from.records.len() {
        into.records.push_record(&from.records.get(r));
        into.origins.push(index);
    }
    into.errors
        .extend(from.errors.into_iter().map(|e| RecordError {
            index,
            message: e.message,
        }));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(values: &[&str]) -> Batch {
        let mut b = Batch::default();
        for v in values {
            b.push(None, v.as_bytes(), None);
        }
        b
    }

    /// Echoes each record, but a batch containing "bad" fails whole.
    fn echo(input: &Batch, _: Option<&KeyTable>) -> Result<Output, Failure> {
        let mut out = Output::default();
        for (i, r) in input.iter().enumerate() {
            if r.value == b"bad" {
                return Err(Failure::Trap("boom".into()));
            }
            out.records.push(None, r.value, None);
            out.origins.push(i as u32);
        }
        Ok(out)
    }

    #[test]
    fn a_good_batch_is_one_call() {
        let mut calls = 0;
        let r = run_isolated(&batch(&["a", "b"]), None, |b, k| {
            calls += 1;
            echo(b, k)
        });
        assert_eq!((calls, r.output.records.len(), r.failures.len()), (1, 2, 0));
    }

    #[test]
    fn a_failed_batch_is_replayed_record_by_record() {
        let r = run_isolated(&batch(&["a", "bad", "c", "bad"]), None, echo);
        let values: Vec<&[u8]> = r.output.records.iter().map(|x| x.value).collect();
        assert_eq!(values, vec![&b"a"[..], b"c"]);
        assert_eq!(r.output.origins, vec![0, 2]);
        let failed: Vec<u32> = r.failures.iter().map(|(i, _)| *i).collect();
        assert_eq!(failed, vec![1, 3]);
    }
}
