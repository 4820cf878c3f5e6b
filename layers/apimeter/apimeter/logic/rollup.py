"""Finalized rollups: each finished hour recomputed from raw events, so hours and days are exact.

The stream path (logic/aggregate.py) keeps live figures and marks every (project, hour) it touches
pending. A scheduled run recomputes each pending hour once it has been over for ``GRACE_MS``
(stream lag, clock skew), writes it whole with ``final`` and the run's id, and then, when the day is
over too, rewrites the day as the sum of its hours. A final bucket refuses the stream's additions;
a late or redelivered event marks its hour pending again and the next run recomputes it. So no
retry, duplicate delivery or late event leaves a finalized figure wrong.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from apimeter.dal import events, rollups
from apimeter.domain import distinct
from apimeter.domain.ids import new_id
from apimeter.domain.rollups import DIMENSIONS, PROJECT_TOTAL, UNIQUE_CONSUMERS, RollupKey, deltas, merge_values
from apimeter.domain.shards import shards_over
from apimeter.domain.windows import STEP_MS, Run, bucket_key, bucket_ms, now_iso
from apimeter.settings import settings

GRACE_MS = 10 * 60_000
MARKER_DAYS = 7  # markers are read over the week they live (their TTL), so a stalled schedule loses none


@dataclass
class RunReport:
    run: str
    hours: int = 0
    days: int = 0
    events: int = 0
    deferred: int = 0  # markers of hours not yet over, or marked again during the run
    recomputed: list[tuple[str, str]] = field(default_factory=list)


def event_shards(project_id: str, end_ms: int) -> int:
    """The write shards that hold every event of the project timestamped before ``end_ms`` (its
    shard schedule, domain/shards.py)."""
    return shards_over(rollups.shard_schedule(project_id), end_ms, settings().event_shards)


def finalize_hour(project_id: str, hour: str, run: str) -> int:
    """Recompute one hour of one project from its raw events: its totals, and every endpoint and
    consumer in it and in each of its minutes; returns how many events there were."""
    start = bucket_ms(hour, "hour")
    end = start + STEP_MS["hour"]
    found = events.between(project_id, start, end, event_shards(project_id, end))
    buckets = {
        k: v
        for k, v in deltas(found, ("hour", "minute")).items()
        if k.granularity == "hour" or k.dimension != PROJECT_TOTAL
    }
    totals = RollupKey(project_id, "hour", PROJECT_TOTAL, hour)
    buckets.setdefault(totals, {})  # an hour without events is final too: zero
    if UNIQUE_CONSUMERS in buckets[totals]:
        codes = buckets[totals][UNIQUE_CONSUMERS]
        assert isinstance(codes, set)
        buckets[totals][UNIQUE_CONSUMERS] = distinct.compact(codes)
    minutes_expire_at = int(time.time()) + settings().minute_rollup_retention_hours * 3600
    # The minutes' packs first: once the hour's totals say final, readers take its minutes from them.
    minutes = {k: v for k, v in buckets.items() if k.granularity == "minute"}
    rollups.replace_all(minutes, run=run, computed_at=now_iso(), minute_expires_at=minutes_expire_at)
    hours = {k: v for k, v in buckets.items() if k.granularity == "hour"}
    rollups.replace_all(hours, run=run, computed_at=now_iso(), whole=[(project_id, "hour", hour)])
    return len(found)


def finalize_day(project_id: str, day: str, run: str) -> None:
    """A finished day is the sum of its hours (themselves recomputed from raw events), for the
    totals and for every endpoint and consumer."""
    start = bucket_ms(day, "day")
    hours = Run("hour", bucket_key(start, "hour"), bucket_key(start + STEP_MS["day"] - STEP_MS["hour"], "hour"), 24)
    buckets: dict[RollupKey, dict[str, Any]] = {RollupKey(project_id, "day", PROJECT_TOTAL, day): {}}
    for dimension in DIMENSIONS:
        by_value: dict[str, list[dict[str, Any]]] = {}
        for item in rollups.read_runs(project_id, [hours], dimension).items:
            value = "" if dimension == PROJECT_TOTAL else rollups.value_of(item)[1]
            by_value.setdefault(value, []).append(item)
        for value, items in by_value.items():
            buckets[RollupKey(project_id, "day", dimension, day, value)] = merge_values(items)
    rollups.replace_all(buckets, run=run, computed_at=now_iso(), whole=[(project_id, "day", day)])


def run(now_ms: int | None = None) -> RunReport:
    """Finalize every pending hour that is over, then the finished days they belong to."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    report = RunReport(run=new_id("run"))
    marking_days = [bucket_key(now - n * STEP_MS["day"], "day") for n in range(MARKER_DAYS)]
    days: set[tuple[str, str]] = set()
    done: list[rollups.Pending] = []
    for marker in rollups.pending(marking_days):
        if bucket_ms(marker.hour, "hour") + STEP_MS["hour"] + GRACE_MS > now:
            report.deferred += 1
            continue
        report.events += finalize_hour(marker.project_id, marker.hour, report.run)
        report.hours += 1
        report.recomputed.append((marker.project_id, marker.hour))
        done.append(marker)
        day = marker.hour[:10]
        if bucket_ms(day, "day") + STEP_MS["day"] + GRACE_MS <= now:
            days.add((marker.project_id, day))
    for project_id, day in sorted(days):
        finalize_day(project_id, day, report.run)
        report.days += 1
    # Only now, with every day they feed rewritten: a run that ends early (a timeout, a throttle past
    # the retries) leaves its hours marked, so the next run recomputes them and their days. Cleared
    # any earlier, an hour recomputed for a late event could leave its finished day short for good.
    for marker in done:
        if not rollups.clear_pending(marker):
            report.deferred += 1  # marked again while we worked: the next run recomputes it
    return report


def request_recompute(project_id: str, start_ms: int, end_ms: int, now_ms: int | None = None) -> int:
    """Mark every hour of a range pending (a backfill); the next run recomputes them. Idempotent."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    first = start_ms - start_ms % STEP_MS["hour"]
    hours = range(first, end_ms, STEP_MS["hour"])
    for hour in hours:
        rollups.mark_pending(project_id, bucket_key(hour, "hour"), now)
    return len(hours)
