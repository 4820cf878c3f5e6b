"""Settings, validated from the environment once per process and cached.

Each handler module declares, at its top, the settings it cannot work without (``require``), so a
misconfigured function fails its cold start with the environment variable's name rather than at
the first request that happens to need it. Values are read lazily through ``settings()``.
"""

from __future__ import annotations

import math
import os
from dataclasses import Field, dataclass, field, fields
from functools import lru_cache
from typing import Any

from apimeter.errors import ConfigurationError


def _bounded(default: float, low: float | None = None, high: float | None = None, *, above: float | None = None) -> Any:
    """A number setting: at least ``low`` (or more than ``above``), at most ``high``."""
    return field(default=default, metadata={"low": low, "high": high, "above": above})


@dataclass(frozen=True, slots=True)
class Settings:
    stage: str = "dev"
    entities_table: str = ""
    events_table: str = ""
    rollups_table: str = ""
    jwt_secret_name: str = ""
    pepper_secret_name: str = ""
    secrets_max_age_seconds: int = _bounded(300, 0)
    readiness_timeout_seconds: float = _bounded(2.0, high=10, above=0)  # GET /ready's deadline for all its checks
    access_token_seconds: int = _bounded(900, 60, 86_400)
    refresh_token_seconds: int = _bounded(604_800, 3600)
    auth_cache_seconds: int = _bounded(30, 0, 3600)
    max_body_bytes: int = _bounded(1_048_576, 1024, 6_000_000)
    event_shards: int = _bounded(8, 1, 256)
    default_retention_days: int = _bounded(30, 1, 3650)
    minute_rollup_retention_hours: int = _bounded(72, 2, 24 * 90)
    max_future_skew_seconds: int = _bounded(900, 0)
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


_FIELDS: dict[str, Field[Any]] = {f.name: f for f in fields(Settings)}


@lru_cache(maxsize=1)
def settings() -> Settings:
    return _read()


def require(*names: str) -> None:
    """Fail the cold start, naming them, unless every one of ``names`` (environment variables, e.g.
    ``EVENTS_TABLE``) is set and every setting present is valid; called at the top of a handler
    module. It caches nothing: ``settings()`` still reads the environment when first used."""
    unknown = [name for name in names if name != name.upper() or name.lower() not in _FIELDS]
    if unknown:
        raise ValueError(f"no such setting: {', '.join(unknown)}")
    missing = [name for name in names if not os.environ.get(name)]
    if missing:
        raise ConfigurationError(
            f"missing setting {', '.join(missing)}: this function needs it in its environment (template.yaml)"
        )
    _read()


def _read() -> Settings:
    values, problems = {}, []
    for name, spec in _FIELDS.items():
        text = os.environ.get(name.upper())
        if text is None:
            continue
        try:
            values[name] = _parse(spec, text)
        except ValueError as exc:
            problems.append(f"{name.upper()}: {exc}")
    if problems:
        raise ConfigurationError(f"invalid settings: {'; '.join(problems)}")
    return Settings(**values)


_TRUE, _FALSE = {"1", "true", "yes", "on", "t", "y"}, {"0", "false", "no", "off", "f", "n"}


def _parse(spec: Field[Any], text: str) -> Any:
    """An environment variable's text as the setting's type, within its bounds."""
    if spec.type == "str":
        return text
    if spec.type == "bool":
        word = text.strip().lower()
        if word not in _TRUE | _FALSE:
            raise ValueError("must be true or false")
        return word in _TRUE
    try:
        value = int(text) if spec.type == "int" else float(text)
    except ValueError:
        raise ValueError(f"must be {'an integer' if spec.type == 'int' else 'a number'}, not {text!r}") from None
    low, high, above = spec.metadata.get("low"), spec.metadata.get("high"), spec.metadata.get("above")
    if not math.isfinite(value):
        raise ValueError("must be a finite number")
    if low is not None and value < low:
        raise ValueError(f"must be at least {low}")
    if above is not None and value <= above:
        raise ValueError(f"must be more than {above}")
    if high is not None and value > high:
        raise ValueError(f"must be at most {high}")
    return value
