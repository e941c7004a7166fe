"""A map function: each input record in, zero or more records out. Build it with
``weir build .`` or name this folder as an operator's ``component``."""

import weir


@weir.map
class __CLASS__:
    def init(self, ctx):
        # ctx.config is the operator's `config` table; declare keyed state here, e.g.
        # self.seen = ctx.value_state("seen") (on keyed input).
        self.tag = ctx.config.get("tag", "__NAME__")

    def map(self, record, out):
        event = record.json()  # an exception rejects this record, with its traceback
        out.emit_json({**event, "tag": self.tag}, key=record.key)
