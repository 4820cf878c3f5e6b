"""Stream aggregation: events table INSERT records become rollup deltas.

Records are applied in stream order up to the first record that cannot be read; that record's
sequence number is reported as the batch item failure, so Lambda retries from it (bisecting, up to
the mapping's retry limit, then to the on-failure queue) while everything before it counts once.
A failed rollup write fails the batch from its first record. Powertools' BatchProcessor is not used
here because it handles records one by one and keeps going after a failure, which for an additive
aggregate would count the records after the failure twice on retry.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from apimeter.dal import events, rollups, streams
from apimeter.domain.events import TrackedEvent
from apimeter.domain.rollups import deltas
from apimeter.logic import live
from apimeter.observability import logger
from apimeter.settings import settings


@dataclass(frozen=True, slots=True)
class Outcome:
    applied: int  # records whose events were added to rollups
    skipped: int  # records that carry no new event (MODIFY, REMOVE)
    updates: int  # rollup UpdateItem calls
    failed_sequence: str | None  # first record to retry, if any
    lag_ms: int | None = None  # from the API's receipt of the batch's oldest new event to its rollup write
    pushed: int = 0  # live minute messages sent to subscribed sockets


def _event_of(record: dict[str, Any]) -> tuple[TrackedEvent, int | None] | None:
    """The new event of a record and when the API received it; None for a record that adds no
    event (TTL expiry and rewrites never change what was counted)."""
    image = streams.inserted(record)
    return None if image is None else (events.from_image(image), events.received_of(image))


def aggregate(records: Sequence[dict[str, Any]]) -> Outcome:
    if not records:
        return Outcome(0, 0, 0, None)
    batch: list[TrackedEvent] = []
    received: list[int] = []
    skipped = 0
    failed: str | None = None
    for record in records:
        try:
            found = _event_of(record)
        except (KeyError, TypeError, ValueError):
            failed = record.get("dynamodb", {}).get("SequenceNumber")
            break
        if found is None:
            skipped += 1
        else:
            event, at = found
            batch.append(event)
            if at is not None:
                received.append(at)
    expires_at = int(time.time()) + settings().minute_rollup_retention_hours * 3600
    try:
        updates = rollups.apply(
            deltas(batch, dimensions_at=("minute",)),
            batch=str(records[0]["dynamodb"]["SequenceNumber"]),
            minute_expires_at=expires_at,
            now_ms=int(time.time() * 1000),
        )
    except Exception:
        logger.exception("rollup write failed; the batch is retried from its first record")
        return Outcome(0, 0, 0, records[0]["dynamodb"]["SequenceNumber"])
    lag_ms = max(0, int(time.time() * 1000) - min(received)) if received else None
    pushed = live.publish_minutes(batch)  # after the figures are stored; never fails the batch
    return Outcome(len(batch), skipped, updates, failed, lag_ms, pushed.messages)
