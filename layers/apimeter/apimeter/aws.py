"""The functions' AWS clients, from botocore directly.

boto3 adds nothing the functions use (no resources, no managed transfers), and importing it also
imports s3transfer and multiprocessing: time every cold start would pay. Every client comes from one
botocore session, so whatever is registered on its events (X-Ray's patch, the offline stack's hooks)
sees every call.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import botocore.session
from botocore.config import Config

_creating = threading.Lock()


@cache
def session() -> botocore.session.Session:
    return botocore.session.get_session()


def client(service: str, *, endpoint_url: str | None = None, **config: Any) -> Any:
    """A new client of ``service``; ``config`` is botocore's ``Config`` (retries, timeouts, pools).
    Callers keep the clients they make: a client is thread-safe, making one is not."""
    with _creating:
        return session().create_client(service, endpoint_url=endpoint_url, config=Config(**config))


def error_code(exc: Exception) -> str:
    """The AWS error code of a botocore ``ClientError`` (``ConditionalCheckFailedException``...);
    empty for any other exception."""
    response = getattr(exc, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))
