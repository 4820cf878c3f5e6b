"""The events' shard schedule (domain/shards.py): counts by timestamp, only growing, ahead of time."""

from __future__ import annotations

from apimeter.domain.shards import MAX_SHARDS, PER_SHARD_RATE, Step, grown, shards_at, shards_over

SCHEDULE = (Step(1_000, 16), Step(5_000, 64))


def test_an_event_keeps_the_count_in_force_at_its_own_timestamp() -> None:
    assert [shards_at(SCHEDULE, ts, 8) for ts in (0, 999, 1_000, 4_999, 5_000, 10**13)] == [8, 8, 16, 16, 64, 64]
    assert shards_at((), 123, 8) == 8


def test_a_range_is_read_over_the_count_at_its_end() -> None:
    assert shards_over(SCHEDULE, 1_000, 8) == 8  # ends before the first step
    assert shards_over(SCHEDULE, 1_001, 8) == 16
    assert shards_over(SCHEDULE, 2**62, 8) == 64


def test_shards_grow_to_twice_what_the_rate_needs_from_a_whole_minute_past_the_lead() -> None:
    assert grown((), 8, 8 * PER_SHARD_RATE, 0, 1) is None  # the default takes it
    step = grown((), 8, 100_000, 61_000, 180_000)
    assert step is not None
    assert step.shards == 512  # 100,000/s over 500/s a shard, doubled, in a power of two
    assert step.since_ms == 300_000 >= 61_000 + 180_000
    assert step.since_ms % 60_000 == 0
    assert 100_000 / step.shards < 1_000 / 2  # under half of what a partition takes


def test_a_scheduled_step_counts_and_growth_stops_at_the_most() -> None:
    assert grown(SCHEDULE, 8, 64 * PER_SHARD_RATE, 0, 0) is None  # the scheduled 64 suffice
    assert grown(SCHEDULE, 8, 64 * PER_SHARD_RATE + 1, 0, 0) == Step(0, 256)
    assert grown((Step(0, MAX_SHARDS),), 8, 10**9, 0, 0) is None
    assert grown((), 8, 10**9, 0, 0) == Step(0, MAX_SHARDS)
