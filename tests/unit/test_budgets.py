from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime

import pytest

from apimeter.domain.budgets.alerts import (
    actual_alerts,
    alert_id,
    crossed,
    forecast_alerts,
    forecast_crossings,
    message,
    payload,
    quantile,
)
from apimeter.domain.budgets.holds import actions_for, held_limits
from apimeter.domain.budgets.periods import Period, charged_period, hour_buckets, hour_range, period_of
from apimeter.domain.budgets.rules import Budget, Channels, Threshold, Webhook, validate
from apimeter.domain.forecast import Point, total
from apimeter.errors import ValidationFailed

HOUR = 3_600_000
DAY = 24 * HOUR
SECRET = "s3cr3t-s3cr3t-s3cr3t"


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


BUDGET = Budget(
    id="bud_1",
    tenant_id="ten_1",
    project_id="prj_1",
    name="Project X",
    amount=100.0,
    period="monthly",
    metric="cost",
    timezone="UTC",
    thresholds=(Threshold(50), Threshold(80), Threshold(100)),
    channels=Channels(sns=True, eventbridge=True, webhooks=(Webhook("https://hooks.example.com/budget", SECRET),)),
    created_at="2026-11-01T00:00:00Z",
)


# periods


def test_monthly_period_in_paris_around_the_october_clock_change() -> None:
    october = period_of("monthly", "Europe/Paris", ms("2026-10-31T22:30:00Z"))  # 23:30 local
    assert october == Period(ms("2026-09-30T22:00:00Z"), ms("2026-10-31T23:00:00Z"), "2026-10")
    assert len(hour_buckets(october)) == 31 * 24 + 1  # the hour given back on 25 October
    november = period_of("monthly", "Europe/Paris", ms("2026-10-31T23:30:00Z"))  # 00:30 local
    assert (november.label, november.start_ms) == ("2026-11", october.end_ms)
    assert period_of("monthly", "Europe/Paris", october.end_ms - 1).label == "2026-10"


def test_daily_periods_in_new_york_last_23_and_25_hours_on_clock_changes() -> None:
    spring = period_of("daily", "America/New_York", ms("2026-03-08T12:00:00Z"))
    assert spring == Period(ms("2026-03-08T05:00:00Z"), ms("2026-03-09T04:00:00Z"), "2026-03-08")
    assert hour_buckets(spring)[0] == "2026-03-08T05"
    assert len(hour_buckets(spring)) == 23
    autumn = period_of("daily", "America/New_York", ms("2026-11-01T12:00:00Z"))
    assert (autumn.end_ms - autumn.start_ms) // HOUR == 25
    assert period_of("daily", "America/New_York", ms("2026-03-08T04:59:59Z")).label == "2026-03-07"


def test_day_starts_when_the_clock_jumps_over_midnight() -> None:
    skipped = period_of("daily", "America/Santiago", ms("2026-09-06T12:00:00Z"))  # 00:00 -> 01:00
    assert skipped == Period(ms("2026-09-06T04:00:00Z"), ms("2026-09-07T03:00:00Z"), "2026-09-06")
    repeated = period_of("daily", "Asia/Beirut", ms("2026-10-25T12:00:00Z"))  # 00:00 -> 23:00 the day before
    assert repeated.start_ms == ms("2026-10-24T22:00:00Z")
    # Apia skipped 30 December 2011 when it moved across the date line.
    before = period_of("daily", "Pacific/Apia", ms("2011-12-29T20:00:00Z"))
    after = period_of("daily", "Pacific/Apia", before.end_ms)
    assert (before.label, before.end_ms - before.start_ms) == ("2011-12-29", DAY)
    assert (after.label, after.start_ms) == ("2011-12-31", ms("2011-12-30T10:00:00Z"))
    longer = period_of("daily", "Asia/Beirut", ms("2026-10-24T12:00:00Z"))
    assert (longer.end_ms - longer.start_ms) // HOUR == 25
    assert longer.end_ms == repeated.start_ms


def test_iso_weeks_across_the_year_boundary() -> None:
    week = period_of("weekly", "UTC", ms("2026-12-31T12:00:00Z"))
    assert week == Period(ms("2026-12-28T00:00:00Z"), ms("2027-01-04T00:00:00Z"), "2026-W53")
    assert period_of("weekly", "UTC", ms("2027-01-03T12:00:00Z")).label == "2026-W53"
    # Already Monday 4 January in Auckland (UTC+13), so the next ISO week there.
    auckland = period_of("weekly", "Pacific/Auckland", ms("2027-01-03T12:00:00Z"))
    assert (auckland.label, auckland.start_ms) == ("2027-W01", ms("2027-01-03T11:00:00Z"))
    assert period_of("weekly", "UTC", ms("2025-12-29T00:00:00Z")).label == "2026-W01"


def test_half_hour_offset_counts_each_utc_hour_in_the_day_holding_its_start() -> None:
    day = period_of("daily", "Asia/Kolkata", ms("2026-11-22T12:00:00Z"))
    assert (day.start_ms, day.label) == (ms("2026-11-21T18:30:00Z"), "2026-11-22")
    buckets = hour_buckets(day)
    assert (buckets[0], buckets[-1], len(buckets)) == ("2026-11-21T19", "2026-11-22T18", 24)
    following = hour_buckets(period_of("daily", "Asia/Kolkata", day.end_ms))
    assert following[0] == "2026-11-22T19"
    assert hour_range(day).end_ms == hour_range(period_of("daily", "Asia/Kolkata", day.end_ms)).start_ms
    # 00:15 on the 23rd in Kolkata, but its hour (18:00Z) starts on the 22nd.
    late = ms("2026-11-22T18:45:00Z")
    assert period_of("daily", "Asia/Kolkata", late).label == "2026-11-23"
    assert charged_period("daily", "Asia/Kolkata", late) == day


def test_kathmandu_quarter_hour_offset() -> None:
    day = period_of("daily", "Asia/Kathmandu", ms("2026-11-22T12:00:00Z"))  # UTC+5:45
    assert day.start_ms == ms("2026-11-21T18:15:00Z")
    assert hour_buckets(day)[0] == "2026-11-21T19"
    assert charged_period("daily", "Asia/Kathmandu", ms("2026-11-22T18:59:59Z")) == day


# validation


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"amount": 0.0}, "amount must be a number greater than 0"),
        ({"amount": float("nan")}, "amount must be a number greater than 0"),
        ({"name": " "}, "name must be 1 to 100 characters"),
        ({"period": "yearly"}, "period must be one of daily, weekly, monthly"),
        ({"metric": "bytes"}, "metric must be one of cost, requests"),
        ({"timezone": "Mars/Olympus"}, "timezone 'Mars/Olympus' is not an IANA time zone"),
        ({"timezone": "America"}, "timezone 'America' is not an IANA time zone"),
        ({"timezone": "../etc/passwd"}, "not an IANA time zone"),
        ({"project_id": None, "key_id": "key_1"}, "key_id needs a project_id"),
        ({"thresholds": ()}, "a budget needs 1 to 10 thresholds"),
        ({"thresholds": tuple(Threshold(p) for p in range(10, 120, 10))}, "a budget needs 1 to 10 thresholds"),
        ({"thresholds": (Threshold(0),)}, "thresholds[0].percent must be greater than 0 and at most 1000"),
        ({"thresholds": (Threshold(50), Threshold(1000.5))}, "thresholds[1].percent must be greater than 0"),
        ({"thresholds": (Threshold(80, "forecast", probability=0.3),)}, "probability must be between 0.5 and 0.975"),
        ({"thresholds": (Threshold(80, "forecast", probability=0.99),)}, "probability must be between 0.5 and 0.975"),
        ({"thresholds": (Threshold(100, "forecast", action="throttle"),)}, "a forecast threshold can only notify"),
        ({"thresholds": (Threshold(90, action="suspend"),)}, "suspend needs a threshold of at least 100 %"),
        (
            {"channels": Channels(webhooks=(Webhook("http://hooks.example.com", SECRET),))},
            "must be an https URL naming its host",
        ),
        (
            {"channels": Channels(webhooks=(Webhook("ftp://localhost/x", SECRET),))},
            "must be an https URL naming its host",
        ),
        ({"channels": Channels(webhooks=(Webhook("https://", SECRET),))}, "naming its host"),
        ({"channels": Channels(webhooks=(Webhook("https://[::1", SECRET),))}, "naming its host"),
        (
            {"channels": Channels(webhooks=(Webhook("https://u:p@example.com", SECRET),))},
            "must be an https URL naming its host",
        ),
        (
            {"channels": Channels(webhooks=(Webhook("https://169.254.169.254/", SECRET),))},
            "must be an https URL naming its host",
        ),
        (
            {"channels": Channels(webhooks=(Webhook("https://10.0.0.7/", SECRET),))},
            "must be an https URL naming its host",
        ),
        ({"channels": Channels(webhooks=(Webhook("https://203.0.113.9/hook", SECRET),))}, "naming its host"),
        ({"channels": Channels(webhooks=(Webhook("https://example.com:65536/", SECRET),))}, "naming its host"),
        ({"channels": Channels(webhooks=(Webhook("https://example.com", "short"),))}, "at least 16 characters"),
        ({"channels": Channels(webhooks=(Webhook("https://example.com", SECRET),) * 6)}, "at most 5 webhooks"),
    ],
)
def test_validation_names_the_broken_rule(changes: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate(replace(BUDGET, **changes))  # type: ignore[arg-type]
    assert fragment in caught.value.message


def test_valid_budgets_pass() -> None:
    assert validate(BUDGET) == BUDGET
    local = Channels(webhooks=(Webhook("http://127.0.0.1:8080/hook", SECRET), Webhook("http://localhost/h", SECRET)))
    escalating = (
        Threshold(50),
        Threshold(80, action="throttle"),
        Threshold(100, action="suspend"),
        Threshold(100, "forecast", probability=0.95),
        Threshold(120, action="suspend"),
    )
    tenant_wide = replace(BUDGET, project_id=None, timezone="Asia/Kolkata", thresholds=escalating, channels=local)
    assert validate(tenant_wide) == tenant_wide


def test_thresholds_at_one_percent_merge_into_the_strongest_action() -> None:
    given = (Threshold(80), Threshold(80, action="throttle"), Threshold(80, "forecast"), Threshold(100))
    budget = validate(replace(BUDGET, thresholds=given))
    assert budget.thresholds == (Threshold(80, action="throttle"), Threshold(80, "forecast"), Threshold(100))
    falling = (Threshold(80, action="throttle"), Threshold(100, action="notify"))  # the throttle holds past 100 %
    assert validate(replace(BUDGET, thresholds=falling)).thresholds == falling


def test_webhook_secret_stays_out_of_repr() -> None:
    assert SECRET not in repr(BUDGET)
    assert "hooks.example.com" in repr(BUDGET)


# actual thresholds and escalation


def test_crossed_includes_a_threshold_exactly_at_its_boundary() -> None:
    assert crossed(BUDGET, 49.99) == []
    assert [t.percent for t in crossed(BUDGET, 50.0)] == [50]
    assert [t.percent for t in crossed(BUDGET, 99.999)] == [50, 80]
    assert [t.percent for t in crossed(BUDGET, 100.0)] == [50, 80, 100]
    one = replace(BUDGET, amount=1.0, thresholds=(Threshold(100),))
    spent = 0.0
    for _ in range(10):  # as a running total adds charges
        spent += 0.1
    assert spent < 1.0
    assert crossed(one, spent) == [Threshold(100)]  # ten charges of 0.10 spend the budget


def test_crossed_ignores_forecast_thresholds() -> None:
    budget = replace(BUDGET, thresholds=(Threshold(50, "forecast"), Threshold(60)))
    assert crossed(budget, 1000.0) == [Threshold(60)]


def test_actions_for_picks_the_strongest() -> None:
    assert actions_for([]) is None
    assert actions_for([Threshold(50)]) == "notify"
    assert actions_for([Threshold(50), Threshold(100, action="suspend"), Threshold(80, action="throttle")]) == "suspend"
    assert actions_for([Threshold(80, action="throttle"), Threshold(50)]) == "throttle"


# forecast thresholds

DAILY = Point(value=4.0, lower80=2.5, upper80=5.5, lower95=2.0, upper95=6.0)
FIRST = ms("2026-11-11T00:00:00Z")
NOVEMBER = period_of("monthly", "UTC", FIRST)


def test_quantile_is_exact_at_known_levels_and_interpolated_between() -> None:
    assert quantile(DAILY, 0.5) == 4.0
    assert quantile(DAILY, 0.1) == 2.5
    assert quantile(DAILY, 0.025) == 2.0
    assert quantile(DAILY, 0.9) == 5.5
    assert quantile(DAILY, 0.975) == 6.0
    # z(0.2) = -0.8416 lies 34.3 % of the way from z(0.1) = -1.2816 to z(0.5) = 0.
    assert quantile(DAILY, 0.2) == pytest.approx(2.5 + 0.34333 * 1.5, abs=1e-4)
    levels = [0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 0.95, 0.975]
    values = [quantile(DAILY, level) for level in levels]
    assert values == sorted(values)
    with pytest.raises(ValueError, match="outside"):
        quantile(DAILY, 0.01)


@pytest.mark.parametrize(
    ("probability", "by"),
    [
        (0.5, "2026-11-23"),  # median: 40 + 4/day reaches 90 during day 13
        (0.8, "2026-11-27"),  # 20th percentile, about 3.015/day: day 17
        (0.9, "2026-11-30"),  # lower 80 % bound, 2.5/day: exactly 90 at the end of the month
        (0.975, None),  # lower 95 % bound, 2/day: 80 by the end of the month
    ],
)
def test_forecast_by_when_depends_on_the_probability(probability: float, by: str | None) -> None:
    budget = replace(BUDGET, thresholds=(Threshold(90, "forecast", probability=probability),))
    # 25 daily points, 5 beyond the month: at 2/day those would take the 97.5 % case over 90.
    found = forecast_crossings(budget, NOVEMBER, 40.0, [DAILY] * 25, FIRST, DAY)
    if by is None:
        assert found == []
        return
    [crossing] = found
    assert crossing.by == by
    assert crossing.projected == pytest.approx(40 + 20 * quantile(DAILY, 1 - probability))
    assert crossing.by_ms <= NOVEMBER.end_ms


def test_forecast_projection_sums_quantiles_like_forecast_total() -> None:
    steps = [DAILY, replace(DAILY, value=8.0, upper80=10.0, upper95=12.0), DAILY]
    budget = replace(BUDGET, amount=10.0, thresholds=(Threshold(100, "forecast", probability=0.5),))
    [crossing] = forecast_crossings(budget, NOVEMBER, 0.0, steps, FIRST, DAY)
    assert crossing.projected == total(steps).value == 16.0
    assert crossing.by == "2026-11-12"  # 4 then 12: over 10 during the second day


def test_forecast_threshold_already_reached_by_actual_is_due_now() -> None:
    budget = replace(BUDGET, thresholds=(Threshold(50, "forecast"),))
    [crossing] = forecast_crossings(budget, NOVEMBER, 60.0, [], FIRST, DAY)
    assert (crossing.by_ms, crossing.by, crossing.projected) == (FIRST, "2026-11-10", 60.0)
    assert (
        forecast_crossings(replace(budget, thresholds=(Threshold(70, "forecast"),)), NOVEMBER, 60.0, [], FIRST, DAY)
        == []
    )


def test_forecast_by_date_is_local() -> None:
    budget = replace(BUDGET, timezone="Asia/Tokyo", thresholds=(Threshold(100, "forecast", probability=0.5),))
    period = period_of("monthly", "Asia/Tokyo", FIRST)
    hourly = Point(1.0, 1.0, 1.0, 1.0, 1.0)
    # Crossed during the hour 15:00-16:00Z on the 11th, which is past midnight on the 12th in Tokyo.
    [crossing] = forecast_crossings(budget, period, 84.0, [hourly] * 40, FIRST, HOUR)
    assert crossing.by_ms == ms("2026-11-11T16:00:00Z")
    assert crossing.by == "2026-11-12"


# alerts


def test_alert_id_is_stable_and_distinct_per_threshold_and_period() -> None:
    assert alert_id("bud_1", "2026-11", Threshold(80)) == "bud_1#2026-11#actual#80"
    assert alert_id("bud_1", "2026-11", Threshold(80.0, action="throttle")) == "bud_1#2026-11#actual#80"
    assert alert_id("bud_1", "2026-W47", Threshold(80.5, "forecast")) == "bud_1#2026-W47#forecast#80.5"
    ids = {
        alert_id(budget, label, threshold)
        for budget in ("bud_1", "bud_2")
        for label in ("2026-11", "2026-12", "2026-W47", "2026-11-22")
        for threshold in (
            Threshold(80),
            Threshold(80, "forecast"),
            Threshold(100),
            Threshold(33.33333),
            Threshold(33.33334),
        )
    }
    assert len(ids) == 2 * 4 * 5


def test_actual_alert_payload_and_message() -> None:
    [alert] = actual_alerts(replace(BUDGET, thresholds=(Threshold(80),)), NOVEMBER, 82.4, ms("2026-11-20T10:00:00Z"))
    body = payload(alert)
    assert body["message"] == "Project X: cost reached 82 % of the 100.00 USD monthly budget (2026-11)"
    assert body == {
        "type": "budget.threshold_reached",
        "id": "bud_1#2026-11#actual#80",
        "budget_id": "bud_1",
        "budget_name": "Project X",
        "tenant_id": "ten_1",
        "project_id": "prj_1",
        "key_id": None,
        "period": {
            "kind": "monthly",
            "label": "2026-11",
            "start": "2026-11-01T00:00:00Z",
            "end": "2026-12-01T00:00:00Z",
        },
        "metric": "cost",
        "amount": 100.0,
        "currency": "USD",
        "threshold": {"percent": 80, "on": "actual", "probability": None, "action": "notify"},
        "value": 82.4,
        "percent_reached": 82.4,
        "by": None,
        "fired_at": "2026-11-20T10:00:00Z",
        "message": body["message"],
    }
    assert json.loads(json.dumps(body)) == body


def test_every_reached_threshold_makes_an_alert_with_its_action() -> None:
    budget = replace(BUDGET, key_id="key_9", thresholds=(Threshold(50), Threshold(100, action="suspend")))
    alerts = actual_alerts(budget, NOVEMBER, 100.0, FIRST)
    assert [(a.threshold.percent, a.action) for a in alerts] == [(50, "notify"), (100, "suspend")]
    assert message(alerts[1]) == (
        "Project X: cost reached 100 % of the 100.00 USD monthly budget (2026-11). Action: suspend key key_9."
    )
    requests = replace(BUDGET, metric="requests", amount=1_000_000.0, period="daily", thresholds=(Threshold(50),))
    day = period_of("daily", "UTC", FIRST)
    [alert] = actual_alerts(requests, day, 500_000.0, FIRST)
    assert message(alert) == "Project X: requests reached 50 % of the 1,000,000 requests daily budget (2026-11-11)"
    assert payload(alert)["currency"] is None


def test_forecast_alert_message_says_how_likely_and_by_when() -> None:
    budget = replace(BUDGET, thresholds=(Threshold(100, "forecast", probability=0.8),))
    [alert] = forecast_alerts(budget, NOVEMBER, 50.0, [DAILY] * 20, FIRST, DAY, FIRST)
    assert alert.by == "2026-11-27"  # 50 + 3.015/day reaches 100 during the 17th day, 27 November
    assert payload(alert)["message"] == (
        "Project X: cost will exceed 100 % of the 100.00 USD monthly budget "
        "with 80 % probability by 2026-11-27 (2026-11)"
    )
    assert payload(alert)["type"] == "budget.threshold_forecast"
    assert payload(alert)["threshold"]["probability"] == 0.8
    assert alert.id == "bud_1#2026-11#forecast#100"


def test_holds_throttle_or_suspend_only_the_keys_they_name_until_they_end() -> None:
    limits = {"key_per_minute": 600, "key_per_day": 50_000, "project_per_minute": 6000}
    now = 1_800_000_000
    project = {"hold#bud_a": {"key": "key_1", "action": "throttle", "until": now + 60}}
    assert held_limits(limits, [project], "key_1", now) == {
        "key_per_minute": 60, "key_per_day": 5000, "project_per_minute": 6000}  # fmt: skip
    assert held_limits(limits, [project], "key_2", now) == limits
    assert held_limits(limits, [project], "key_1", now + 60) == limits  # the period is over
    tenant = {"hold#bud_b": {"key": "*", "action": "suspend", "until": now + 60}}
    suspended = held_limits(limits, [tenant, project], "key_2", now)
    assert (suspended["key_per_minute"], suspended["key_per_day"], suspended["project_per_minute"]) == (0, 0, 6000)
