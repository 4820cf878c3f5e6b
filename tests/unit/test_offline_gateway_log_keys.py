"""Functions the offline stack runs at once log with their own Lambda context keys.

The functions share one process and so one Powertools logger (``apimeter.observability``), whose
``inject_lambda_context`` writes ``function_name`` and the rest into state every function reads.
Here two functions, two environments each, set their keys and only then log, every round, so a key
written by one invocation and read by another cannot go unseen."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from apimeter.observability import logger
from offline.lambdas import Lambda
from offline.template import Function

ROUNDS = 50
PER_FUNCTION = 2
WAIT = 60.0  # a guard against a hang, never a measure

HANDLER = """
from apimeter.observability import logger


@logger.inject_lambda_context(correlation_id_path="correlation")
def lambda_handler(event, context):
    if event.get("mark"):
        logger.append_keys(**{event["mark"]: context.function_name})
    event["together"].wait()  # every invocation of the round has set its keys
    for _ in range(3):
        logger.warning("working", extra={"invocation": context.aws_request_id})
    return context.aws_request_id
"""


class Lines(logging.Handler):
    """Every log line, formatted on the thread that logged it, as Powertools would write it."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[dict[str, Any]] = []
        self._lock_lines = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        line = json.loads(logger.registered_formatter.format(record))
        with self._lock_lines:
            self.lines.append(line)


@pytest.fixture
def lines() -> Iterator[Lines]:
    captured = Lines()
    wrapped = logging.getLogger(logger.name)  # Powertools' Logger can add a handler but not remove one
    wrapped.addHandler(captured)
    yield captured
    wrapped.removeHandler(captured)


def function(tmp_path: Path, name: str) -> Lambda:
    code = tmp_path / name
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    return Lambda(Function(name, code, "app.lambda_handler", {}, timeout=30, memory=128), concurrency=PER_FUNCTION)


def test_each_invocation_logs_with_its_own_function_name(tmp_path: Path, lines: Lines) -> None:
    functions = [function(tmp_path, "FirstFunction"), function(tmp_path, "SecondFunction")]
    invoked: dict[str, tuple[str, str]] = {}  # request id: function name, correlation id
    with ThreadPoolExecutor(max_workers=len(functions) * PER_FUNCTION) as pool:
        for round_number in range(ROUNDS):
            together = threading.Barrier(len(functions) * PER_FUNCTION, timeout=WAIT)
            running = {}
            for fn in functions:
                for copy in range(PER_FUNCTION):
                    correlation = f"{fn.function.logical_id}-{round_number}-{copy}"
                    event = {"together": together, "correlation": correlation, "mark": None}
                    running[pool.submit(fn.invoke, event)] = (fn.function.logical_id, correlation)
            for future, expected in running.items():
                invoked[future.result()] = expected

    ours = [line for line in lines.lines if line.get("invocation") in invoked]
    assert len(ours) == ROUNDS * len(functions) * PER_FUNCTION * 3
    wrong = [
        line
        for line in ours
        if (line.get("function_name"), line.get("correlation_id")) != invoked[line["invocation"]]
        or line.get("function_request_id") != line["invocation"]
    ]
    assert not wrong, f"{len(wrong)} of {len(ours)} lines carry another invocation's keys, e.g. {wrong[0]}"


def test_keys_a_function_appends_stay_in_its_own_environment(tmp_path: Path, lines: Lines) -> None:
    first, second = function(tmp_path, "FirstFunction"), function(tmp_path, "SecondFunction")
    marked, plain = set(), set()
    with ThreadPoolExecutor(max_workers=2) as pool:
        for _ in range(ROUNDS):
            together = threading.Barrier(2, timeout=WAIT)
            appends = pool.submit(first.invoke, {"together": together, "correlation": "c", "mark": "appended_by"})
            does_not = pool.submit(second.invoke, {"together": together, "correlation": "c", "mark": None})
            marked.add(appends.result())
            plain.add(does_not.result())

    marked_lines = [line for line in lines.lines if line.get("invocation") in marked]
    plain_lines = [line for line in lines.lines if line.get("invocation") in plain]
    assert len(marked_lines) == len(plain_lines) == ROUNDS * 3
    assert all(line.get("appended_by") == "FirstFunction" for line in marked_lines)
    assert not [line for line in plain_lines if "appended_by" in line]
