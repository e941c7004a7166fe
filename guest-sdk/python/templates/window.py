"""A process-window function: each fired window (its key, bounds and elements) in,
records out. Build it with ``weir build .`` or name this folder as a window operator's
``component``."""

import weir


@weir.process_window
class __CLASS__:
    def process(self, window, out):
        # With `aggregate = "count"` the window holds one element, its count:
        # window.elements.accumulator().
        out.emit_json({"key": window.key, "start": window.start, "end": window.end, "elements": len(window.elements)})
