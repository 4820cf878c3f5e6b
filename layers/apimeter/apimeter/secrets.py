"""Secrets (JWT signing key, API-key pepper) from Secrets Manager through Powertools Parameters.

Values are cached for ``SECRETS_MAX_AGE_SECONDS`` so a warm function does not call Secrets Manager
per request, and a rotated secret is picked up within that time.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities import parameters

from apimeter.settings import settings


def _secret(setting: str) -> str:
    config = settings()
    value = parameters.get_secret(config.require(setting), max_age=config.secrets_max_age_seconds)
    return str(value)


def signing_keys() -> list[str]:
    """Keys that verify access tokens; the first one signs. Rotation adds the new key in front."""
    return [_secret("jwt_secret_name")]


def pepper() -> str:
    return _secret("pepper_secret_name")
