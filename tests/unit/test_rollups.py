from __future__ import annotations

from decimal import Decimal

from apimeter.domain.events import TrackedEvent
from apimeter.domain.rollups import PROJECT_TOTAL, RollupKey, deltas, merge

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


def test_each_event_counts_once_in_its_minute_hour_and_day() -> None:
    result = deltas([event(200), event(404), event(503, latency=None, cost=None)])
    assert set(result) == {
        RollupKey("prj", "minute", PROJECT_TOTAL, "2025-11-22T12:30"),
        RollupKey("prj", "hour", PROJECT_TOTAL, "2025-11-22T12"),
        RollupKey("prj", "day", PROJECT_TOTAL, "2025-11-22"),
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
