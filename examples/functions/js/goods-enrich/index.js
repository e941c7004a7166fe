// Enriches orders with goods names: the Rust `goods-enrich` in JavaScript. The goods
// stream is broadcast: every instance applies every update, so each holds the whole goods
// table in broadcast state.
//
// Goods updates: {"op":"upsert","goods_id":"g1","name":"Tea"} or {"op":"remove","goods_id":"g1"}.
// Orders: {"order_id":"o1","goods_id":"g1",...}. Output: the order with "goods_name"
// added (null for unknown goods).
import { BroadcastProcessFunction, BroadcastState, fields } from "weir-sdk";

export default class GoodsEnrich extends BroadcastProcessFunction {
  init() {
    this.goods = new BroadcastState("goods");
  }

  processElement(record, out) {
    const order = record.json();
    if (order === null || typeof order !== "object" || Array.isArray(order)) throw new TypeError("an order is a JSON object");
    if (typeof order.goods_id !== "string") throw new Error("the order has no goods_id");
    order.goods_name = this.goods.get(order.goods_id) ?? null;
    out.emitJson(order);
  }

  processBroadcast(record) {
    const update = record.json();
    const op = fields.string(update, "op");
    const id = fields.string(update, "goods_id");
    if (op === "upsert") {
      if (typeof update.name !== "string") throw new Error(`upsert of ${id} without a name`);
      this.goods.put(id, update.name);
    } else if (op === "remove") {
      this.goods.remove(id);
    } else {
      throw new Error(`unknown op ${JSON.stringify(op)}`);
    }
  }
}
