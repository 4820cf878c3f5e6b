"""The tracking contract as a pydantic model: what an event may carry, with its types and bounds.

It is the documented schema (``tools/openapi.py`` publishes it) and the validator of record:
``domain/events.py`` takes events whose every field is already canonical on a fast path, which
``tests/unit/test_event_fast_path.py`` holds to give exactly what this model gives, and hands every
other event here, so each is judged by these rules and each error message comes from them. It is
imported on first use: a function that only meets canonical events never builds it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from apimeter.domain.events import (
    EVENT_ID_PATTERN,
    HTTP_METHODS,
    LENGTHS,
    MAX_PROPERTIES,
    MAX_PROPERTIES_BYTES,
    MAX_PROPERTY_KEY,
    RANGES,
    PropertyValue,
    is_ip,
)
from apimeter.errors import ValidationFailed


def _text(name: str, default: Any, description: str | None = None) -> Any:
    low, high = LENGTHS[name]
    return Field(default, min_length=low or None, max_length=high, description=description)


def _number(name: str, default: Any, description: str | None = None) -> Any:
    low, high = RANGES[name]
    return Field(default, ge=low, le=high, description=description)


EventId = Annotated[
    str,
    StringConstraints(min_length=LENGTHS["event_id"][0], max_length=LENGTHS["event_id"][1], pattern=EVENT_ID_PATTERN),
]


class EventIn(BaseModel):
    """One API call, as a client reports it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    event_id: EventId | None = Field(
        None, description="Client id; with the timestamp it names the event, so a resend counts once. Default: new."
    )
    timestamp: datetime | int | None = Field(
        None,
        description="When the call happened: ISO 8601 (with offset) or epoch milliseconds; default: when it is "
        "received, so an event that may be resent should carry its own.",
    )
    method: str = _text("method", ..., "HTTP method of the tracked call.")
    endpoint: str | None = _text("endpoint", None, "Route template, e.g. /users/{id}.")
    path: str | None = _text("path", None, "Raw request path.")
    status: int = _number("status", ...)
    latency_ms: float | None = _number("latency_ms", None)
    request_bytes: int | None = _number("request_bytes", None)
    response_bytes: int | None = _number("response_bytes", None)
    consumer: str | None = _text("consumer", None, "Who called the tracked API.")
    ip: str | None = _text("ip", None)
    user_agent: str | None = _text("user_agent", None)
    cost: float | None = _number("cost", None, "Cost of the call in the project's currency.")
    units: float | None = _number("units", None, "Billable units (tokens, credits...).")
    properties: dict[Annotated[str, StringConstraints(max_length=MAX_PROPERTY_KEY)], PropertyValue] | None = None

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        upper = value.upper()
        if upper not in HTTP_METHODS:
            raise ValueError(f"must be one of {', '.join(sorted(HTTP_METHODS))}")
        return upper

    @field_validator("ip")
    @classmethod
    def _ip(cls, value: str | None) -> str | None:
        if value is not None and not is_ip(value):
            raise ValueError("must be an IPv4 or IPv6 address")
        return value

    @field_validator("properties")
    @classmethod
    def _properties(cls, value: dict[str, PropertyValue] | None) -> dict[str, PropertyValue] | None:
        if value is not None:
            if len(value) > MAX_PROPERTIES:
                raise ValueError(f"at most {MAX_PROPERTIES} properties")
            if len(orjson.dumps(value)) > MAX_PROPERTIES_BYTES:
                raise ValueError(f"at most {MAX_PROPERTIES_BYTES} bytes of properties")
        return value

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp(cls, value: Any) -> Any:
        if isinstance(value, (bool, float)):
            raise ValueError("must be an ISO 8601 string or integer epoch milliseconds")
        return value


def fields_of(raw: dict[str, Any]) -> dict[str, Any]:
    """An event's fields as this model validates them, ``None`` values left out; ``ValidationFailed``
    naming every problem, field by field."""
    try:
        return EventIn.model_validate(raw).model_dump(exclude_none=True)
    except ValidationError as exc:
        raise ValidationFailed(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "event"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
