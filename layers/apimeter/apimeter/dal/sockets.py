"""Messages to open WebSocket connections, through API Gateway's management API (@connections).

Every push is best effort: short timeouts, one retry, fanned out on a pool of its own, and a
connection the gateway no longer knows (410 Gone) is reported so that its records are removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from apimeter import aws
from apimeter.aws import error_code
from apimeter.observability import logger
from apimeter.settings import settings

_FAN_OUT = 32
PUSH_SECONDS = 5.0  # at most this long for one message to every subscriber


@lru_cache(maxsize=1)
def _client() -> Any:
    return aws.client(
        "apigatewaymanagementapi",
        endpoint_url=settings().require("live_endpoint"),
        connect_timeout=1,
        read_timeout=2,
        retries={"mode": "standard", "max_attempts": 2},
        max_pool_connections=_FAN_OUT,
    )


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=_FAN_OUT, thread_name_prefix="live")


@dataclass(slots=True)
class Delivery:
    sent: int = 0
    failed: int = 0
    gone: list[str] = field(default_factory=list)


def _post(connection_id: str, frame: bytes) -> str:
    try:
        _client().post_to_connection(ConnectionId=connection_id, Data=frame)
    except Exception as exc:
        if error_code(exc) == "GoneException":
            return "gone"
        logger.warning("live push failed", extra={"connection_id": connection_id, "error": repr(exc)})
        return "failed"
    return "sent"


def post(connection_ids: Sequence[str], frame: bytes, within: float = PUSH_SECONDS) -> Delivery:
    """The same frame to every connection, side by side; a post not done ``within`` seconds is
    counted as failed and left to finish on its own, so that many slow sockets cannot hold up the
    stream batch that caused the push."""
    delivery = Delivery()
    running = {_pool().submit(_post, cid, frame): cid for cid in connection_ids}
    done, late = wait(running, timeout=within)
    for future in done:
        outcome = future.result()
        if outcome == "sent":
            delivery.sent += 1
        elif outcome == "gone":
            delivery.gone.append(running[future])
        else:
            delivery.failed += 1
    delivery.failed += len(late)
    return delivery
