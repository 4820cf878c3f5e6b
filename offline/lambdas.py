"""Loads the template's functions from their CodeUri and invokes them in-process.

Each function is invoked by one caller at a time, as one Lambda execution environment would be:
handlers and Powertools resolvers keep per-invocation state and are not meant to be re-entered.
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
    def __init__(self, function: Function) -> None:
        self.function = function
        self._lock = threading.Lock()
        self._handler: Any = None

    def _load(self) -> Any:
        module_name, attribute = self.function.handler.rsplit(".", 1)
        path = self.function.code_dir / f"{module_name.replace('.', '/')}.py"
        spec = importlib.util.spec_from_file_location(f"offline_fn_{self.function.logical_id}", path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module: ModuleType = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return getattr(module, attribute)

    def handler(self) -> Any:
        """The function's handler object, imported on first use (a cold start)."""
        if self._handler is None:
            self._handler = self._load()
        return self._handler

    def invoke(self, event: dict[str, Any]) -> Any:
        with self._lock:
            self.handler()
            context = Context(
                function_name=self.function.logical_id,
                memory_limit_in_mb=self.function.memory,
                timeout_seconds=self.function.timeout,
                aws_request_id=str(uuid.uuid4()),
                invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{self.function.logical_id}",
                log_group_name=f"/aws/lambda/{self.function.logical_id}",
                _deadline=time.monotonic() + self.function.timeout,
            )
            return self._handler(event, context)


def load_all(stack: Stack) -> dict[str, Lambda]:
    return {name: Lambda(function) for name, function in stack.functions.items()}
