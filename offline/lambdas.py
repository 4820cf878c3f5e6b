"""Loads the template's functions from their CodeUri and invokes them in-process.

An execution environment serves one invocation at a time, as on Lambda: handlers and Powertools
resolvers keep per-invocation state and are not meant to be re-entered. Several environments of a
function run side by side, so concurrent requests really are concurrent.

Each environment also has its own Powertools log keys. On Lambda a process is one environment, so
the module-level Logger's keys (``function_name`` and the rest that ``inject_lambda_context``
appends, the correlation id, ``append_keys``) belong to the invocation under way. Here all
functions share one process and one Logger, whose keys live in its formatter's ``log_format``
dict; without this, an invocation on another thread would overwrite them mid-invocation.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from offline.template import ACCOUNT, REGION, Function, Stack

# The log keys of the environment whose invocation runs on this thread, per formatter.
_log_keys: ContextVar[dict[LambdaPowertoolsFormatter, dict[str, Any]] | None] = ContextVar(
    "offline_log_keys", default=None
)


class _EnvironmentLogKeys:
    """``LambdaPowertoolsFormatter.log_format`` as seen by an invocation: its environment's own copy,
    made from the formatter's keys on first use. Outside any invocation (at import, in threads a
    handler starts) it is the formatter's own, as without this."""

    def __get__(self, formatter: LambdaPowertoolsFormatter | None, owner: type | None = None) -> Any:
        if formatter is None:
            return self
        own: dict[str, Any] = formatter.__dict__["log_format"]
        keys = _log_keys.get()
        if keys is None:
            return own
        if formatter not in keys:
            keys[formatter] = dict(own)
        return keys[formatter]

    def __set__(self, formatter: LambdaPowertoolsFormatter, value: dict[str, Any]) -> None:
        keys = _log_keys.get()
        if keys is None or "log_format" not in formatter.__dict__:  # a formatter's first keys are its own
            formatter.__dict__["log_format"] = value
        else:
            keys[formatter] = value


def _separate_log_keys() -> None:
    """Installed by the first Lambda; outside an invocation the formatter behaves as before."""
    if not isinstance(LambdaPowertoolsFormatter.__dict__.get("log_format"), _EnvironmentLogKeys):
        setattr(LambdaPowertoolsFormatter, "log_format", _EnvironmentLogKeys())  # noqa: B010 - typed as the instances' dict


@contextmanager
def _environment_log_keys(keys: dict[LambdaPowertoolsFormatter, dict[str, Any]]) -> Iterator[None]:
    token = _log_keys.set(keys)
    try:
        yield
    finally:
        _log_keys.reset(token)


@contextmanager
def template_environment(function: Function) -> Iterator[None]:
    """The function's template environment, for names this process has not set, while its handler
    module is imported: a handler checks its settings at import (apimeter.settings.require), and a
    tool that only inspects handlers (tools/openapi.py) has no stack to set them."""
    added = {name: value for name, value in function.environment.items() if name not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


@dataclass(eq=False)
class _Environment:
    """One execution environment: its own import of the handler and its own log keys."""

    handler: Any
    log_keys: dict[LambdaPowertoolsFormatter, dict[str, Any]] = field(default_factory=dict)


@dataclass
class Context:
    """The parts of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_seconds: int
    aws_request_id: str
    invoked_function_arn: str
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = "offline"
    _deadline: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class Lambda:
    """A function with up to ``concurrency`` execution environments, like Lambda's containers.

    Each environment imports the handler module afresh (its own resolver and globals) and serves
    one invocation at a time; a new one starts (a cold start) when all are busy and the limit
    allows, else the invocation waits for one to free up.
    """

    def __init__(self, function: Function, concurrency: int = 4) -> None:
        _separate_log_keys()
        self.function = function
        self._idle: list[_Environment] = []
        self._started = 0
        self._limit = concurrency
        self._available = threading.Condition()
        self._handler: Any = None

    def _load(self, environment: int = 0) -> Any:
        module_name, attribute = self.function.handler.rsplit(".", 1)
        path = self.function.code_dir / f"{module_name.replace('.', '/')}.py"
        name = f"offline_fn_{self.function.logical_id}_{environment}"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module: ModuleType = importlib.util.module_from_spec(spec)
        with template_environment(self.function):
            spec.loader.exec_module(module)
        return getattr(module, attribute)

    def handler(self) -> Any:
        """The handler of the first environment, imported on first use (for inspection)."""
        if self._handler is None:
            self._handler = self._load()
        return self._handler

    def _acquire(self) -> _Environment:
        with self._available:
            while not self._idle and self._started >= self._limit:
                self._available.wait()
            if self._idle:
                return self._idle.pop()
            self._started += 1
            number = self._started - 1
        return _Environment(self.handler() if number == 0 else self._load(number))

    def _release(self, environment: _Environment) -> None:
        with self._available:
            self._idle.append(environment)
            self._available.notify()

    def invoke(self, event: dict[str, Any]) -> Any:
        environment = self._acquire()
        try:
            context = Context(
                function_name=self.function.logical_id,
                memory_limit_in_mb=self.function.memory,
                timeout_seconds=self.function.timeout,
                aws_request_id=str(uuid.uuid4()),
                invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function.logical_id}",
                log_group_name=f"/aws/lambda/{self.function.logical_id}",
                _deadline=time.monotonic() + self.function.timeout,
            )
            with _environment_log_keys(environment.log_keys):
                return environment.handler(event, context)
        finally:
            self._release(environment)


def load_all(stack: Stack) -> dict[str, Lambda]:
    return {name: Lambda(function) for name, function in stack.functions.items()}
