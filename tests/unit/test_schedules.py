from __future__ import annotations

import pytest

from offline.schedules import Scheduler, period_seconds
from offline.template import Stack


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(15 minutes)", 900), ("rate(2 hours)", 7200), ("rate(1 day)", 86_400)],
)
def test_rates(expression: str, seconds: int) -> None:
    assert period_seconds(expression) == seconds


def test_cron_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="rate"):
        period_seconds("cron(5 * * * ? *)")


def test_the_schedules_are_read_from_the_template(stack: Stack) -> None:
    expressions = {s.function: s.expression for s in stack.schedules}
    assert expressions == {"RollupFunction": "rate(15 minutes)", "HourlyPipeline": "rate(1 hour)"}
    assert period_seconds(expressions["RollupFunction"]) == 900
    scheduler = Scheduler(stack.schedules, {})
    assert scheduler.names() == ["HourlyPipeline", "RollupFunction"]
    with pytest.raises(KeyError):
        scheduler.fire("NoSuchFunction")
