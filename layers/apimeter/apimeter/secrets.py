"""Secrets (JWT signing key, API-key pepper) from Secrets Manager, cached per warm function.

A value read is kept for ``SECRETS_MAX_AGE_SECONDS``, so a warm function does not call Secrets
Manager per request, and a rotated secret is picked up within that time. That a secret has no
previous version (it was never rotated) is kept as well: asking again on every request would cost a
call each time and change nothing.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from apimeter import aws
from apimeter.aws import error_code
from apimeter.observability import logger
from apimeter.settings import settings

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager import SecretsManagerClient

CURRENT, PREVIOUS = "AWSCURRENT", "AWSPREVIOUS"

_read: dict[tuple[str, str], tuple[float, str | None]] = {}  # (name, stage) -> (when read, value)


@lru_cache(maxsize=1)
def _client() -> SecretsManagerClient:
    client: SecretsManagerClient = aws.client("secretsmanager", retries={"mode": "standard", "max_attempts": 3})
    return client


def _value(name: str, stage: str) -> str | None:
    """The secret's string at ``stage``; None when it has no version there."""
    now = time.monotonic()
    kept = _read.get((name, stage))
    if kept is not None and now - kept[0] < settings().secrets_max_age_seconds:
        return kept[1]
    try:
        value: str | None = _client().get_secret_value(SecretId=name, VersionStage=stage)["SecretString"]
    except ClientError as exc:
        if stage == CURRENT or error_code(exc) != "ResourceNotFoundException":
            raise
        value = None
    _read[(name, stage)] = (now, value)
    return value


def _current(setting: str) -> str:
    value = _value(settings().require(setting), CURRENT)
    assert value is not None  # a missing current version raises
    return value


def signing_keys() -> list[str]:
    """Keys that verify access tokens; the first one signs.

    Rotating the secret in Secrets Manager moves the old value to AWSPREVIOUS: tokens it signed
    keep verifying (their ``kid`` names it) until they expire, so nobody is signed out.
    """
    current = _current("jwt_secret_name")
    try:
        previous = _value(settings().require("jwt_secret_name"), PREVIOUS)
    except ClientError as exc:  # the current key still serves: tokens it signed verify
        logger.warning("previous signing key unavailable", extra={"error": error_code(exc)})
        return [current]
    return [current] if previous in (None, current) else [current, previous]


def pepper() -> str:
    return _current("pepper_secret_name")


def forget() -> None:
    """Read every secret afresh on next use (as when its age has passed)."""
    _read.clear()
