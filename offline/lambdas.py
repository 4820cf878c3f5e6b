"""Loads the template's functions from their CodeUri and invokes them in-process.

An execution environment serves one invocation at a time, as on Lambda: handlers and Powertools
resolvers keep per-invocation state and are not meant to be re-entered. Several environments of a
function run side by side, so concurrent requests really are concurrent.
"""

from __future__ import annotations

import importlib.util
import threading
import time
import uuid
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from offline.template import ACCOUNT, REGION, Function, Stack


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
        self.function = function
        self._idle: list[Any] = []
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
        spec.loader.exec_module(module)
        return getattr(module, attribute)

    def handler(self) -> Any:
        """The handler of the first environment, imported on first use (for inspection)."""
        if self._handler is None:
            self._handler = self._load()
        return self._handler

    def _acquire(self) -> Any:
        with self._available:
            while not self._idle and self._started >= self._limit:
                self._available.wait()
            if self._idle:
                return self._idle.pop()
            self._started += 1
            number = self._started - 1
        return self.handler() if number == 0 else self._load(number)

    def _release(self, handler: Any) -> None:
        with self._available:
            self._idle.append(handler)
            self._available.notify()

    def invoke(self, event: dict[str, Any]) -> Any:
        handler = self._acquire()
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
            return handler(event, context)
        finally:
            self._release(handler)


def load_all(stack: Stack) -> dict[str, Lambda]:
    return {name: Lambda(function) for name, function in stack.functions.items()}
