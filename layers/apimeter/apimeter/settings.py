"""Settings, validated from the environment once per process and cached.

Each handler module declares, at its top, the settings it cannot work without (``require``), so a
misconfigured function fails its cold start with the environment variable's name rather than at
the first request that happens to need it. Values are read lazily through ``settings()``.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, Field, ValidationError

from apimeter.errors import ConfigurationError


class Settings(BaseModel):
    stage: str = "dev"
    entities_table: str = ""
    events_table: str = ""
    rollups_table: str = ""
    jwt_secret_name: str = ""
    pepper_secret_name: str = ""
    secrets_max_age_seconds: int = Field(300, ge=0)
    readiness_timeout_seconds: float = Field(2.0, gt=0, le=10)  # GET /ready's deadline for all its checks
    access_token_seconds: int = Field(900, ge=60, le=86_400)
    refresh_token_seconds: int = Field(604_800, ge=3600)
    auth_cache_seconds: int = Field(30, ge=0, le=3600)
    max_body_bytes: int = Field(1_048_576, ge=1024, le=6_000_000)
    event_shards: int = Field(8, ge=1, le=256)
    default_retention_days: int = Field(30, ge=1, le=3650)
    minute_rollup_retention_hours: int = Field(72, ge=2, le=24 * 90)
    max_future_skew_seconds: int = Field(900, ge=0)
    purge_queue_url: str = ""
    export_queue_url: str = ""
    exports_bucket: str = ""
    alerts_topic_arn: str = ""
    alerts_bus_name: str = ""
    live_endpoint: str = ""  # the WebSocket API's management endpoint (https://<api>.execute-api.../<stage>)
    platform_admin_emails: str = ""  # comma-separated; granted platform admin at sign-in
    # Webhook deliveries to private, loopback or link-local addresses: only the offline stack and the
    # tests (where every receiver is on 127.0.0.1) turn this on; on AWS it would reach inside the VPC.
    webhook_allow_private: bool = False

    @property
    def platform_admins(self) -> frozenset[str]:
        return frozenset(e.strip().lower() for e in self.platform_admin_emails.split(",") if e.strip())

    def require(self, name: str) -> str:
        value = getattr(self, name)
        if not value:
            raise ConfigurationError(f"setting {name.upper()} is required by this function and is not set")
        return str(value)


@lru_cache(maxsize=1)
def settings() -> Settings:
    return _read()


def require(*names: str) -> None:
    """Fail the cold start, naming them, unless every one of ``names`` (environment variables, e.g.
    ``EVENTS_TABLE``) is set and every setting present is valid; called at the top of a handler
    module. It caches nothing: ``settings()`` still reads the environment when first used."""
    unknown = [name for name in names if name != name.upper() or name.lower() not in Settings.model_fields]
    if unknown:
        raise ValueError(f"no such setting: {', '.join(unknown)}")
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise ConfigurationError(
            f"missing setting {', '.join(missing)}: this function needs it in its environment (template.yaml)"
        )
    _read()


def _read() -> Settings:
    fields = Settings.model_fields
    raw = {name: os.environ[name.upper()] for name in fields if name.upper() in os.environ}
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"invalid settings: {problems}") from exc
