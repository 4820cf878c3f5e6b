"""Live pushes: what a subscribed socket is sent, and when.

A project's ``minute`` figures are pushed at most once per ``PUSH_SPACING_MS`` however many stream
batches touch it, on the trailing edge: a batch that finds a push done less than a second ago
claims the next slot (a second after it), and the push made then reads the rollups as they are by
that time, so the figures of every batch in between are in it. Slots live in one item per project
(see dal/connections.py); this module decides, from the slot it finds, which slot a batch claims.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson

from apimeter.domain.rollups import STATUS_CLASSES, Totals
from apimeter.domain.windows import bucket_ms, iso

PUSH_SPACING_MS = 1000
MAX_FRAME_BYTES = 32 * 1024  # API Gateway's WebSocket frame limit
CONNECTION_SECONDS = 2 * 3600  # API Gateway ends every connection after two hours
MAX_SUBSCRIPTIONS = 50  # projects one connection may watch


def slot_to_claim(last_slot_ms: int | None, now_ms: int, spacing_ms: int = PUSH_SPACING_MS) -> int | None:
    """The push slot a batch that has just recorded its minutes should claim, or None when the push
    already due will read them.

    ``last_slot_ms`` is the newest slot claimed, seen atomically with the batch's minutes being
    recorded: a slot later than now has not read the rollups yet (its reader takes the minutes
    after its time), so there is nothing to do. A slot within the last ``spacing_ms`` may have read
    them before this batch's writes, so the batch claims the slot after it. Otherwise the batch
    pushes now.
    """
    if last_slot_ms is None or last_slot_ms <= now_ms - spacing_ms:
        return now_ms
    if last_slot_ms <= now_ms:
        return last_slot_ms + spacing_ms
    return None


def _number(value: Decimal) -> float:
    return float(round(value, 6))


def minute_message(project_id: str, minute: str, totals: Totals) -> dict[str, Any]:
    """A minute's totals so far, flat, from its rollup bucket (``minute`` is the bucket key)."""
    latency = totals.latency()
    return {
        "type": "minute",
        "project_id": project_id,
        "minute": iso(bucket_ms(minute, "minute")),
        "requests": totals.requests,
        "errors": totals.errors,
        "status_classes": {name: totals.status_classes.get(name, 0) for name in STATUS_CLASSES},
        "latency_ms": {"p50": latency["p50"], "p95": latency["p95"], "p99": latency["p99"]},
        "bytes_in": totals.bytes_in,
        "bytes_out": totals.bytes_out,
        "cost": _number(totals.cost),
    }


def alert_message(alert: dict[str, Any]) -> dict[str, Any]:
    """A budget alert as it fires: the payload SNS, EventBridge and webhooks receive."""
    return {"type": "alert", "project_id": alert.get("project_id"), "alert": alert}


def anomaly_message(project_id: str, anomaly: dict[str, Any]) -> dict[str, Any]:
    return {"type": "anomaly", "project_id": project_id, "anomaly": anomaly}


def error_message(code: str, message: str, project_id: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if project_id is not None:
        found["project_id"] = project_id
    return found


def encode(message: dict[str, Any]) -> bytes:
    """The frame of a message. One too big for a frame is sent as its type, project and id with
    ``truncated: true`` (the full record is in the HTTP API), never cut into invalid JSON."""
    frame = orjson.dumps(message)
    if len(frame) <= MAX_FRAME_BYTES:
        return frame
    shortened: dict[str, Any] = {"type": message["type"], "project_id": message.get("project_id"), "truncated": True}
    inner = next((v for v in message.values() if isinstance(v, dict) and "id" in v), None)
    if inner is not None:
        shortened["id"] = str(inner["id"])[:256]
    return orjson.dumps(shortened)
