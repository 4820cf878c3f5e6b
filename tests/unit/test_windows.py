from __future__ import annotations

from itertools import pairwise
from typing import get_args

import pytest

from apimeter.domain.windows import (
    MAX_POINTS,
    STEP_MS,
    WINDOWS_MS,
    Range,
    Run,
    WindowName,
    bucket_key,
    bucket_ms,
    cover,
    series_buckets,
    window_range,
)
from apimeter.errors import ValidationFailed

NOW = 1_763_814_645_000  # 2025-11-22T12:30:45Z


def expand(runs: list[Run]) -> list[tuple[int, int]]:
    """Each bucket of each run as [start, end) in ms."""
    spans = []
    for run in runs:
        start = bucket_ms(run.first, run.granularity)
        for i in range(run.count):
            s = start + i * STEP_MS[run.granularity]
            spans.append((s, s + STEP_MS[run.granularity]))
        assert bucket_key(start + (run.count - 1) * STEP_MS[run.granularity], run.granularity) == run.last
    return sorted(spans)


@pytest.mark.parametrize("window", ["1h", "24h", "7d", "30d"])
def test_cover_tiles_the_window_exactly_with_few_buckets(window: str) -> None:
    span = window_range(window, NOW)
    spans = expand(cover(span))
    assert spans[0][0] == span.start_ms
    assert spans[-1][1] == span.end_ms
    assert all(a[1] == b[0] for a, b in pairwise(spans))  # no gap, no overlap
    assert len(spans) <= 30 + 2 * 23 + 2 * 59


def test_cover_widens_to_the_hour_where_minutes_expired() -> None:
    span = window_range("7d", NOW)
    runs = cover(span, minutes_kept_since_ms=NOW - 72 * 3_600_000)
    assert runs[0].granularity == "hour"
    assert expand(runs)[0][0] == span.start_ms - span.start_ms % STEP_MS["hour"]


def test_window_includes_the_current_minute() -> None:
    span = window_range("1h", NOW)
    assert span.end_ms == 1_763_814_660_000
    assert span.end_ms - span.start_ms == 3_600_000


def test_unknown_window_and_bad_series() -> None:
    with pytest.raises(ValidationFailed):
        window_range("2h", NOW)
    with pytest.raises(ValidationFailed):
        series_buckets(Range(NOW, NOW), "minute")
    with pytest.raises(ValidationFailed, match="at most"):
        series_buckets(Range(0, (MAX_POINTS + 1) * 60_000), "minute")


def test_series_buckets_are_aligned() -> None:
    starts = series_buckets(Range(NOW - 3 * 3_600_000, NOW), "hour")
    assert [bucket_key(s, "hour") for s in starts] == [
        "2025-11-22T09",
        "2025-11-22T10",
        "2025-11-22T11",
        "2025-11-22T12",
    ]


def test_the_window_names_routes_accept_are_the_windows_there_are() -> None:
    assert get_args(WindowName) == tuple(WINDOWS_MS)
