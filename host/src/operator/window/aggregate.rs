//! Incremental aggregation: each window keeps one accumulator instead of its elements.
//! `count` is done by the host (the accumulator is a JSON number); `function` calls the
//! component's `aggregate` once per batch of input.

use anyhow::{Context, Result, anyhow};

use super::store::{Key, WindowState};
use crate::hash::FastMap;
use crate::manifest::WindowAggregateKind;
use crate::operator::Collector;
use crate::operator::dead_letter::ErrorHandler;
use crate::operator::function::WindowFunction;
use crate::operator::isolate::host_failure;
use crate::record::{Batch, KeyTableBuilder, Values};
use crate::runtime::{KeyedBatch, NodeMetrics};
use crate::time::Window;
use crate::wasm::bindings::types::TimeWindow;
use crate::wasm::bindings::window_function::Fold;

/// Elements of one batch going to one window.
#[derive(Debug)]
pub struct Group {
    /// The window's key.
    pub key: Key,
    /// The window.
    pub window: Window,
    /// Indexes of the elements in the batch.
    pub records: Vec<u32>,
}

/// Gathers a batch's elements into groups by key and window, in order of their first
/// element.
#[derive(Debug, Default)]
pub struct Grouper {
    groups: Vec<Group>,
    index: FastMap<(u32, Window), usize>,
}

impl Grouper {
    /// Adds element `i` of `k` to window `w`.
    pub fn add(&mut self, k: &KeyedBatch, i: u32, w: Window) {
        let key = k.keys.of_record[i as usize];
        let groups = &mut self.groups;
        let g = *self.index.entry((key, w)).or_insert_with(|| {
            // The key is copied once per group, when its first element comes.
            groups.push(Group {
                key: Key {
                    bytes: k.keys.key(key as usize).to_vec(),
                    group: k.groups[key as usize],
                },
                window: w,
                records: Vec::new(),
            });
            groups.len() - 1
        });
        groups[g].records.push(i);
    }

    /// The groups.
    pub fn finish(self) -> Vec<Group> {
        self.groups
    }
}

/// A count accumulator's value.
pub fn count_of(acc: Option<&[u8]>) -> Result<u64> {
    match acc {
        None => Ok(0),
        Some(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .context("corrupt count accumulator"),
    }
}

/// Folds each group's elements into its window's accumulator; returns for each group
/// whether its window is new (had no accumulator).
#[allow(clippy::too_many_arguments)]
pub fn fold(
    groups: &[Group],
    batch: &Batch,
    kind: WindowAggregateKind,
    st: &WindowState,
    function: &mut dyn WindowFunction,
    errors: &ErrorHandler,
    metrics: &NodeMetrics,
    out: &mut Collector,
) -> Result<Vec<bool>> {
    let windows = || groups.iter().map(|g| (&g.key, &g.window));
    let old = st.accumulators_of(windows())?;
    let fresh = old.iter().map(Option::is_none).collect();
    let new = fold_into(groups, batch, kind, &old, function, errors, metrics, out)?;
    st.put_accumulators(windows().zip(new))?;
    Ok(fresh)
}

/// Folds each group's elements into its accumulator in `old` (`None`: a fresh one);
/// returns the new accumulators in group order.
#[allow(clippy::too_many_arguments)]
pub fn fold_into(
    groups: &[Group],
    batch: &Batch,
    kind: WindowAggregateKind,
    old: &[Option<Vec<u8>>],
    function: &mut dyn WindowFunction,
    errors: &ErrorHandler,
    metrics: &NodeMetrics,
    out: &mut Collector,
) -> Result<Vec<Vec<u8>>> {
    match kind {
        WindowAggregateKind::Count => groups
            .iter()
            .zip(old)
            .map(|(g, acc)| {
                let n = count_of(acc.as_deref())? + g.records.len() as u64;
                Ok(n.to_string().into_bytes())
            })
            .collect(),
        WindowAggregateKind::Function => {
            fold_function(groups, batch, old, function, errors, metrics, out)
        }
    }
}

/// A group to fold in one call: the group, its accumulator, the elements to fold.
type Part<'a> = (&'a Group, Option<&'a [u8]>, &'a [u32]);

fn call(
    groups: &[Part<'_>],
    batch: &Batch,
    function: &mut dyn WindowFunction,
    metrics: &NodeMetrics,
) -> Result<(Values, Vec<(u32, String)>), crate::wasm::Failure> {
    let mut keys = KeyTableBuilder::default();
    let mut elements = Batch::default();
    let mut folds = Vec::with_capacity(groups.len());
    let mut accs = Values::default();
    let mut origin = Vec::new();
    for (g, acc, records) in groups {
        keys.push(&g.key.bytes);
        let first = elements.len() as u32;
        for &i in *records {
            elements.push_record(&batch.get(i as usize));
            origin.push(i);
        }
        folds.push(Fold {
            window: TimeWindow {
                start: g.window.start,
                end: g.window.end,
            },
            first,
            count: records.len() as u32,
        });
        accs.push(*acc);
    }
    metrics.calls.add(1);
    let o = function.aggregate(&keys.finish(), &folds, &accs, &elements)?;
    let failed = o
        .errors
        .into_iter()
        .map(|e| (origin[e.index as usize], e.message))
        .collect();
    Ok((o.accumulators, failed))
}

fn fold_function(
    groups: &[Group],
    batch: &Batch,
    old: &[Option<Vec<u8>>],
    function: &mut dyn WindowFunction,
    errors: &ErrorHandler,
    metrics: &NodeMetrics,
    out: &mut Collector,
) -> Result<Vec<Vec<u8>>> {
    let all: Vec<Part<'_>> = groups
        .iter()
        .zip(old)
        .map(|(g, a)| (g, a.as_deref(), g.records.as_slice()))
        .collect();
    let first = call(&all, batch, function, metrics);
    if let Err(f) = &first
        && f.is_host()
    {
        return Err(host_failure(function.label(), f.clone()));
    }
    if let Ok((accs, failed)) = first {
        for (i, message) in failed {
            errors.failed(&batch.get(i as usize), &message, out)?;
        }
        return (0..accs.len())
            .map(|i| {
                accs.get(i)
                    .map(<[u8]>::to_vec)
                    .ok_or_else(|| anyhow!("aggregate returned no accumulator"))
            })
            .collect();
    }
    // The call failed as a whole: fold one element at a time to find the culprits.
    metrics.replays.add(1);
    let mut result = Vec::with_capacity(groups.len());
    for (g, acc) in groups.iter().zip(old) {
        let mut acc = acc.clone();
        for &i in &g.records {
            match call(&[(g, acc.as_deref(), &[i])], batch, function, metrics) {
                Ok((accs, failed)) => {
                    for (j, message) in failed {
                        errors.failed(&batch.get(j as usize), &message, out)?;
                    }
                    acc = accs.get(0).map(<[u8]>::to_vec);
                }
                Err(f) if f.is_host() => return Err(host_failure(function.label(), f)),
                Err(f) => errors.failed(&batch.get(i as usize), &f.to_string(), out)?,
            }
        }
        result.push(acc.unwrap_or_default());
    }
    Ok(result)
}

/// Merges the accumulators of session windows that merged into one.
pub fn merge(
    accs: &[Vec<u8>],
    kind: WindowAggregateKind,
    function: &mut dyn WindowFunction,
) -> Result<Vec<u8>> {
    match kind {
        WindowAggregateKind::Count => {
            let mut n = 0;
            for a in accs {
                n += count_of(Some(a))?;
            }
            Ok(n.to_string().into_bytes())
        }
        WindowAggregateKind::Function => {
            let mut values = Values::default();
            for a in accs {
                values.push(Some(a));
            }
            let merged = function
                .merge(&values, &[accs.len() as u32])
                .map_err(|f| anyhow!("merging session accumulators: {f}"))?;
            Ok(merged.get(0).map(<[u8]>::to_vec).unwrap_or_default())
        }
    }
}
