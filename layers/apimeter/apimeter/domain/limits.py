"""Rate-limit arithmetic: windows, what a counter may reach, and what the client is told.

A scope (an API key, a user, a project, a tenant) has limits per minute, hour and day. Counting is
fixed-window in UTC. A request of cost ``n`` (1 for a read, the number of events for ingest) is
accepted only if every window of every scope it touches stays within its limit after adding ``n``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

Window = Literal["minute", "hour", "day"]
WINDOWS: tuple[Window, ...] = ("minute", "hour", "day")
WINDOW_SECONDS: dict[Window, int] = {"minute": 60, "hour": 3600, "day": 86_400}


@dataclass(frozen=True, slots=True)
class Limits:
    per_minute: int
    per_hour: int
    per_day: int

    def of(self, window: Window) -> int:
        return {"minute": self.per_minute, "hour": self.per_hour, "day": self.per_day}[window]


@dataclass(frozen=True, slots=True)
class Instant:
    """Where ``now`` falls: the counter item (day), attribute (hour), and minute number."""

    day: str  # 2026-11-22
    hour: str  # h07
    minute: int  # minutes since the epoch
    epoch: float

    @classmethod
    def at(cls, epoch: float) -> Instant:
        moment = datetime.fromtimestamp(epoch, UTC)
        return cls(moment.strftime("%Y-%m-%d"), moment.strftime("h%H"), int(epoch // 60), epoch)

    def reset(self, window: Window) -> int:
        """Epoch second at which ``window`` starts over."""
        size = WINDOW_SECONDS[window]
        return int(self.epoch // size + 1) * size


@dataclass(frozen=True, slots=True)
class Usage:
    """A scope's counts after (or, when refused, before) a charge."""

    minute: int
    hour: int
    day: int

    def of(self, window: Window) -> int:
        return {"minute": self.minute, "hour": self.hour, "day": self.day}[window]


def exceeded(usage: Usage, limits: Limits, cost: int) -> Window | None:
    """The first window that adding ``cost`` to ``usage`` would take over its limit."""
    for window in WINDOWS:
        if usage.of(window) + cost > limits.of(window):
            return window
    return None


@dataclass(frozen=True, slots=True)
class Headers:
    """X-RateLimit-* for the window with the least room left (Reset: epoch seconds)."""

    limit: int
    remaining: int
    reset: int
    retry_after: int | None = None

    def as_dict(self) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        return headers


def tightest(charged: list[tuple[Usage, Limits]], now: Instant) -> Headers:
    best: Headers | None = None
    for usage, limits in charged:
        for window in WINDOWS:
            remaining = max(0, limits.of(window) - usage.of(window))
            if best is None or remaining < best.remaining:
                best = Headers(limits.of(window), remaining, now.reset(window))
    assert best is not None
    return best


def refused(limits: Limits, usage: Usage, window: Window, now: Instant) -> Headers:
    reset = now.reset(window)
    return Headers(limits.of(window), max(0, limits.of(window) - usage.of(window)), reset,
                   max(1, math.ceil(reset - now.epoch)))  # fmt: skip
