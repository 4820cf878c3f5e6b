"""The figures an analytics answer derives from its totals: changes, shares, throughput, top codes."""

from __future__ import annotations

from decimal import Decimal

from apimeter.domain.rollups import Totals
from apimeter.domain.windows import Range
from apimeter.logic.analytics import Ranking, Share, Summary

HOUR = Range(0, 3_600_000)


def totals(requests: int, errors: int = 0, cost: str = "0", codes: dict[int, int] | None = None) -> Totals:
    return Totals(requests=requests, errors=errors, cost=Decimal(cost), status_codes=codes or {})


def test_change_is_relative_to_the_previous_window_and_null_against_zero() -> None:
    change = Summary("1h", HOUR, totals(150, errors=15, cost="3"), totals(100, errors=5), 0).change()
    assert change.requests == 0.5
    assert change.throughput == 0.5  # windows of equal length
    assert change.errors == 2.0
    assert change.cost is None  # nothing spent before
    assert change.error_rate == 0.05  # absolute: 10 % now, 5 % before
    assert change.latency_p95 is None


def test_throughput_is_per_second_of_the_window_and_zero_for_an_empty_range() -> None:
    summary = Summary("1h", HOUR, totals(7200), totals(3600), 0)
    assert (summary.throughput_rps, summary.previous_throughput_rps) == (2.0, 1.0)
    assert Summary("custom", Range(10, 5), Totals(), Totals(), 0).throughput_rps == 0.0


def test_top_status_codes_are_the_ten_most_frequent_ties_by_lower_code() -> None:
    codes = {200 + i: 100 - i for i in range(12)} | {199: 100}
    top = Summary("1h", HOUR, totals(2000, codes=codes), Totals(), 0).top_status_codes
    assert list(top) == ["199", "200", "201", "202", "203", "204", "205", "206", "207", "208"]


def test_shares_are_of_the_window_requests_largest_first() -> None:
    summary = Summary("1h", HOUR, totals(3, codes={404: 1, 200: 2}), Totals(), 0)
    assert summary.status_code_shares == [Share("200", 2, 0.666667), Share("404", 1, 0.333333)]
    assert Summary("1h", HOUR, Totals(), Totals(), 0).shares({"GET": 0}) == [Share("GET", 0, 0.0)]


def test_ranking_shares_are_of_the_ranked_rows() -> None:
    ranking = Ranking("1h", HOUR, [("a", totals(3)), ("b", totals(1))], distinct=9, items_read=0)
    assert [(name, share) for name, _, share in ranking.shared()] == [("a", 0.75), ("b", 0.25)]
