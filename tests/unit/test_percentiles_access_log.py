"""Percentiles from rollups stay within the sketch's stated relative error of the exact values.

The real access log (../shared/data, elastic/examples) has no latencies, so each request gets one
from a seeded heavy-tailed mixture (log-normal body, slow log-normal tail). The events go through
the same code the stream and the recompute use (``deltas``) into minute, hour and day buckets; each
bucket's p50/p90/p95/p99, for the project and for each endpoint (and the whole log's, merged across
days and across endpoints) must be within 1 % of the exact nearest-rank value of the same latencies.
"""

from __future__ import annotations

import math
import random
import re
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import pytest

from apimeter.domain import sketch
from apimeter.domain.events import TrackedEvent
from apimeter.domain.rollups import ENDPOINT, PROJECT_TOTAL, deltas, endpoint_of, merge

LOG = Path(__file__).resolve().parents[3] / "shared" / "data" / "access-logs" / "apache_combined_2015.log"
LINE = re.compile(r'\[([^\]]+)\] "(\S+) (\S+) [^"]*" (\d{3})')
QUANTILES = (0.5, 0.9, 0.95, 0.99)


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@pytest.fixture(scope="module")
def events() -> list[TrackedEvent]:
    if not LOG.exists():
        pytest.skip("shared data not present")
    rng = random.Random(2015)
    found = []
    for number, line in enumerate(LOG.read_text().splitlines()):
        match = LINE.search(line)
        assert match, line
        when, method, path, status = match.groups()
        slow = rng.random() < 0.07
        latency = rng.lognormvariate(6.2, 0.6) if slow else rng.lognormvariate(3.0, 0.8)
        ts = int(datetime.strptime(when, "%d/%b/%Y:%H:%M:%S %z").timestamp() * 1000)
        found.append(TrackedEvent("prj", f"e{number}", ts, method, path, int(status), "f", latency_ms=latency))
    assert len(found) == 10_000
    return found


def test_every_bucket_and_the_merge_are_within_the_stated_error(events: list[TrackedEvent]) -> None:
    buckets = deltas(events)
    latencies: dict[tuple[str, str, str], list[float]] = defaultdict(list)
    for event in events:
        minute = datetime.fromtimestamp(event.ts_ms / 1000, UTC)
        for granularity, fmt in (("minute", "%Y-%m-%dT%H:%M"), ("hour", "%Y-%m-%dT%H"), ("day", "%Y-%m-%d")):
            latencies[(granularity, minute.strftime(fmt), "")].append(event.latency_ms or 0.0)
            latencies[(granularity, minute.strftime(fmt), endpoint_of(event))].append(event.latency_ms or 0.0)
    buckets = {k: v for k, v in buckets.items() if k.dimension in (PROJECT_TOTAL, ENDPOINT)}
    checked = 0
    for key, values in buckets.items():
        expected = latencies[(key.granularity, key.bucket, key.value)]
        got = merge([values]).latency()
        for q in QUANTILES:
            truth = exact(expected, q)
            mark = got[f"p{round(q * 100)}"]
            assert mark is not None, (key, q)
            assert abs(mark - truth) <= sketch.RELATIVE_ACCURACY * truth + 0.001, (key, q)
            checked += 1
    everything = [e.latency_ms or 0.0 for e in events]
    for dimension in (PROJECT_TOTAL, ENDPOINT):  # across days, and across days and endpoints
        merged = merge(v for k, v in buckets.items() if k.granularity == "day" and k.dimension == dimension)
        for q in QUANTILES:
            truth = exact(everything, q)
            mark = merged.latency()[f"p{round(q * 100)}"]
            assert mark is not None, (dimension, q)
            assert abs(mark - truth) <= sketch.RELATIVE_ACCURACY * truth + 0.001, (dimension, q)
    totals = {g: sum(1 for k in buckets if k.granularity == g and not k.value) for g in ("minute", "hour", "day")}
    assert totals == {"minute": 84, "hour": 84, "day": 4}  # every bucket of the log was checked
    assert sum(1 for k in buckets if k.dimension == ENDPOINT and k.granularity == "day") > 1_000
    assert checked == 4 * len(buckets)
