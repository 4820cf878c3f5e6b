"""Readiness: whether the stack's tables and secrets answer, all checked side by side within one deadline.

Liveness (``GET /health``) says the function runs; readiness says a request could be served. A
failed check is named with a reason (an AWS error code, ``timed out``, ``not configured``), never
with a secret's value or an error's message.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from functools import lru_cache

from apimeter import secrets
from apimeter.aws import error_code
from apimeter.dal import dynamo
from apimeter.errors import ConfigurationError, ServiceUnavailable
from apimeter.observability import logger
from apimeter.settings import settings

TABLES = ("entities_table", "events_table", "rollups_table")
SERVING = frozenset({"ACTIVE", "UPDATING"})  # an UPDATING table still serves reads and writes


class _NotServing(Exception):
    pass


def _table(setting: str) -> Callable[[], object]:
    def probe() -> None:
        status = dynamo.ping(settings().require(setting))
        if status not in SERVING:
            raise _NotServing(f"table is {status}")

    return probe


def _checks() -> dict[str, Callable[[], object]]:
    # The secrets go through the same cached reads the functions use, so a warm function costs no
    # Secrets Manager call here and the check sees what the functions see.
    tables = {name: _table(name) for name in TABLES}
    return {**tables, "jwt_secret": secrets.signing_keys, "pepper_secret": secrets.pepper}


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="readiness")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConfigurationError):
        return "not configured"
    if isinstance(exc, _NotServing):
        return str(exc)
    # An AWS error by its code alone: its message may name the secret.
    if isinstance(exc, Exception) and (code := error_code(exc)):
        return code
    return type(exc).__name__


def check() -> dict[str, str]:
    """``"ok"`` for every dependency; ``ServiceUnavailable`` naming those that failed or did not answer
    within ``READINESS_TIMEOUT_SECONDS`` (a check still running then is left to finish on its own)."""
    running = {name: _pool().submit(probe) for name, probe in _checks().items()}
    wait(running.values(), timeout=settings().readiness_timeout_seconds)
    results: dict[str, str] = {}
    for name, future in running.items():
        if not future.done():
            future.cancel()
            results[name] = "timed out"
        elif (exc := future.exception()) is not None:
            logger.warning("readiness check failed", extra={"check": name, "error": repr(exc)})
            results[name] = _reason(exc)
        else:
            results[name] = "ok"
    failed = [name for name, result in results.items() if result != "ok"]
    if failed:
        raise ServiceUnavailable(f"not ready: {', '.join(failed)}", {"failed": failed, "checks": results})
    return results
