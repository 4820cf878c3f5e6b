from __future__ import annotations

import pytest

from offline.schedules import Scheduler, period_seconds, seconds_to_next
from offline.template import Stack


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(15 minutes)", 900), ("rate(2 hours)", 7200), ("rate(1 day)", 86_400)],
)
def test_rates(expression: str, seconds: int) -> None:
    assert period_seconds(expression) == seconds


def test_hourly_cron_fires_at_its_minute_and_other_crons_are_refused_clearly() -> None:
    assert seconds_to_next("cron(15 * * * ? *)", 7 * 3600 + 10 * 60) == 5 * 60
    assert seconds_to_next("cron(15 * * * ? *)", 7 * 3600 + 15 * 60) == 3600
    assert seconds_to_next("cron(15 * * * ? *)", 7 * 3600 + 50 * 60) == 25 * 60
    assert seconds_to_next("rate(15 minutes)", 123.0) == 900
    with pytest.raises(ValueError, match="rate"):
        seconds_to_next("cron(5 8 * * ? *)", 0)


def test_the_schedules_are_read_from_the_template(stack: Stack) -> None:
    expressions = {s.function: s.expression for s in stack.schedules}
    assert expressions == {"RollupFunction": "rate(15 minutes)", "HourlyPipeline": "cron(15 * * * ? *)"}
    assert period_seconds(expressions["RollupFunction"]) == 900
    scheduler = Scheduler(stack.schedules, {})
    assert scheduler.names() == ["HourlyPipeline", "RollupFunction"]
    with pytest.raises(KeyError):
        scheduler.fire("NoSuchFunction")
