//! What the export macros call in Wasm: conversions between the generated WIT types and
//! the SDK's, around the target-independent drivers.

use std::cell::RefCell;

use crate::abi::bindings::broadcast::weir::udf::types as wit;
use crate::abi::bindings::migrating::exports::weir::udf::state_migration as sm;
use crate::abi::bindings::timed::exports::weir::udf::timer_function as tf;
use crate::abi::bindings::window::exports::weir::udf::window_function as wf;
use crate::batch::{BatchView, KeyTableView, Values};
use crate::broadcast::{self, BroadcastProcess};
use crate::context::InitContext;
use crate::error::Result;
use crate::log::Level;
use crate::map::{self, Map};
use crate::migrate::{self, Migrate};
use crate::output::Output;
use crate::record::Header;
use crate::state::TimeWindow;
use crate::window::{self, ProcessWindow, WindowAggregate, WindowSpec};

/// Where an export macro keeps its function instance.
pub type Slot<T> = RefCell<Option<T>>;

/// Creates the instance; also routes panics into the job log, so a trap's error names
/// the panic message.
pub fn init<T>(
    slot: &Slot<T>,
    ctx: wit::InitContext,
    make: fn(&InitContext) -> Result<T>,
) -> Result<(), String> {
    std::panic::set_hook(Box::new(|info| {
        crate::log::log(Level::Error, &format!("panic: {info}"));
    }));
    let ctx = InitContext {
        operator: ctx.operator,
        config: ctx.config,
        files: ctx.files,
        subtask: ctx.subtask,
        parallelism: ctx.parallelism,
    };
    let f = make(&ctx).map_err(|e| e.to_string())?;
    *slot.borrow_mut() = Some(f);
    Ok(())
}

fn with_instance<T, R>(slot: &Slot<T>, f: impl FnOnce(&mut T) -> R) -> R {
    let mut guard = slot.borrow_mut();
    let instance = guard
        .as_mut()
        .expect("the host called the function before init");
    f(instance)
}

/// A lifted batch with its headers in the SDK's type.
struct Parts {
    batch: wit::Batch,
    headers: Vec<Header>,
}

impl Parts {
    fn new(mut batch: wit::Batch) -> Self {
        let headers = std::mem::take(&mut batch.headers)
            .into_iter()
            .map(|h| Header {
                record: h.record,
                name: h.name,
                value: h.value,
            })
            .collect();
        Self { batch, headers }
    }

    fn view(&self) -> BatchView<'_> {
        BatchView {
            data: &self.batch.data,
            ends: &self.batch.ends,
            flags: &self.batch.flags,
            timestamps: &self.batch.timestamps,
            headers: &self.headers,
        }
    }
}

fn keys(k: &wit::KeyTable) -> KeyTableView<'_> {
    KeyTableView {
        data: &k.data,
        ends: &k.ends,
        of_record: &k.of_record,
    }
}

fn output(mut out: Output) -> wit::Output {
    let (batch, origins, errors) = out.take();
    wit::Output {
        records: wit::Batch {
            data: batch.data,
            ends: batch.ends,
            flags: batch.flags,
            timestamps: batch.timestamps,
            headers: batch
                .headers
                .into_iter()
                .map(|h| wit::Header {
                    record: h.record,
                    name: h.name,
                    value: h.value,
                })
                .collect(),
        },
        origins,
        errors: errors
            .into_iter()
            .map(|e| wit::RecordError {
                index: e.index,
                message: e.message,
            })
            .collect(),
    }
}

fn values_in(v: wit::Values) -> Values {
    Values {
        data: v.data,
        ends: v.ends,
        present: v.present,
    }
}

fn values_out(v: Values) -> wit::Values {
    wit::Values {
        data: v.data,
        ends: v.ends,
        present: v.present,
    }
}

fn spec(
    window: wit::TimeWindow,
    first: u32,
    count: u32,
    update: bool,
    timing: crate::window::Timing,
) -> WindowSpec {
    WindowSpec {
        timing,
        window: TimeWindow {
            start: window.start,
            end: window.end,
        },
        first,
        count,
        update,
    }
}

/// `map-function.process`.
pub fn map_process<M: Map>(
    slot: &Slot<M>,
    input: wit::Batch,
    k: Option<wit::KeyTable>,
) -> wit::Output {
    let parts = Parts::new(input);
    let mut out = Output::default();
    with_instance(slot, |f| {
        map::process_batch(f, parts.view(), k.as_ref().map(keys), &mut out)
    });
    output(out)
}

/// `timer-function.on-timer`.
pub fn map_on_timer<M: crate::timers::OnTimer>(
    slot: &Slot<M>,
    k: wit::KeyTable,
    timers: Vec<tf::FiredTimer>,
) -> wit::Output {
    use crate::timers::TimeDomain;
    let timers: Vec<(i64, TimeDomain)> = timers
        .iter()
        .map(|t| {
            let d = match t.domain {
                tf::TimeDomain::EventTime => TimeDomain::EventTime,
                tf::TimeDomain::ProcessingTime => TimeDomain::ProcessingTime,
            };
            (t.time, d)
        })
        .collect();
    let mut out = Output::default();
    with_instance(slot, |f| {
        crate::timers::fire_timers(f, keys(&k), &timers, &mut out)
    });
    output(out)
}

/// `window-function.process`.
pub fn window_process<W: ProcessWindow>(
    slot: &Slot<W>,
    k: wit::KeyTable,
    windows: Vec<wf::FiredWindow>,
    elements: wit::Batch,
) -> wit::Output {
    let parts = Parts::new(elements);
    let timings = crate::abi::pane_timings();
    let specs: Vec<WindowSpec> = windows
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let timing = timings
                .get(i)
                .copied()
                .unwrap_or(crate::window::Timing::OnTime);
            spec(w.window, w.first, w.count, w.update, timing)
        })
        .collect();
    let mut out = Output::default();
    with_instance(slot, |f| {
        window::process_windows(f, keys(&k), &specs, parts.view(), &mut out)
    });
    output(out)
}

/// `window-function.aggregate` of a function with an incremental aggregate.
pub fn window_aggregate<W: WindowAggregate>(
    slot: &Slot<W>,
    folds: Vec<wf::Fold>,
    accumulators: wit::Values,
    elements: wit::Batch,
) -> wf::FoldOutput {
    let parts = Parts::new(elements);
    let specs: Vec<WindowSpec> = folds
        .iter()
        .map(|f| {
            spec(
                f.window,
                f.first,
                f.count,
                false,
                crate::window::Timing::OnTime,
            )
        })
        .collect();
    let accs = values_in(accumulators);
    let (accs, errors) = with_instance(slot, |f| window::aggregate(f, &specs, &accs, parts.view()));
    wf::FoldOutput {
        accumulators: values_out(accs),
        errors: errors
            .into_iter()
            .map(|e| wit::RecordError {
                index: e.index,
                message: e.message,
            })
            .collect(),
    }
}

/// `window-function.merge` of a function with an incremental aggregate.
pub fn window_merge<W: WindowAggregate>(
    slot: &Slot<W>,
    accumulators: wit::Values,
    groups: Vec<u32>,
) -> Result<wit::Values, String> {
    let accs = values_in(accumulators);
    with_instance(slot, |f| window::merge(f, &accs, &groups))
        .map(values_out)
        .map_err(|e| e.to_string())
}

const NO_AGGREGATE: &str =
    "this function has no incremental aggregate: export it with `export_window!(T, aggregate)`";

/// `window-function.aggregate` of a function without one: every element fails.
pub fn no_aggregate(folds: Vec<wf::Fold>, accumulators: wit::Values) -> wf::FoldOutput {
    let errors = folds
        .iter()
        .flat_map(|f| f.first..f.first + f.count)
        .map(|index| wit::RecordError {
            index,
            message: NO_AGGREGATE.to_owned(),
        })
        .collect();
    wf::FoldOutput {
        accumulators,
        errors,
    }
}

/// `window-function.merge` of a function without an aggregate.
pub fn no_merge() -> Result<wit::Values, String> {
    Err(NO_AGGREGATE.to_owned())
}

/// `broadcast-function.process-element`.
pub fn broadcast_element<B: BroadcastProcess>(
    slot: &Slot<B>,
    input: wit::Batch,
    k: Option<wit::KeyTable>,
) -> wit::Output {
    let parts = Parts::new(input);
    let mut out = Output::default();
    with_instance(slot, |f| {
        broadcast::process_elements(f, parts.view(), k.as_ref().map(keys), &mut out)
    });
    output(out)
}

/// `broadcast-function.process-broadcast`.
pub fn broadcast_broadcast<B: BroadcastProcess>(slot: &Slot<B>, input: wit::Batch) -> wit::Output {
    let parts = Parts::new(input);
    let mut out = Output::default();
    with_instance(slot, |f| {
        broadcast::process_broadcasts(f, parts.view(), &mut out)
    });
    output(out)
}

/// `state-migration.migrations`.
pub fn migrations<M: Migrate>() -> Vec<sm::Migration> {
    M::migrations()
        .iter()
        .map(|m| sm::Migration {
            state: m.state().to_owned(),
            from_type: m.from_type().to_owned(),
        })
        .collect()
}

/// `state-migration.migrate`.
pub fn migrate<M: Migrate>(
    state: String,
    from_type: String,
    values: wit::Values,
) -> Result<wit::Values, String> {
    let mut start = 0usize;
    let mut items = Vec::with_capacity(values.ends.len());
    for &end in &values.ends {
        let end = end as usize;
        items.push(&values.data[start..end]);
        start = end;
    }
    let out = migrate::migrate_values(&M::migrations(), &state, &from_type, items.into_iter())?;
    let mut v = wit::Values {
        data: Vec::new(),
        ends: Vec::with_capacity(out.len()),
        present: Vec::with_capacity(out.len()),
    };
    for item in out {
        v.present.push(item.is_some());
        if let Some(bytes) = item {
            v.data.extend_from_slice(&bytes);
        }
        v.ends.push(v.data.len() as u32);
    }
    Ok(v)
}
