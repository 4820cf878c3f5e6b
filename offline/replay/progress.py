"""A plain-text progress bar: redrawn in place on a terminal, a line every few seconds otherwise."""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable
from typing import TextIO

WIDTH = 24
RATE_WINDOW_SECONDS = 30.0  # the rate (and so the ETA) follows the last half minute


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


class Progress:
    def __init__(
        self,
        total: int,
        label: str = "events",
        stream: TextIO | None = None,
        line_every: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = max(0, total)
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.line_every = line_every if not self.tty else 0.2
        self.clock = clock
        self.started = clock()
        self._samples: deque[tuple[float, int]] = deque([(self.started, 0)])
        self._shown = -float("inf")
        self._width = 0

    def rate(self, done: int) -> float:
        """Events per second over the last ``RATE_WINDOW_SECONDS``."""
        now = self.clock()
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[1][0] >= RATE_WINDOW_SECONDS:
            self._samples.popleft()
        first_at, first_done = self._samples[0]
        return (done - first_done) / (now - first_at) if now > first_at else 0.0

    def line(self, done: int, note: str = "") -> str:
        rate = self.rate(done)
        share = done / self.total if self.total else 1.0
        filled = min(WIDTH, round(share * WIDTH))
        left = self.total - done
        eta = duration(left / rate) if rate > 0 and left > 0 else ("0s" if left <= 0 else "?")
        text = (f"[{'#' * filled}{'.' * (WIDTH - filled)}] {done:,}/{self.total:,} {self.label}"
                f"  {rate:,.0f}/s  ETA {eta}  elapsed {duration(self.clock() - self.started)}")  # fmt: skip
        return f"{text}  {note}" if note else text

    def update(self, done: int, note: str = "", force: bool = False) -> None:
        now = self.clock()
        if not force and now - self._shown < self.line_every:
            return
        self._shown = now
        text = self.line(done, note)
        if self.tty:
            self.stream.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self, done: int, note: str = "") -> None:
        self.update(done, note, force=True)
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
