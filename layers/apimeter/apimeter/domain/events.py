"""Tracked events: the ingest contract, validated one item at a time.

A request carries one event or ``{"events": [...]}``. Each item is validated on its own, so one bad
item is rejected with its index while the valid items beside it are kept. An event is named by its
``event_id`` and its timestamp; its fingerprint covers what the client sent (normalized), so an
exact replay is recognisable as a duplicate and a changed payload under the same name as a conflict.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Any

import orjson
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from apimeter.domain import json_text
from apimeter.domain.accounts import Pricing
from apimeter.domain.ids import ulid
from apimeter.domain.paths import strip_query, template
from apimeter.domain.windows import iso_ms
from apimeter.errors import ValidationFailed

MAX_BATCH = 1000
OTHER = "other"  # what an endpoint or consumer past the project's cap is counted as
MAX_PROPERTIES = 32
MAX_PROPERTIES_BYTES = 4096
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"})

EventId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")]
PropertyValue = str | int | float | bool | None


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
    method: str = Field(..., min_length=1, max_length=16, description="HTTP method of the tracked call.")
    endpoint: str | None = Field(None, min_length=1, max_length=512, description="Route template, e.g. /users/{id}.")
    path: str | None = Field(None, min_length=1, max_length=2048, description="Raw request path.")
    status: int = Field(..., ge=100, le=599)
    latency_ms: float | None = Field(None, ge=0, le=3_600_000)
    request_bytes: int | None = Field(None, ge=0, le=10**12)
    response_bytes: int | None = Field(None, ge=0, le=10**12)
    consumer: str | None = Field(None, min_length=1, max_length=256, description="Who called the tracked API.")
    ip: str | None = Field(None, max_length=45)
    user_agent: str | None = Field(None, max_length=512)
    cost: float | None = Field(None, ge=0, le=10**9, description="Cost of the call in the project's currency.")
    units: float | None = Field(None, ge=0, le=10**12, description="Billable units (tokens, credits...).")
    properties: dict[Annotated[str, StringConstraints(max_length=64)], PropertyValue] | None = None

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
        if value is not None and not _is_ip(value):
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


def _is_ip(value: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, value)
        except OSError:
            continue
        return True
    return False


@dataclass(slots=True)
class TrackedEvent:
    """A validated, normalized event of one project, ready to be stored."""

    project_id: str
    event_id: str
    ts_ms: int
    method: str
    endpoint: str
    status: int
    fingerprint: str
    path: str | None = None
    latency_ms: float | None = None
    request_bytes: int | None = None
    response_bytes: int | None = None
    consumer: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    cost: float | None = None
    units: float | None = None
    properties: dict[str, PropertyValue] | None = field(default=None)
    folded: str = ""  # "e" and/or "c": the endpoint/consumer is counted as ``OTHER`` (over the cap)
    # Sent with its own event_id but no timestamp: its time is when it was first received, which a
    # resend must find (dal/events.first_received); not stored.
    untimed: bool = False


PUBLIC_FIELDS = (
    "event_id",
    "timestamp",
    "method",
    "endpoint",
    "path",
    "status",
    "latency_ms",
    "request_bytes",
    "response_bytes",
    "consumer",
    "ip",
    "user_agent",
    "cost",
    "units",
    "properties",
)


def public(event: TrackedEvent) -> dict[str, Any]:
    """An event as it is shown (listing) and exported: its fields, the timestamp in ISO 8601."""
    return {name: iso_ms(event.ts_ms) if name == "timestamp" else getattr(event, name) for name in PUBLIC_FIELDS}


@dataclass(frozen=True, slots=True)
class Rejection:
    index: int
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class IngestPolicy:
    """What a project accepts: how far back (its retention) and forward (clock skew) events may be,
    and what it keeps of a caller's IP address."""

    retention_days: int
    max_future_skew_seconds: int
    ip_privacy: str = "full"  # full | hashed | none
    ip_salt: str = ""
    pricing: Pricing = field(default_factory=Pricing)  # for events that carry no cost of their own


def private_ip(ip: str | None, policy: IngestPolicy) -> str | None:
    """The IP as the project keeps it: as sent, a keyed hash (equal IPs match within the project and
    nowhere else), or nothing."""
    if ip is None or policy.ip_privacy == "full":
        return ip
    if policy.ip_privacy == "none":
        return None
    return "h:" + hmac.new(policy.ip_salt.encode(), ip.encode(), hashlib.sha256).hexdigest()[:32]


def parse_body(body: bytes | str) -> tuple[list[Any], bool]:
    """Split a request body into raw items. Returns ``(items, is_batch)``; whole-request errors raise."""
    try:
        document = json_text.loads(body)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(f"request body is not valid JSON: {exc.msg}") from exc
    if not isinstance(document, dict):
        raise ValidationFailed('request body must be an event object or {"events": [...]}')
    if "events" not in document:
        return [document], False
    items = document["events"]
    if not isinstance(items, list) or not items:
        raise ValidationFailed('"events" must be a non-empty array')
    if len(items) > MAX_BATCH:
        raise ValidationFailed(f"at most {MAX_BATCH} events per request", details={"received": len(items)})
    if len(document) > 1:
        raise ValidationFailed('a batch body has only the "events" field')
    return items, True


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"]) or "event"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def fingerprint(fields: dict[str, Any]) -> str:
    canonical = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


def validate_event(project_id: str, raw: Any, policy: IngestPolicy, now_ms: int) -> TrackedEvent:
    """Validate and normalize one item; raises ``ValidationFailed`` with a message for that item."""
    if not isinstance(raw, dict):
        raise ValidationFailed("event must be a JSON object")
    try:
        model = EventIn.model_validate(raw)
    except ValidationError as exc:
        raise ValidationFailed(_describe(exc)) from None
    if model.endpoint is None and model.path is None:
        raise ValidationFailed("endpoint or path is required")

    supplied = model.model_dump(exclude_none=True)
    if model.timestamp is None:
        ts_ms = now_ms
    elif isinstance(model.timestamp, int):
        ts_ms = model.timestamp
    else:
        if model.timestamp.tzinfo is None:
            raise ValidationFailed("timestamp: an ISO 8601 timestamp needs a UTC offset (e.g. Z)")
        ts_ms = int(model.timestamp.timestamp() * 1000)
    if model.timestamp is not None:
        supplied["timestamp"] = ts_ms
    if ts_ms > now_ms + policy.max_future_skew_seconds * 1000:
        raise ValidationFailed("timestamp: is in the future beyond the allowed clock skew")
    if ts_ms < now_ms - policy.retention_days * 86_400_000:
        raise ValidationFailed(f"timestamp: is older than the project's retention of {policy.retention_days} days")

    path = strip_query(model.path) if model.path is not None else None
    endpoint = model.endpoint if model.endpoint is not None else template(model.path or "/")
    assert endpoint is not None
    event_id = model.event_id or ulid(ts_ms).lower()
    supplied.pop("event_id", None)
    return TrackedEvent(
        project_id=project_id,
        event_id=event_id,
        ts_ms=ts_ms,
        method=model.method,
        endpoint=endpoint,
        status=model.status,
        fingerprint=fingerprint(supplied),
        untimed=model.timestamp is None and model.event_id is not None,
        path=path,
        latency_ms=model.latency_ms,
        request_bytes=model.request_bytes,
        response_bytes=model.response_bytes,
        consumer=model.consumer,
        ip=private_ip(model.ip, policy),
        user_agent=model.user_agent,
        cost=model.cost
        if model.cost is not None
        else policy.pricing.cost_of(model.method, endpoint, model.response_bytes),
        units=model.units,
        properties=model.properties,
    )


@dataclass(slots=True)
class Screened:
    """A batch after validation and in-batch de-duplication, before anything is written."""

    unique: list[tuple[int, TrackedEvent]]
    duplicates: int
    rejected: list[Rejection]


def screen(project_id: str, items: list[Any], policy: IngestPolicy, now_ms: int | None = None) -> Screened:
    """Validate every item; within one batch, the first occurrence of an event (its ``event_id`` and
    timestamp, as in the events table) wins."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    seen: dict[tuple[str, int], TrackedEvent] = {}
    unique: list[tuple[int, TrackedEvent]] = []
    rejected: list[Rejection] = []
    duplicates = 0
    for index, raw in enumerate(items):
        try:
            event = validate_event(project_id, raw, policy, now)
        except ValidationFailed as exc:
            rejected.append(Rejection(index, "VALIDATION_ERROR", exc.message))
            continue
        first = seen.get((event.event_id, event.ts_ms))
        if first is None:
            seen[(event.event_id, event.ts_ms)] = event
            unique.append((index, event))
        elif first.fingerprint == event.fingerprint:
            duplicates += 1
        else:
            rejected.append(
                Rejection(index, "CONFLICT", f"event_id {event.event_id!r} was sent with a different payload")
            )
    return Screened(unique, duplicates, rejected)
