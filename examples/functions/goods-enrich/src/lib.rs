//! Enriches orders with goods names. The goods stream is broadcast: every instance applies
//! every update, so each holds the whole goods table in broadcast state. Removals delete
//! entries, so the table holds only goods that exist.
//!
//! Goods updates: `{"op":"upsert","goods_id":"g1","name":"Tea"}` or
//! `{"op":"remove","goods_id":"g1"}`. Orders: `{"order_id":"o1","goods_id":"g1",...}`.
//! Output: the order with `"goods_name"` added (`null` for unknown goods).

use serde::Deserialize;
use serde_json::{Map as JsonMap, Value};
use weir_sdk::{BroadcastProcess, BroadcastState, InitContext, Output, Record, Result, bail};

#[derive(Deserialize)]
struct Update {
    op: String,
    goods_id: String,
    name: Option<String>,
}

/// The function: the goods table.
pub struct GoodsEnrich {
    goods: BroadcastState<String, String>,
}

impl BroadcastProcess for GoodsEnrich {
    fn init(_: &InitContext) -> Result<Self> {
        Ok(GoodsEnrich {
            goods: BroadcastState::new("goods"),
        })
    }

    fn process_element(&mut self, record: &Record<'_>, out: &mut Output) -> Result<()> {
        let mut order: JsonMap<String, Value> = record.json()?;
        let Some(Value::String(id)) = order.get("goods_id") else {
            bail!("the order has no goods_id");
        };
        let name = self.goods.get(id.as_str())?;
        order.insert("goods_name".into(), name.map_or(Value::Null, Value::String));
        out.emit_json(&order)
    }

    fn process_broadcast(&mut self, record: &Record<'_>, _out: &mut Output) -> Result<()> {
        let u: Update = record.json()?;
        match (u.op.as_str(), u.name) {
            ("upsert", Some(name)) => self.goods.put(&u.goods_id, &name)?,
            ("upsert", None) => bail!("upsert of {} without a name", u.goods_id),
            ("remove", _) => self.goods.remove(&u.goods_id)?,
            (op, _) => bail!("unknown op {op:?}"),
        }
        Ok(())
    }
}

weir_sdk::export_broadcast!(GoodsEnrich);
