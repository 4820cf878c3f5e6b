"""NAB scoring rules on small hand-built files, with values computed by hand from NAB's formulas."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import pytest

from bench import nab

STANDARD = nab.Costs(tp=1.0, fp=0.11, fn=1.0)
S_MINUS_1 = 2 / (1 + math.exp(-5)) - 1  # 0.98661: the sigmoid at the left edge of a window


def a_file(rows: int = 100, windows: tuple[tuple[int, int], ...] = ((50, 59),), name: str = "c/f.csv") -> nab.DataFile:
    start = datetime(2014, 1, 1)
    stamps = [start + timedelta(minutes=5 * i) for i in range(rows)]
    return nab.DataFile(name, stamps, [0.0] * rows, list(windows))


def flags(rows: int, *at: int) -> list[float]:
    return [1.0 if i in at else 0.0 for i in range(rows)]


def test_probation_is_15_percent_capped_at_750() -> None:
    assert nab.probation_length(100) == 15
    assert nab.probation_length(4032) == 604
    assert nab.probation_length(10320) == 750


def test_scaled_sigmoid_matches_nab_reference_points() -> None:
    assert nab.scaled_sigmoid(-1.0) == pytest.approx(0.98661, abs=1e-5)
    assert nab.scaled_sigmoid(-0.5) == pytest.approx(0.84828, abs=1e-5)
    assert nab.scaled_sigmoid(0.0) == 0.0
    assert nab.scaled_sigmoid(3.0) == -1.0


def test_detection_on_the_first_row_of_a_window_is_worth_tp_weight() -> None:
    f = a_file()
    result = nab.score_at([f], {f.name: flags(100, 50)}, STANDARD, 0.5)
    assert result.raw == pytest.approx(1.0)
    assert (result.detected, result.missed, result.false_positives) == (1, 0, 0)


def test_only_the_earliest_detection_in_a_window_counts() -> None:
    f = a_file()
    late = nab.score_at([f], {f.name: flags(100, 59)}, STANDARD, 0.5).raw
    # last row of a 10-row window: position -(59 - 59 + 1) / 10
    assert late == pytest.approx((2 / (1 + math.exp(-0.5)) - 1) / S_MINUS_1)  # 0.24825
    both = nab.score_at([f], {f.name: flags(100, 55, 59)}, STANDARD, 0.5).raw
    assert both == pytest.approx((2 / (1 + math.exp(-2.5)) - 1) / S_MINUS_1)  # row 55: position -0.5


def test_false_positive_far_from_windows_costs_fp_weight() -> None:
    f = a_file()
    before = nab.score_at([f], {f.name: flags(100, 30, 50)}, STANDARD, 0.5)
    far_after = nab.score_at([f], {f.name: flags(100, 50, 90)}, STANDARD, 0.5)
    assert before.raw == pytest.approx(1.0 - 0.11)
    assert far_after.raw == pytest.approx(1.0 - 0.11)  # (90 - 59) / 9 is past 3 window widths
    assert before.false_positives == 1


def test_false_positive_just_after_a_window_costs_less() -> None:
    f = a_file()
    result = nab.score_at([f], {f.name: flags(100, 50, 60)}, STANDARD, 0.5)
    assert result.raw == pytest.approx(1.0 + 0.11 * (2 / (1 + math.exp(5 / 9)) - 1))  # 1 - 0.0298


def test_a_missed_window_costs_fn_weight() -> None:
    f = a_file()
    assert nab.score_at([f], {f.name: flags(100)}, STANDARD, 0.5).raw == pytest.approx(-1.0)
    low_fn = nab.Costs(tp=1.0, fp=0.11, fn=2.0)
    assert nab.score_at([f], {f.name: flags(100)}, low_fn, 0.5).raw == pytest.approx(-2.0)


def test_probationary_rows_are_ignored() -> None:
    f = a_file()
    result = nab.score_at([f], {f.name: flags(100, 3, 14)}, STANDARD, 0.5)
    assert result.raw == pytest.approx(-1.0)
    assert result.false_positives == 0


def test_threshold_is_optimized_over_all_files_together() -> None:
    one, two = a_file(name="c/one.csv"), a_file(name="c/two.csv")
    scores = {one.name: [0.0] * 100, two.name: [0.0] * 100}
    scores[one.name][50] = 0.9  # a true detection in one file...
    scores[two.name][30] = 0.95  # ...and a stronger false positive in the other
    threshold, raw = nab.optimize([one, two], scores, STANDARD)
    assert threshold == 0.9
    assert raw == pytest.approx(1.0 - 0.11 - 1.0)
    sweep = dict(nab.sweep([one, two], scores, STANDARD))
    assert sweep[nab.NO_DETECTION] == pytest.approx(-2.0)
    assert sweep[0.95] == pytest.approx(-2.11)


def test_null_detector_normalizes_to_0_and_perfect_detector_to_100() -> None:
    files = [a_file(name="c/one.csv"), a_file(200, ((40, 49), (120, 139)), name="c/two.csv")]
    profiles = {"standard": STANDARD, "reward_low_FN_rate": nab.Costs(tp=1.0, fp=0.11, fn=2.0)}
    null = nab.evaluate(files, {f.name: [0.5] * len(f.values) for f in files}, profiles)
    perfect = nab.evaluate(files, nab.perfect_scores(files), profiles)
    for name in profiles:
        assert null[name].score == pytest.approx(0.0)
        assert perfect[name].score == pytest.approx(100.0)
    assert null["reward_low_FN_rate"].null == pytest.approx(-6.0)
    assert perfect["standard"].perfect == pytest.approx(3.0)
