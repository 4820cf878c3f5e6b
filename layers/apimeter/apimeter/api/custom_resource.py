"""The entry point of a CloudFormation custom resource: run the request, and always answer it.

CloudFormation waits for the outcome, PUT to the request's presigned ``ResponseURL``, for as long
as the resource's ServiceTimeout. A handler that raised or ran out of time without answering would
keep the stack waiting that long, so every request is answered exactly once: SUCCESS with the
resource's physical id, FAILED with the reason when the work raised, and FAILED shortly before the
function's timeout when the work is still running then.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aws_lambda_powertools.utilities.typing import LambdaContext

from apimeter.observability import logger, tracer

SAFETY_SECONDS = 5.0  # FAILED is sent this long before the function would time out
SEND_ATTEMPTS = 3
SEND_TIMEOUT_SECONDS = 10.0
REASON_LIMIT = 1000  # the whole answer must stay under CloudFormation's 4 KB
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

Handler = Callable[[dict[str, Any], LambdaContext], dict[str, str]]


@dataclass(frozen=True, slots=True)
class Request:
    kind: str  # Create, Update or Delete
    properties: dict[str, Any]
    old_properties: dict[str, Any]
    physical_id: str | None  # absent on Create
    request_id: str
    stack_id: str
    logical_id: str
    response_url: str

    @classmethod
    def of(cls, event: dict[str, Any]) -> Request:
        return cls(
            kind=event["RequestType"],
            properties=event.get("ResourceProperties") or {},
            old_properties=event.get("OldResourceProperties") or {},
            physical_id=event.get("PhysicalResourceId"),
            request_id=event["RequestId"],
            stack_id=event["StackId"],
            logical_id=event["LogicalResourceId"],
            response_url=event["ResponseURL"],
        )

    @property
    def settled_id(self) -> str:
        """The physical id to answer with when the work did not finish: the resource's own (an
        Update or Delete that failed changes nothing), or, for a Create, one naming the request."""
        return self.physical_id or f"{self.logical_id}-{self.request_id}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A Create or Update that succeeded: the resource's physical id (a different one from an
    Update's replaces the resource, and CloudFormation then deletes the old one) and its
    attributes for ``Fn::GetAtt``."""

    physical_id: str
    data: dict[str, str] = field(default_factory=dict)


def answer(
    request: Request, status: str, physical_id: str, reason: str = "", data: dict[str, str] | None = None
) -> bytes:
    """The response document CloudFormation reads from the ResponseURL."""
    document = {
        "Status": status,
        "Reason": reason[:REASON_LIMIT],
        "PhysicalResourceId": physical_id,
        "StackId": request.stack_id,
        "RequestId": request.request_id,
        "LogicalResourceId": request.logical_id,
        "NoEcho": False,
        "Data": data or {},
    }
    return json.dumps(document).encode()


def send(url: str, body: bytes) -> None:
    """PUT the answer (https; http only on loopback, for tests), retrying twice; raises when every
    attempt failed, so that Lambda retries the invocation (the work is idempotent)."""
    parts = urlsplit(url)
    if not (parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK)):
        raise ValueError(f"refusing to answer CloudFormation over {parts.scheme or 'no scheme'}")
    # No Content-Type: the presigned URL was signed without one.
    headers = {"Content-Type": "", "Content-Length": str(len(body))}
    for attempt in range(1, SEND_ATTEMPTS + 1):
        request = urllib.request.Request(url, data=body, headers=headers, method="PUT")  # noqa: S310 - checked above
        try:
            with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_SECONDS) as response:  # noqa: S310 - the presigned https URL, checked above # nosec B310
                response.read()
            return
        except OSError:
            if attempt == SEND_ATTEMPTS:
                raise
            logger.warning("answering CloudFormation failed; trying again", exc_info=True)
            time.sleep(attempt)


class _Reply:
    """One answer per request, whichever of the work and the deadline comes first."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self._lock = threading.Lock()
        self.status: str | None = None

    def once(self, status: str, physical_id: str, reason: str = "", data: dict[str, str] | None = None) -> bool:
        with self._lock:
            if self.status is not None:
                return False
            self.status = status
        logger.info("answering CloudFormation", extra={"status": status, "physical_id": physical_id, "reason": reason})
        send(self._request.response_url, answer(self._request, status, physical_id, reason, data))
        return True


def custom_resource(change: Callable[[Request], Outcome], remove: Callable[[Request], None]) -> Handler:
    """A Lambda handler for a custom resource: ``change`` on Create and Update, ``remove`` on Delete
    (both idempotent: Lambda retries an invocation whose answer could not be sent)."""

    @logger.inject_lambda_context
    @tracer.capture_lambda_handler
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, str]:
        request = Request.of(event)
        reply = _Reply(request)
        logger.append_keys(request_type=request.kind, logical_id=request.logical_id)
        where = f"see log stream {context.log_stream_name}"

        def out_of_time() -> None:
            try:
                reply.once("FAILED", request.settled_id, f"the function ran out of time ({where})")
            except Exception:
                logger.exception("could not answer CloudFormation before the timeout")

        seconds = context.get_remaining_time_in_millis() / 1000 - SAFETY_SECONDS
        watchdog = threading.Timer(max(seconds, 0.0), out_of_time)
        watchdog.daemon = True
        watchdog.start()
        try:
            if request.kind == "Delete":
                remove(request)
                outcome = Outcome(request.settled_id)
            else:
                outcome = change(request)
        except Exception as exc:
            logger.exception("custom resource request failed")
            reply.once("FAILED", request.settled_id, f"{type(exc).__name__}: {exc} ({where})")
        else:
            reply.once("SUCCESS", outcome.physical_id, data=outcome.data)
        finally:
            watchdog.cancel()
        return {"Status": reply.status or "", "RequestId": request.request_id}

    return lambda_handler
