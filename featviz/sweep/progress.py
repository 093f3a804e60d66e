"""One progress bar for a whole sweep: items done of all, items per second and time left."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class SweepProgress:
    """Draws `[====>   ] 12/40 items  0.35 items/s  ETA 1m20s` on stderr.

    On a terminal the line is redrawn after every item; otherwise (logs, CI) a line is printed
    at every 10% of the items left. The rate counts only items rendered by this run, so that a
    resumed sweep's estimate is not flattered by what an earlier run did.

    Args:
        total: all items of the sweep.
        done: items already finished before this run.
        stream: where to draw (stderr by default).
        width: characters of the bar.
    """

    def __init__(self, total: int, done: int = 0, stream: TextIO | None = None, width: int = 30) -> None:
        self.total = total
        self.done = done
        self._first = done
        self._out = stream or sys.stderr
        self._tty = hasattr(self._out, "isatty") and self._out.isatty()
        self._width = width
        self._start = time.perf_counter()
        self._printed_tenth = 0

    def line(self) -> str:
        """The current bar as text."""
        filled = int(self._width * self.done / max(self.total, 1))
        bar = "=" * filled + (">" if filled < self._width else "") + " " * (self._width - filled - 1)
        new = self.done - self._first
        rate = new / max(time.perf_counter() - self._start, 1e-9)
        eta = f"{(self.total - self.done) / rate:.0f}s" if rate > 0 else "?"
        return f"[{bar}] {self.done}/{self.total} items  {rate:.2f} items/s  ETA {eta}"

    def advance(self) -> None:
        """Counts one more finished item and redraws."""
        self.done += 1
        if self._tty:
            self._out.write("\r" + self.line())
            self._out.flush()
            return
        left = max(self.total - self._first, 1)
        tenth = (self.done - self._first) * 10 // left
        if tenth > self._printed_tenth:
            self._printed_tenth = tenth
            self._out.write(self.line() + "\n")
            self._out.flush()

    def close(self) -> None:
        """Ends the bar's line on a terminal."""
        if self._tty:
            self._out.write("\n")
            self._out.flush()
