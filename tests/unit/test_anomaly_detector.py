"""The streaming detector on synthetic series whose anomalies are known."""

from __future__ import annotations

import json
import math
import random

from apimeter.domain.anomaly import Detector, Verdict

FIVE_MIN = 300
HOUR = 3600


def flat(points: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [100 + rng.gauss(0, 2) for _ in range(points)]


def daily(days: int, seed: int = 2) -> list[float]:
    rng = random.Random(seed)
    return [100 + 50 * math.sin(2 * math.pi * (h % 24) / 24) + rng.gauss(0, 2) for h in range(24 * days)]


def run(detector: Detector, values: list[float], step: int, start: int = 0) -> list[Verdict]:
    return [detector.update((start + i) * step, v) for i, v in enumerate(values)]


def test_spike_on_a_flat_noisy_series_is_flagged_up_and_nothing_before_it() -> None:
    values = flat(700)
    values[600:603] = [160, 160, 160]  # a 15-minute burst: one noisy point alone is not an incident
    verdicts = run(Detector(FIVE_MIN), values, FIVE_MIN)
    flagged = [i for i, v in enumerate(verdicts) if v.severity]
    assert flagged == [602]
    assert verdicts[602].direction == "up"
    assert all(v.direction == "up" for v in verdicts[600:603])
    assert 95 < verdicts[600].expected < 105 < verdicts[600].upper < 160


def test_daily_peaks_are_normal_but_a_dip_at_a_peak_hour_is_flagged_down() -> None:
    values = daily(21)
    dip = 20 * 24 + 6  # 06:00, the daily peak (150)
    values[dip] = 60
    verdicts = run(Detector(HOUR), values, HOUR)
    assert [i for i, v in enumerate(verdicts) if v.severity] == [dip]
    assert verdicts[dip].direction == "down"
    assert 140 < verdicts[dip].expected < 160  # the same hour on past days, not the daily mean


def test_a_point_learned_as_normal_widens_the_band_but_a_confirmed_incident_does_not() -> None:
    values = flat(600)
    kept, learned = Detector(FIVE_MIN), Detector(FIVE_MIN)
    run(kept, values, FIVE_MIN)
    run(learned, values, FIVE_MIN)
    incident = 600 * FIVE_MIN
    kept.update(incident, 1000, learn=False)
    learned.update(incident, 1000)
    after_kept, after_learned = kept.update(incident + FIVE_MIN, 100), learned.update(incident + FIVE_MIN, 100)
    assert after_kept.upper - after_kept.lower < 20
    assert after_learned.upper - after_learned.lower > 2 * (after_kept.upper - after_kept.lower)


def test_skipped_point_leaves_the_baseline_as_if_it_never_happened() -> None:
    values = daily(10)
    kept, skipped = Detector(HOUR), Detector(HOUR)
    run(kept, values[:200], HOUR)
    run(skipped, values[:200], HOUR)
    kept.update(200 * HOUR, 0, learn=False)
    for i in range(201, 240):
        assert kept.update(i * HOUR, values[i]).expected == skipped.update(i * HOUR, values[i]).expected


def test_lower_sensitivity_flags_less() -> None:
    values = flat(2000, seed=3)
    for i, bump in zip(range(600, 1950, 150), (6, 8, 10, 12, 15, 20, 25, 30, 40), strict=True):
        values[i : i + 3] = [100 + bump] * 3
    counts = []
    for sensitivity in (2.0, 1.0, 0.5):
        verdicts = run(Detector(FIVE_MIN, sensitivity=sensitivity), values, FIVE_MIN)
        counts.append(sum(1 for v in verdicts if v.severity))
    assert counts[0] > counts[1] > counts[2]


def test_a_lone_value_beyond_last_weeks_range_is_flagged_once_half_a_week_is_known() -> None:
    values = flat(300, seed=4)
    values[50] = values[250] = 125  # one hourly point each, far above the usual 100 +- 6
    verdicts = run(Detector(HOUR), values, HOUR)
    assert [i for i, v in enumerate(verdicts) if v.severity] == [250]  # at 50 there is too little history
    assert verdicts[250].direction == "up"


def test_a_confirmed_incident_does_not_raise_the_range_a_repeat_must_beat() -> None:
    values = flat(300, seed=5)
    kept, learned = Detector(HOUR), Detector(HOUR)
    run(kept, values, HOUR)
    run(learned, values, HOUR)
    assert kept.update(300 * HOUR, 125, learn=False).severity
    assert learned.update(300 * HOUR, 125).severity
    assert kept.update(305 * HOUR, 125).severity  # still beyond everything learned
    assert not learned.update(305 * HOUR, 125).severity  # same incident: no new extreme, still quiet


def test_a_restored_detector_judges_exactly_as_the_one_it_was_saved_from() -> None:
    rng = random.Random(5)
    series = [100 + 40 * math.sin(2 * math.pi * t / 24) + rng.gauss(0, 4) for t in range(24 * 24)]
    series[24 * 22 + 5] += 150
    kept = Detector(3600)
    for t, value in enumerate(series[: 24 * 20]):
        kept.update(t * 3600, value)
    saved = json.loads(json.dumps(kept.state()))  # what the store keeps
    restored = Detector.restore(saved)
    for t in range(24 * 20, len(series)):
        assert kept.update(t * 3600, series[t]) == restored.update(t * 3600, series[t])


def test_a_forgotten_point_leaves_the_seasonal_baseline() -> None:
    detector = Detector(3600)
    for t in range(24 * 8):
        detector.update(t * 3600, 500.0 if t == 24 * 7 + 3 else 100.0 + t % 24)
    assert detector.values[-(24 * 8 - (24 * 7 + 3))] == 500.0
    assert detector.forget((24 * 7 + 3) * 3600)
    assert math.isnan(detector.values[-(24 * 8 - (24 * 7 + 3))])
    assert not detector.forget(-10 * 3600 * 24 * 30)  # older than what is kept


def test_false_alarm_feedback_makes_a_series_quieter_and_real_feedback_keeps_the_baseline_clean() -> None:
    """Batch jobs add bursts of traffic at random hours: news to the detector, normal to the user."""
    from apimeter.domain.anomaly import after_feedback

    rng = random.Random(3)
    hours = 24 * 40
    series = [100 + 40 * math.sin(2 * math.pi * t / 24) + rng.gauss(0, 3) for t in range(hours)]
    for t in range(24 * 8, hours):
        if rng.random() < 0.05:
            series[t] += 60 * rng.lognormvariate(0, 0.8)
    told, untold = Detector(3600), Detector(3600)
    flagged = {"told": 0, "untold": 0}
    for t, value in enumerate(series):
        verdict = told.update(t * 3600, value)
        if verdict.severity:
            flagged["told"] += 1
            after_feedback(told, "false", t * 3600, value, verdict.expected)
        if untold.update(t * 3600, value).severity:
            flagged["untold"] += 1
    assert flagged["untold"] >= 5
    assert flagged["told"] <= flagged["untold"] - 2
    assert told.sensitivity < 1.0

    incident = Detector(3600)
    for t, value in enumerate(series[: 24 * 9]):
        incident.update(t * 3600, value)
    incident.update(24 * 9 * 3600, 900.0)
    after_feedback(incident, "real", 24 * 9 * 3600, 900.0, 100.0)
    assert math.isnan(incident.values[-1])  # the incident will not be next week's expectation
