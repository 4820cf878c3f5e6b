"""Fires the template's schedules (EventBridge Scheduler), which moto stores but never runs.

``rate(N minute|minutes|hour|hours|day|days)`` expressions are supported, the first firing one
period after start, and hourly ``cron(M * * * ? *)`` (at minute M of every hour, UTC). A schedule
starts a function, or a state machine that runs to completion.
``fire`` runs a schedule now (``make rollup`` and ``make pipeline`` do, through the gateway).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import asdict
from typing import Any

from offline.lambdas import Lambda
from offline.stepfunctions import StateMachines
from offline.template import Schedule

log = logging.getLogger("offline.schedules")

_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86_400}


_HOURLY_CRON = re.compile(r"^cron\((\d{1,2}) \* \* \* \? \*\)$")


def period_seconds(expression: str) -> int:
    found = _RATE.match(expression.strip())
    if not found:
        raise ValueError(f"offline scheduler supports rate(...) and hourly cron(M * * * ? *), not {expression!r}")
    return int(found.group(1)) * _UNIT_SECONDS[found.group(2).rstrip("s")]


def seconds_to_next(expression: str, now: float) -> float:
    """How long until a schedule fires next."""
    hourly = _HOURLY_CRON.match(expression.strip())
    if hourly and int(hourly.group(1)) < 60:
        wait = (int(hourly.group(1)) * 60 - now % 3600) % 3600
        return wait or 3600.0
    return float(period_seconds(expression))


class Scheduler:
    def __init__(
        self, schedules: list[Schedule], functions: dict[str, Lambda], machines: StateMachines | None = None
    ) -> None:
        self._schedules = {s.function: s for s in schedules}
        self._functions = functions
        self._machines = machines
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._loop, args=(s,), name=f"schedule-{s.name}", daemon=True) for s in schedules
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def _loop(self, schedule: Schedule) -> None:
        while not self._stop.wait(seconds_to_next(schedule.expression, time.time())):
            try:
                self.fire(schedule.function)
            except Exception:
                log.exception("scheduled %s failed", schedule.function)

    def fire(self, function: str, payload: dict[str, Any] | None = None) -> Any:
        """Run a scheduled function or state machine now, with the (empty) input EventBridge
        Scheduler sends, or ``payload``."""
        if function not in self._schedules:
            raise KeyError(function)
        started = time.perf_counter()
        if function in self._functions:
            result = self._functions[function].invoke(payload or {})
        else:
            assert self._machines is not None, f"{function}: state machines are not running"
            result = asdict(self._machines.run(function, payload))
        log.info("schedule %s ran in %.1f ms: %s", function, (time.perf_counter() - started) * 1000, result)
        return result

    def names(self) -> list[str]:
        return sorted(self._schedules)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
