//! The per-call state cache against a host that counts its calls.

use std::collections::BTreeMap;

use crate::batch::{BatchBuf, KeyTableView, Values, offset};
use crate::context::InitContext;
use crate::error::Result;
use crate::map::{Map, process_batch};
use crate::native::{NativeHost, with_host};
use crate::output::Output;
use crate::record::Record;
use crate::state::{
    Entries, ListState, MapState, Mutation, Op, Scope, StateError, StateSpec, ValueState,
};

/// Keyed state in maps keyed by (state, key, user key), with call counters. Like the real
/// host, it resolves a scope's key index through the call's key table (`keys`).
#[derive(Default)]
struct Host {
    names: Vec<String>,
    keys: Vec<String>,
    values: BTreeMap<(u32, String), Vec<u8>>,
    lists: BTreeMap<(u32, String), Vec<Vec<u8>>>,
    maps: BTreeMap<(u32, String, Vec<u8>), Vec<u8>>,
    get_values_calls: usize,
    get_list_calls: usize,
    apply_calls: usize,
    reject_apply: bool,
}

impl NativeHost for Host {
    fn declare(&mut self, spec: &StateSpec) -> Result<u32, StateError> {
        self.names.push(spec.name.clone());
        Ok(offset(self.names.len() - 1))
    }

    fn get_values(&mut self, state: u32, scopes: &[Scope]) -> Result<Values, StateError> {
        self.get_values_calls += 1;
        let mut v = Values::default();
        for s in scopes {
            v.push(
                self.values
                    .get(&(state, self.keys[s.key as usize].clone()))
                    .map(Vec::as_slice),
            );
        }
        Ok(v)
    }

    fn get_list(&mut self, state: u32, scope: Scope) -> Result<Values, StateError> {
        self.get_list_calls += 1;
        let mut v = Values::default();
        for e in self
            .lists
            .get(&(state, self.keys[scope.key as usize].clone()))
            .into_iter()
            .flatten()
        {
            v.push(Some(e));
        }
        Ok(v)
    }

    fn get_entries(
        &mut self,
        state: u32,
        scope: Scope,
        user_keys: &[Vec<u8>],
    ) -> Result<Values, StateError> {
        let mut v = Values::default();
        for uk in user_keys {
            v.push(
                self.maps
                    .get(&(state, self.keys[scope.key as usize].clone(), uk.clone()))
                    .map(Vec::as_slice),
            );
        }
        Ok(v)
    }

    fn scan_entries(
        &mut self,
        state: u32,
        scope: Scope,
        after: Option<&[u8]>,
        limit: u32,
    ) -> Result<Entries, StateError> {
        let mut e = Entries::default();
        let mut n = 0;
        let key = &self.keys[scope.key as usize];
        for ((s, k, uk), v) in &self.maps {
            if (*s, k) != (state, key) || after.is_some_and(|a| uk.as_slice() <= a) {
                continue;
            }
            if n == limit {
                e.more = true;
                break;
            }
            e.data.extend_from_slice(uk);
            e.ends.push(offset(e.data.len()));
            e.data.extend_from_slice(v);
            e.ends.push(offset(e.data.len()));
            n += 1;
        }
        Ok(e)
    }

    fn apply(&mut self, mutations: &[Mutation], data: &[u8]) -> Result<(), StateError> {
        self.apply_calls += 1;
        if self.reject_apply {
            return Err(StateError::TooLarge(1));
        }
        let mut at = 0;
        for m in mutations {
            let uk = data[at..at + m.user_key_len as usize].to_vec();
            at += m.user_key_len as usize;
            let v = data[at..at + m.value_len as usize].to_vec();
            at += m.value_len as usize;
            let k = (m.state, self.keys[m.scope.key as usize].clone());
            match m.op {
                Op::SetValue => {
                    self.values.insert(k, v);
                }
                Op::AddToList => self.lists.entry(k).or_default().push(v),
                Op::PutEntry => {
                    self.maps.insert((k.0, k.1.clone(), uk), v);
                }
                Op::RemoveEntry => {
                    self.maps.remove(&(k.0, k.1.clone(), uk));
                }
                Op::Clear => {
                    self.values.remove(&k);
                    self.lists.remove(&k);
                    self.maps.retain(|(s, kk, _), _| (*s, kk) != (k.0, &k.1));
                }
            }
        }
        Ok(())
    }
}

/// Counts per key, keeps the values per key, and counts values per distinct value.
struct Counter {
    count: ValueState<u64>,
    seen: ListState<String>,
    per_value: MapState<String, u64>,
}

impl Map for Counter {
    fn init(ctx: &InitContext) -> Result<Self> {
        Ok(Counter {
            count: ctx.value_state("count")?,
            seen: ctx.list_state("seen")?,
            per_value: ctx.map_state("per-value")?,
        })
    }

    fn map(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let v = record.text()?.to_owned();
        let n = self.count.update(|n| n.unwrap_or(0) + 1)?;
        self.seen.add(&v)?;
        let p = self.per_value.get(&v)?.unwrap_or(0) + 1;
        self.per_value.put(&v, &p)?;
        let distinct = self.per_value.keys()?.len();
        out.emit(format!("{n} {} {p} {distinct}", self.seen.get()?.len()));
        Ok(())
    }
}

/// Runs one batch of (key, value) records through `f`; returns its output values.
fn run(host: &mut Host, f: &mut Counter, records: &[(&str, &str)]) -> Vec<String> {
    let mut batch = BatchBuf::default();
    let mut keys: Vec<&str> = Vec::new();
    let mut of_record = Vec::new();
    for (k, v) in records {
        batch.push(None, v.as_bytes(), None);
        let i = keys.iter().position(|x| x == k).unwrap_or_else(|| {
            keys.push(k);
            keys.len() - 1
        });
        of_record.push(offset(i));
    }
    let mut data = Vec::new();
    let mut ends = Vec::new();
    for k in &keys {
        data.extend_from_slice(k.as_bytes());
        ends.push(offset(data.len()));
    }
    host.keys = keys.iter().map(|k| (*k).to_owned()).collect();
    let table = KeyTableView {
        data: &data,
        ends: &ends,
        of_record: &of_record,
    };
    let mut out = Output::default();
    with_host(host, || {
        process_batch(f, batch.view(), Some(table), &mut out)
    });
    out.records()
        .view()
        .iter()
        .map(|r| String::from_utf8(r.value.to_vec()).unwrap())
        .collect()
}

fn counter(host: &mut Host) -> Counter {
    with_host(host, || {
        Counter::init(&InitContext {
            config: "{}".into(),
            ..InitContext::default()
        })
    })
    .unwrap()
}

#[test]
fn a_batch_reads_each_value_state_once_and_writes_once() {
    let mut host = Host::default();
    let mut f = counter(&mut host);
    let out = run(
        &mut host,
        &mut f,
        &[("a", "x"), ("b", "y"), ("a", "x"), ("a", "z")],
    );
    assert_eq!(out, vec!["1 1 1 1", "1 1 1 1", "2 2 2 1", "3 3 1 2"]);
    assert_eq!(
        host.get_values_calls, 1,
        "one fetch for every key of the batch"
    );
    assert_eq!(host.apply_calls, 1, "all writes in one apply");
    let out = run(&mut host, &mut f, &[("b", "y"), ("a", "x")]);
    assert_eq!(
        out,
        vec!["2 2 2 1", "4 4 3 2"],
        "state carries over to the next batch"
    );
}

#[test]
fn a_key_never_sees_another_keys_state() {
    let mut host = Host::default();
    let mut f = counter(&mut host);
    run(&mut host, &mut f, &[("a", "1"), ("a", "2"), ("a", "3")]);
    let out = run(&mut host, &mut f, &[("c", "1")]);
    assert_eq!(out, vec!["1 1 1 1"]);
}

#[test]
#[should_panic(expected = "rejected this call's writes")]
fn a_rejected_apply_fails_the_whole_call() {
    let mut host = Host {
        reject_apply: true,
        ..Host::default()
    };
    let mut f = counter(&mut host);
    run(&mut host, &mut f, &[("a", "x")]);
}

#[test]
fn state_outside_a_keyed_call_is_an_error_not_a_panic() {
    let mut host = Host::default();
    let f = counter(&mut host);
    let got = with_host(&mut host, || f.count.get());
    assert_eq!(
        got.unwrap_err().message(),
        "state: the input is not keyed, so there is no keyed state"
    );
}
