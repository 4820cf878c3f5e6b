from __future__ import annotations

from itertools import pairwise
from typing import get_args

import pytest

from apimeter.domain.windows import (
    LAST_INSTANT_MS,
    MAX_POINTS,
    STEP_MS,
    WINDOWS_MS,
    Range,
    Run,
    WindowName,
    bucket_key,
    bucket_ms,
    cover,
    fit,
    parse_instant,
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


def test_unknown_window_and_an_empty_series() -> None:
    with pytest.raises(ValidationFailed):
        window_range("2h", NOW)
    assert series_buckets(Range(NOW, NOW), "minute") == []


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (None, None, Range(NOW - 3_600_000, NOW)),  # the defaults
        (NOW - 10, None, Range(NOW - 10, NOW)),
        (0, NOW, Range(NOW - MAX_POINTS * 60_000, NOW)),  # too long: its last MAX_POINTS minutes
        (NOW, NOW - 5, Range(NOW, NOW)),  # 'to' before 'from': the empty range at 'from'
        (None, 1_000, Range(500, 1_000)),  # never before 'earliest'
    ],
)
def test_fit_answers_the_nearest_range_it_can(start: int | None, end: int | None, expected: Range) -> None:
    earliest = 500 if end == 1_000 else 0
    got = fit(start, end, default_end=NOW, default_ms=3_600_000, max_ms=MAX_POINTS * 60_000, earliest=earliest)
    assert got == expected


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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0", 0),
        ("1763814600000", 1_763_814_600_000),
        ("2025-11-22T12:30:00Z", 1_763_814_600_000),
        ("2025-11-22t14:30:00.5+02:00", 1_763_814_600_500),
        ("2016-12-31T23:59:60Z", 1_483_228_799_999),  # a leap second reads as the last millisecond before it
        ("1969-12-31T23:59:59Z", 0),  # before 1970: 1970
        ("0001-01-01T00:00:00+23:59", 0),
        ("99999999999999999999", LAST_INSTANT_MS),  # after 9999: its last instant
    ],
)
def test_instants_are_rfc3339_or_epoch_ms_moved_into_what_is_kept(text: str, expected: int) -> None:
    assert parse_instant(text, "from") == expected


@pytest.mark.parametrize("text", ["-5", "2025-11-22T12:30:00", "2025-11-22", "2025-02-30T00:00:00Z", "soon", "1e3"])
def test_anything_else_is_refused_with_the_parameter_named(text: str) -> None:
    with pytest.raises(ValidationFailed, match="'from' must be an RFC 3339 date-time"):
        parse_instant(text, "from")


def test_runs_of_groups_consecutive_buckets_and_only_them() -> None:
    from apimeter.domain.windows import Run, runs_of

    hours = ["2026-11-20T10", "2026-11-20T11", "2026-11-20T13", "2026-11-20T11", "2026-11-19T23", "2026-11-20T00"]
    assert runs_of("hour", hours) == [
        Run("hour", "2026-11-19T23", "2026-11-20T00", 2),
        Run("hour", "2026-11-20T10", "2026-11-20T11", 2),
        Run("hour", "2026-11-20T13", "2026-11-20T13", 1),
    ]
    assert runs_of("minute", []) == []
