"""A broadcast-process function: the broadcast input fills a table that every parallel
instance holds; each main-input record is enriched from it. Build it with
``weir build .`` or name this folder as a broadcast operator's ``component``."""

import weir


@weir.broadcast_process
class __CLASS__:
    def init(self, ctx):
        self.table = weir.BroadcastState("table")

    def process_broadcast(self, record, out):
        # Broadcast records: {"id": "...", "value": ...}, or {"id": "...", "remove": true}.
        update = record.json()
        if update.get("remove"):
            self.table.remove(update["id"])
        else:
            self.table.put(update["id"], update["value"])

    def process_element(self, record, out):
        # Main records: {"id": "...", ...}, emitted with the table's value added.
        event = record.json()
        out.emit_json({**event, "value": self.table.get(event["id"])})
