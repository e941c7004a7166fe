//! Finding the records a failed call failed on.
//!
//! A function is called once per batch. When such a call fails as a whole (a trap, a
//! missed deadline, the memory cap), the host does not know which record caused it, and
//! the call's state writes were dropped. So the batch is split in halves and each half
//! called again (on a fresh instance after each failure), down to single records: the
//! records that fail alone are the culprits, every other record is processed exactly
//! once, and one bad record in a batch of 1024 costs about 20 calls, not 1024.
//!
//! A failure of the host (a state backend error) is no record's fault: it ends the
//! search and fails the task.

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
    /// Whether the batch call failed and was split.
    pub replayed: bool,
}

/// A host failure during a call, as the task's error.
pub fn host_failure(label: &super::FunctionLabel, f: Failure) -> anyhow::Error {
    anyhow::anyhow!("{label}: {f}")
}

/// Counts what isolating a batch cost: split calls and fresh instances.
pub fn count_isolation(
    metrics: &crate::runtime::NodeMetrics,
    isolated: &Isolated,
    reinstantiations_before: u64,
    reinstantiations_after: u64,
) {
    if isolated.replayed {
        metrics.replays.add(1);
    }
    metrics
        .reinstantiations
        .add(reinstantiations_after.saturating_sub(reinstantiations_before));
}

/// Calls `call` on the whole batch and, if that call fails, on halves of it until the
/// failing records are found. `Err` is a host failure.
pub fn run_isolated(
    input: &Batch,
    keys: Option<&KeyTable>,
    mut call: impl FnMut(&Batch, Option<&KeyTable>) -> Result<Output, Failure>,
) -> Result<Isolated, Failure> {
    match call(input, keys) {
        Ok(output) => Ok(Isolated {
            output,
            ..Isolated::default()
        }),
        Err(f) if f.is_host() => Err(f),
        Err(f) if input.len() == 1 => Ok(Isolated {
            failures: vec![(0, f)],
            ..Isolated::default()
        }),
        Err(_) => {
            let mut out = Isolated {
                replayed: true,
                ..Isolated::default()
            };
            let mid = input.len() / 2;
            bisect(input, keys, 0..mid, &mut call, &mut out)?;
            bisect(input, keys, mid..input.len(), &mut call, &mut out)?;
            Ok(out)
        }
    }
}

fn bisect(
    input: &Batch,
    keys: Option<&KeyTable>,
    range: std::ops::Range<usize>,
    call: &mut impl FnMut(&Batch, Option<&KeyTable>) -> Result<Output, Failure>,
    out: &mut Isolated,
) -> Result<(), Failure> {
    if range.is_empty() {
        return Ok(());
    }
    let mut part = Batch::default();
    let mut table = keys.map(|_| KeyTableBuilder::default());
    for i in range.clone() {
        part.push_record(&input.get(i));
        if let (Some(t), Some(k)) = (table.as_mut(), keys) {
            t.push(k.key_of(i));
        }
    }
    let table = table.map(KeyTableBuilder::finish);
    match call(&part, table.as_ref()) {
        Ok(o) => {
            append(&mut out.output, o, range.start as u32);
            Ok(())
        }
        Err(f) if f.is_host() => Err(f),
        Err(f) if range.len() == 1 => {
            out.failures.push((range.start as u32, f));
            Ok(())
        }
        Err(_) => {
            let mid = range.start + range.len() / 2;
            bisect(input, keys, range.start..mid, call, out)?;
            bisect(input, keys, mid..range.end, call, out)
        }
    }
}

/// Appends the output of a call on the records from `first` on.
fn append(into: &mut Output, from: Output, first: u32) {
    for r in 0..from.records.len() {
        into.records.push_record(&from.records.get(r));
        into.origins.push(first + from.origins[r]);
    }
    into.errors
        .extend(from.errors.into_iter().map(|e| RecordError {
            index: first + e.index,
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
        })
        .unwrap();
        assert_eq!((calls, r.output.records.len(), r.failures.len()), (1, 2, 0));
        assert!(!r.replayed);
    }

    #[test]
    fn a_failed_batch_is_split_until_the_failing_records_are_found() {
        let r = run_isolated(&batch(&["a", "bad", "c", "bad"]), None, echo).unwrap();
        let values: Vec<&[u8]> = r.output.records.iter().map(|x| x.value).collect();
        assert_eq!(values, vec![&b"a"[..], b"c"]);
        assert_eq!(r.output.origins, vec![0, 2]);
        let failed: Vec<u32> = r.failures.iter().map(|(i, _)| *i).collect();
        assert_eq!(failed, vec![1, 3]);
        assert!(r.replayed);
    }

    #[test]
    fn one_bad_record_in_a_large_batch_costs_few_calls() {
        let mut values: Vec<String> = (0..1024).map(|i| i.to_string()).collect();
        values[700] = "bad".into();
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let mut calls = 0;
        let r = run_isolated(&batch(&refs), None, |b, k| {
            calls += 1;
            echo(b, k)
        })
        .unwrap();
        assert_eq!(r.output.records.len(), 1023);
        assert_eq!(r.failures.len(), 1);
        assert_eq!(r.failures[0].0, 700);
        // Origins still point at the right inputs.
        for (i, &o) in r.output.origins.iter().enumerate() {
            assert_eq!(r.output.records.get(i).value, values[o as usize].as_bytes());
        }
        assert!(calls <= 2 * 11 + 1, "{calls} calls");
    }

    #[test]
    fn a_host_failure_stops_the_search() {
        let r = run_isolated(&batch(&["a", "b"]), None, |_, _| {
            Err(Failure::Host("disk full".into()))
        });
        assert!(matches!(r, Err(Failure::Host(_))));
    }
}
