"""Enriches orders with goods names: the Rust ``goods-enrich`` in Python. The goods stream
is broadcast: every instance applies every update, so each holds the whole goods table in
broadcast state.

Goods updates: ``{"op":"upsert","goods_id":"g1","name":"Tea"}`` or
``{"op":"remove","goods_id":"g1"}``. Orders: ``{"order_id":"o1","goods_id":"g1",...}``.
Output: the order with ``"goods_name"`` added (null for unknown goods)."""

import weir
from weir.fields import string


@weir.broadcast_process
class GoodsEnrich:
    def init(self, ctx):
        self.goods = weir.BroadcastState("goods")

    def process_element(self, record, out):
        order = record.json()
        if not isinstance(order, dict):
            raise TypeError("an order is a JSON object")
        if not isinstance(order.get("goods_id"), str):
            raise ValueError("the order has no goods_id")
        order["goods_name"] = self.goods.get(order["goods_id"])
        out.emit_json(order)

    def process_broadcast(self, record, out):
        update = record.json()
        op, goods_id = string(update, "op"), string(update, "goods_id")
        if op == "upsert":
            name = update.get("name")
            if not isinstance(name, str):
                raise ValueError(f"upsert of {goods_id} without a name")
            self.goods.put(goods_id, name)
        elif op == "remove":
            self.goods.remove(goods_id)
        else:
            raise ValueError(f"unknown op {op!r}")
