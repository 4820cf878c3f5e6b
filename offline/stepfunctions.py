"""The template's state machines, executed by moto's Step Functions with Lambda tasks run in-process.

moto interprets the ASL itself (Task, Map inline and distributed, Parallel, Retry, Catch) once its
``execute_state_machine`` option is on; its Lambda tasks would call moto's Lambda, which runs code
only in Docker, so ``route_lambda_tasks`` hands them to the offline functions instead. An execution
runs on moto's own thread, outside any request to the moto server, so a task's handler can call the
server freely.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from moto.core.config import default_user_config
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from offline.lambdas import Lambda
from offline.template import ACCOUNT, Stack

log = logging.getLogger("offline.stepfunctions")
_functions: dict[str, Lambda] = {}  # by function name and logical id


def enable_execution() -> None:
    """Let moto run the state machines it stores (the offline server runs in this process)."""
    default_user_config["stepfunctions"] = {"execute_state_machine": True}


def route_lambda_tasks(stack: Stack, functions: dict[str, Lambda]) -> None:
    for logical_id, function in functions.items():
        _functions[stack.physical_name(logical_id)] = function
        _functions[logical_id] = function
    lambda_eval_utils._invoke_lambda_function = _invoke


def _invoke(parameters: dict[str, Any], region: str, state_credentials: Any) -> dict[str, Any]:
    """Lambda's Invoke as Step Functions sees it: the handler's result, or the error it raised
    (its type is the error name Retry and Catch match)."""
    name = str(parameters["FunctionName"]).split(":function:")[-1].split(":")[0]
    payload = parameters.get("Payload")
    event = json.loads(payload) if isinstance(payload, (bytes, str)) else (payload or {})
    try:
        result = _functions[name].invoke(event)
    except Exception as exc:  # a task failure, as Lambda reports an unhandled error
        error = {"errorType": type(exc).__name__, "errorMessage": str(exc)}
        return {"StatusCode": 200, "FunctionError": "Unhandled", "Payload": error}
    return {"StatusCode": 200, "Payload": json.loads(json.dumps(result))}  # fails as Lambda would on non-JSON


@dataclass(frozen=True, slots=True)
class Execution:
    status: str
    output: Any
    error: str | None
    cause: str | None
    seconds: float


class StateMachines:
    """Creates the template's state machines in moto and runs them to completion."""

    def __init__(self, stack: Stack, client: Any) -> None:
        self._client = client
        self._arns: dict[str, str] = {}
        for logical_id, machine in stack.state_machines.items():
            created = client.create_state_machine(
                name=stack.physical_name(logical_id),
                definition=machine.definition,
                roleArn=f"arn:aws:iam::{ACCOUNT}:role/offline",
            )
            self._arns[logical_id] = created["stateMachineArn"]

    def names(self) -> list[str]:
        return sorted(self._arns)

    def arn(self, logical_id: str) -> str:
        return self._arns[logical_id]

    def run(self, logical_id: str, payload: dict[str, Any] | None = None, timeout: float = 900) -> Execution:
        started = time.perf_counter()
        arn = self._client.start_execution(
            stateMachineArn=self.arn(logical_id), name=f"run-{uuid.uuid4()}", input=json.dumps(payload or {})
        )
        while True:
            found = self._client.describe_execution(executionArn=arn["executionArn"])
            if found["status"] != "RUNNING" or time.perf_counter() - started > timeout:
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        output = json.loads(found["output"]) if found.get("output") else None
        done = Execution(found["status"], output, found.get("error"), found.get("cause"), seconds)
        log.info("%s %s in %.2f s", logical_id, done.status, seconds)
        return done
