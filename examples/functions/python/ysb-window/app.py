"""The Yahoo Streaming Benchmark's window step: the host counts views per campaign and
10 s window (``aggregate = "count"``); this function formats each count as
``{"campaign_id", "window_start", "window_end", "count"}``. The Rust ``ysb-window`` in Python."""

import weir


@weir.process_window
class YsbWindow:
    def process(self, window, out):
        out.emit_json(
            {
                "campaign_id": window.key,
                "window_start": window.start,
                "window_end": window.end,
                "count": window.elements.accumulator(),
            }
        )
