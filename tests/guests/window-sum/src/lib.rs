//! A process-window function with an incremental aggregate: sums the field `n` of the
//! elements (an element without it is an error for that element) and emits
//! `{"key","start","end","sum","elements"}`.

use serde::{Deserialize, Serialize};
use serde_json::json;
use weir_sdk::{FiredWindow, InitContext, Output, ProcessWindow, Record, Result, WindowAggregate};

#[derive(Serialize, Deserialize, Default)]
pub struct Sum {
    sum: i64,
    elements: u64,
}

#[derive(Deserialize)]
struct Element {
    n: i64,
}

pub struct WindowSum;

impl ProcessWindow for WindowSum {
    fn init(_: &InitContext) -> Result<Self> {
        Ok(WindowSum)
    }

    fn process(&mut self, w: &FiredWindow<'_>, out: &mut Output) -> Result<()> {
        let acc: Sum = w.elements.accumulator()?;
        out.emit_json(&json!({
            "key": w.key_str()?,
            "start": w.window.start,
            "end": w.window.end,
            "sum": acc.sum,
            "elements": acc.elements,
        }))
    }
}

impl WindowAggregate for WindowSum {
    type Acc = Sum;

    fn add(&self, acc: &mut Sum, element: &Record<'_>) -> Result<()> {
        let e: Element = element.json()?;
        acc.sum += e.n;
        acc.elements += 1;
        Ok(())
    }

    fn merge(&self, acc: &mut Sum, other: Sum) {
        acc.sum += other.sum;
        acc.elements += other.elements;
    }
}

weir_sdk::export_window!(WindowSum, aggregate);
