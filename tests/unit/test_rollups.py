from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import pytest

from apimeter.domain import distinct
from apimeter.domain.events import TrackedEvent
from apimeter.domain.rollups import (
    CONSUMER,
    ENDPOINT,
    PROJECT_TOTAL,
    UNIQUE_CONSUMERS,
    RollupKey,
    consumer_of,
    contribution,
    deltas,
    endpoint_of,
    merge,
    merge_values,
)
from apimeter.domain.windows import GRANULARITIES, Granularity, bucket_key, bucket_start

TS = 1_763_814_645_000  # 2025-11-22T12:30:45Z


def event(status: int, latency: float | None = 10.0, cost: float | None = 0.1, ts: int = TS) -> TrackedEvent:
    return TrackedEvent(
        project_id="prj",
        event_id=f"e{status}{ts}{latency}",
        ts_ms=ts,
        method="GET",
        endpoint="/x",
        status=status,
        fingerprint="f",
        latency_ms=latency,
        request_bytes=10,
        response_bytes=100,
        cost=cost,
    )


def test_each_event_counts_once_in_its_minute_hour_and_day_and_its_endpoint() -> None:
    result = deltas([event(200), event(404), event(503, latency=None, cost=None)])
    buckets: tuple[tuple[Granularity, str], ...] = (
        ("minute", "2025-11-22T12:30"),
        ("hour", "2025-11-22T12"),
        ("day", "2025-11-22"),
    )
    assert set(result) == {RollupKey("prj", g, PROJECT_TOTAL, b) for g, b in buckets} | {
        RollupKey("prj", g, ENDPOINT, b, "GET /x") for g, b in buckets
    }
    for values in result.values():
        assert values["requests"] == 3
        assert values["errors"] == 2
        assert (values["c2xx"], values["c4xx"], values["c5xx"]) == (1, 1, 1)
        assert values["lat_n"] == 2
        assert values["bytes_out"] == 300
        assert values["cost"] == Decimal("0.2")


def test_merge_sums_buckets_exactly() -> None:
    minute_items = [dict(values) for values in deltas([event(200, cost=0.1)] * 3).values()]
    totals = merge(minute_items[:1] * 10)
    assert totals.requests == 30
    assert totals.cost == Decimal("3.0")  # 30 x 0.1, no float drift
    assert totals.status_codes == {200: 30}
    assert totals.error_rate == 0.0
    latency = totals.latency()
    assert latency["avg"] == 10.0
    assert abs((latency["p99"] or 0) - 10.0) <= 0.1


def test_empty_totals() -> None:
    totals = merge([])
    assert totals.requests == 0
    assert totals.error_rate == 0.0
    assert totals.latency() == {"avg": None, "p50": None, "p75": None, "p90": None, "p95": None, "p99": None}


def test_consumers_get_their_own_buckets_and_a_unique_count_on_minutes() -> None:
    events = [event(200), event(201, ts=TS + 1), event(500, ts=TS + 2)]
    events[0].consumer, events[1].consumer, events[2].consumer = "alice", "bob", "alice"
    events[2].folded = "e"  # its endpoint was over the project's cap
    result = deltas(events)
    alice = result[RollupKey("prj", "hour", CONSUMER, "2025-11-22T12", "alice")]
    assert (alice["requests"], alice["errors"]) == (2, 1)
    assert result[RollupKey("prj", "day", ENDPOINT, "2025-11-22", "other")]["requests"] == 1
    assert result[RollupKey("prj", "day", ENDPOINT, "2025-11-22", "GET /x")]["requests"] == 2
    minute = result[RollupKey("prj", "minute", PROJECT_TOTAL, "2025-11-22T12:30")]
    assert merge([minute]).unique_consumers == 2
    assert "uc" not in result[RollupKey("prj", "hour", PROJECT_TOTAL, "2025-11-22T12")]  # set when finalized
    day = merge_values([minute, minute])
    assert merge([day]).unique_consumers == 2
    assert day["requests"] == 6


def test_unique_consumer_estimate_is_within_its_stated_error() -> None:
    for n in (1, 50, 800, 5_000, 40_000):
        codes = {distinct.code(f"consumer-{i}") for i in range(n)}
        estimate = distinct.estimate(distinct.compact(codes))
        assert abs(estimate - n) <= max(1, 3 * distinct.RELATIVE_STANDARD_ERROR * n), n
    assert distinct.estimate(()) == 0
    assert len(distinct.compact(distinct.code(f"c{i}") for i in range(100_000))) <= distinct.REGISTERS


def test_latency_bounds_come_from_the_sketch() -> None:
    totals = merge(deltas([event(200, latency=3.0), event(200, latency=250.0, ts=TS + 1)]).values())
    low, high = totals.latency_bounds()
    assert low is not None
    assert high is not None
    assert abs(low - 3.0) <= 0.03
    assert abs(high - 250.0) <= 2.5


def _one_by_one(
    events: list[TrackedEvent], granularities: tuple[Granularity, ...], dimensions_at: tuple[Granularity, ...] | None
) -> dict[RollupKey, dict[str, Any]]:
    """What deltas() is defined as: each event's contribution added to each of its buckets in turn."""
    result: dict[RollupKey, dict[str, Any]] = {}
    kept = granularities if dimensions_at is None else dimensions_at
    for e in events:
        minute = e.ts_ms - e.ts_ms % 60_000
        spans = [(g, bucket_key(bucket_start(minute, g), g)) for g in granularities]
        consumer = consumer_of(e)
        for dimension, value in ((PROJECT_TOTAL, ""), (ENDPOINT, endpoint_of(e)), (CONSUMER, consumer)):
            if value is None:
                continue
            for g, bucket in spans if dimension == PROJECT_TOTAL else [(g, b) for g, b in spans if g in kept]:
                key = RollupKey(e.project_id, g, dimension, bucket, value)
                if key not in result:
                    result[key] = dict(contribution(e))
                    continue
                for name, amount in contribution(e).items():
                    result[key][name] = result[key].get(name, 0) + amount
        if consumer is not None:
            codes = result[RollupKey(e.project_id, granularities[0], PROJECT_TOTAL, spans[0][1])].setdefault(
                UNIQUE_CONSUMERS, set()
            )
            codes |= {distinct.code(consumer)}
    return result


def _random_events(seed: int, n: int) -> list[TrackedEvent]:
    rng = random.Random(seed)
    start = TS - TS % 3_600_000 + 3_540_000  # the last minute of an hour: batches cross into the next
    return [
        TrackedEvent(
            project_id=rng.choice(["prj", "prj2"]),
            event_id=f"e{i}",
            ts_ms=start + rng.randrange(0, 180_000),  # minutes interleaved, as a late event makes them
            method=rng.choice(["GET", "POST"]),
            endpoint=f"/r{rng.randrange(6)}",
            status=rng.choice([200, 201, 304, 404, 500]),
            fingerprint="f",
            latency_ms=rng.choice([None, 0.0, -0.0, 1e-7, 12.5, 1e17, round(rng.lognormvariate(3, 1), 2)]),
            request_bytes=rng.choice([None, 0, 7]),
            response_bytes=rng.choice([None, 0, 2048]),
            consumer=rng.choice([None, "a", "b", f"c{rng.randrange(30)}"]),
            cost=rng.choice([None, 0.0, 0.1, 1e16, 2e22]),
            units=rng.choice([None, 3.0]),
            folded=rng.choice(["", "", "e", "c"]),
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("granularities", "dimensions_at"),
    [(GRANULARITIES, None), (GRANULARITIES, ("minute",)), (("hour", "minute"), None), (("hour",), None)],
)
def test_deltas_are_the_contributions_added_one_by_one(
    granularities: tuple[Granularity, ...], dimensions_at: tuple[Granularity, ...] | None
) -> None:
    # The same buckets, counters and sums in the same order, down to a Decimal's exponent and a set's
    # iteration order: requests and packs are written from them as they are.
    for seed, n in ((1, 1), (2, 40), (3, 600)):
        events = _random_events(seed, n)
        expected = _one_by_one(events, granularities, dimensions_at)
        found = deltas(events, granularities, dimensions_at)
        assert list(found) == list(expected)
        for key, values in found.items():
            assert list(values.items()) == list(expected[key].items()), key
            assert [repr(v) for v in values.values()] == [repr(v) for v in expected[key].values()], key
    in_order = sorted(_random_events(4, 300), key=lambda e: e.ts_ms)  # a stream batch: minutes one after another
    assert repr(deltas(in_order, dimensions_at=("minute",))) == repr(_one_by_one(in_order, GRANULARITIES, ("minute",)))
