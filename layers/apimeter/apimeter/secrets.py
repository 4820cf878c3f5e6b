"""Secrets (JWT signing key, API-key pepper) from Secrets Manager through Powertools Parameters.

Values are cached for ``SECRETS_MAX_AGE_SECONDS`` so a warm function does not call Secrets Manager
per request, and a rotated secret is picked up within that time.
"""

from __future__ import annotations

from functools import lru_cache

from aws_lambda_powertools.utilities import parameters
from aws_lambda_powertools.utilities.parameters import SecretsProvider

from apimeter.settings import settings


@lru_cache(maxsize=1)
def _previous_versions() -> SecretsProvider:
    # Powertools caches by secret name only, so the AWSPREVIOUS stage needs a provider (and a
    # cache) of its own, or it would be served the current value.
    return SecretsProvider()


def _secret(setting: str) -> str:
    config = settings()
    return str(parameters.get_secret(config.require(setting), max_age=config.secrets_max_age_seconds))


def signing_keys() -> list[str]:
    """Keys that verify access tokens; the first one signs.

    Rotating the secret in Secrets Manager moves the old value to AWSPREVIOUS: tokens it signed
    keep verifying (their ``kid`` names it) until they expire, so nobody is signed out.
    """
    config = settings()
    current = _secret("jwt_secret_name")
    try:
        previous = _previous_versions().get(
            config.require("jwt_secret_name"), max_age=config.secrets_max_age_seconds, VersionStage="AWSPREVIOUS"
        )
    except parameters.exceptions.GetParameterError:
        return [current]  # never rotated
    return [current] if previous in (None, current) else [current, str(previous)]


def pepper() -> str:
    return _secret("pepper_secret_name")
