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
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

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
# The contract's bounds, which the schema (domain/event_schema.py) declares and the fast path below
# applies: characters of each text field, and the range of each number.
LENGTHS = {"event_id": (1, 128), "method": (1, 16), "endpoint": (1, 512), "path": (1, 2048), "consumer": (1, 256),
           "ip": (0, 45), "user_agent": (0, 512)}  # fmt: skip
RANGES = {"status": (100, 599), "latency_ms": (0, 3_600_000), "request_bytes": (0, 10**12),
          "response_bytes": (0, 10**12), "cost": (0, 10**9), "units": (0, 10**12)}  # fmt: skip
INTEGERS = frozenset({"status", "request_bytes", "response_bytes"})  # the other ranges are of floats
EVENT_ID_PATTERN = r"^[A-Za-z0-9._:\-]+$"
MAX_PROPERTY_KEY = 64

PropertyValue = str | int | float | bool | None


def is_ip(value: str) -> bool:
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


def fingerprint(fields: dict[str, Any]) -> str:
    canonical = orjson.dumps(fields, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


def validate_event(project_id: str, raw: Any, policy: IngestPolicy, now_ms: int) -> TrackedEvent:
    """Validate and normalize one item; raises ``ValidationFailed`` with a message for that item."""
    if not isinstance(raw, dict):
        raise ValidationFailed("event must be a JSON object")
    fields = _canonical(raw)
    if fields is None:
        from apimeter.domain.event_schema import fields_of

        fields = fields_of(raw)
    if "endpoint" not in fields and "path" not in fields:
        raise ValidationFailed("endpoint or path is required")

    timestamp = fields.get("timestamp")
    if timestamp is None:
        ts_ms = now_ms
    elif isinstance(timestamp, int):
        ts_ms = timestamp
    else:
        if timestamp.tzinfo is None:
            raise ValidationFailed("timestamp: an ISO 8601 timestamp needs a UTC offset (e.g. Z)")
        ts_ms = int(timestamp.timestamp() * 1000)
        fields["timestamp"] = ts_ms
    if ts_ms > now_ms + policy.max_future_skew_seconds * 1000:
        raise ValidationFailed("timestamp: is in the future beyond the allowed clock skew")
    if ts_ms < now_ms - policy.retention_days * 86_400_000:
        raise ValidationFailed(f"timestamp: is older than the project's retention of {policy.retention_days} days")

    sent_id = fields.pop("event_id", None)  # the rest is what the fingerprint covers
    get = fields.get
    path = get("path")
    endpoint = get("endpoint") or template(path)
    method, response_bytes, cost = fields["method"], get("response_bytes"), get("cost")
    # By position, in the order of TrackedEvent's fields: keywords would cost the call twice as much.
    return TrackedEvent(
        project_id,
        sent_id or ulid(ts_ms).lower(),
        ts_ms,
        method,
        endpoint,
        fields["status"],
        fingerprint(fields),
        None if path is None else strip_query(path),
        get("latency_ms"),
        get("request_bytes"),
        response_bytes,
        get("consumer"),
        private_ip(get("ip"), policy),
        get("user_agent"),
        cost if cost is not None else policy.pricing.cost_of(method, endpoint, response_bytes),
        get("units"),
        get("properties"),
        "",
        timestamp is None and sent_id is not None,
    )


# An ISO 8601 timestamp in the form nearly every client sends (RFC 3339: a "T", at most microseconds,
# "Z" or a numeric offset), which datetime.fromisoformat reads exactly as the schema does.
_RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?(?:Z|[+-]\d\d:\d\d)")
_EVENT_ID = re.compile(EVENT_ID_PATTERN)
_FLOAT = (int, float)
_ORJSON_INTS = (-(2**63), 2**64 - 1)  # what orjson writes: a property beyond it goes to the schema


def _canonical(raw: dict[str, Any]) -> dict[str, Any] | None:
    """The fields the schema makes of ``raw`` (``None`` values left out), when every field is
    already in its canonical form: JSON's own type for it, no surrounding whitespace, within bounds.
    ``None`` when any is not: the schema then coerces, strips or names the problem. Most events are
    canonical, and judging them here takes a fraction of the schema's time."""
    fields: dict[str, Any] = {}
    for name, sent in raw.items():
        check = _CHECKS.get(name)
        if check is None:  # not a field of the contract
            return None
        if sent is None:
            if name in _REQUIRED:
                return None
            continue
        value = check(sent)
        if value is None:
            return None
        fields[name] = value
    return fields if "method" in fields and "status" in fields else None


Check = Callable[[Any], Any]  # a field's canonical value, or None when it is not canonical


def _text(name: str, then: Callable[[str], Any] | None = None) -> Check:
    low, high = LENGTHS[name]

    def check(value: Any) -> Any:
        if type(value) is not str or not low <= len(value) <= high:
            return None
        if value and (value[0].isspace() or value[-1].isspace()):
            return None
        return value if then is None else then(value)

    return check


def _number(name: str) -> Check:
    low, high = RANGES[name]
    if name in INTEGERS:
        return lambda value: value if type(value) is int and low <= value <= high else None
    return lambda value: float(value) if type(value) in _FLOAT and low <= value <= high else None


def _method(value: str) -> str | None:
    upper = value.upper()
    return upper if upper in HTTP_METHODS else None


def _timestamp(value: Any) -> int | datetime | None:
    kind = type(value)
    if kind is int:
        return value if -(2**53) <= value <= 2**53 else None
    if kind is not str or not _RFC3339.fullmatch(value):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:  # a day or an hour that does not exist: the schema names it
        return None


def _properties(properties: Any) -> dict[str, Any] | None:
    if type(properties) is not dict or len(properties) > MAX_PROPERTIES:
        return None
    for key, value in properties.items():
        if type(key) is not str or len(key) > MAX_PROPERTY_KEY or (key and (key[0].isspace() or key[-1].isspace())):
            return None
        kind = type(value)
        if kind is str:
            if value and (value[0].isspace() or value[-1].isspace()):
                return None
        elif kind is int:
            if not _ORJSON_INTS[0] <= value <= _ORJSON_INTS[1]:
                return None
        elif not (value is None or kind is bool or kind is float):
            return None
    if len(orjson.dumps(properties)) > MAX_PROPERTIES_BYTES:
        return None
    return dict(properties)


_REQUIRED = frozenset({"method", "status"})
_CHECKS: dict[str, Check] = {
    "event_id": _text("event_id", lambda value: value if _EVENT_ID.match(value) else None),
    "timestamp": _timestamp,
    "method": _text("method", _method),
    "endpoint": _text("endpoint"),
    "path": _text("path"),
    "status": _number("status"),
    "latency_ms": _number("latency_ms"),
    "request_bytes": _number("request_bytes"),
    "response_bytes": _number("response_bytes"),
    "consumer": _text("consumer"),
    "ip": _text("ip", lambda value: value if is_ip(value) else None),
    "user_agent": _text("user_agent"),
    "cost": _number("cost"),
    "units": _number("units"),
    "properties": _properties,
}


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
