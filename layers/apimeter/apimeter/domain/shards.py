"""How many write shards one day of a project's events spreads over, and when that grows.

An events table partition takes about 1,000 writes a second. A project's day is spread over write
shards by a hash of each event's id, so a project that sends faster than its shards take needs more
of them. The count is a *schedule*: steps ``(since_ms, shards)`` that only grow, each applying to
events *timestamped* from ``since_ms`` on. An event's shard therefore depends only on its own id and
timestamp, and a resend of it always lands on the key of its first copy (exactly-once stays one
conditional put), whenever it is resent. A new step takes effect a little in the future, later than
every writer can still be using the schedule it read before (their cache, plus how far ahead an
event may be timestamped), so no event of that time is ever written under the old count.

Readers read a time range over the largest count in force in it: the counts only grow, so that is
the count at the range's end, and shards no event was written to are merely empty.
"""

from __future__ import annotations

from dataclasses import dataclass

PER_SHARD_RATE = 500  # events a second a shard is planned for: half of what a partition takes
MAX_SHARDS = 1024


@dataclass(frozen=True, slots=True)
class Step:
    since_ms: int
    shards: int


Schedule = tuple[Step, ...]


def shards_at(schedule: Schedule, ts_ms: int, default: int) -> int:
    """The count an event timestamped ``ts_ms`` was (or is) written under."""
    count = default
    for step in schedule:
        if step.since_ms <= ts_ms:
            count = max(count, step.shards)
    return count


def shards_over(schedule: Schedule, end_ms: int, default: int) -> int:
    """The count that covers every event timestamped before ``end_ms``."""
    return shards_at(schedule, end_ms - 1, default)


def grown(schedule: Schedule, default: int, rate: float, now_ms: int, lead_ms: int) -> Step | None:
    """The step to add when events arrive at ``rate`` a second, more than the shards in force (or
    scheduled) are planned for: twice what the rate needs, in a power of two, from ``lead_ms`` on,
    at a whole minute. None when the shards suffice."""
    current = max([default, *(step.shards for step in schedule)])
    if rate <= current * PER_SHARD_RATE or current >= MAX_SHARDS:
        return None
    needed = 1
    while needed * PER_SHARD_RATE < 2 * rate:
        needed *= 2
    since = -(-(now_ms + lead_ms) // 60_000) * 60_000
    return Step(since, min(MAX_SHARDS, max(needed, 2 * current)))
