"""Export lines and the events listing show an event the same way."""

from __future__ import annotations

import csv
import io
import json

from apimeter.api.models import EventOut
from apimeter.domain import exports
from apimeter.domain.events import PUBLIC_FIELDS, TrackedEvent

EVENT = TrackedEvent("prj", "e1", 1_763_814_645_123, "GET", "/users/{id}", 200, "f", path="/users/7",
                     user_agent='a "quoted", agent', properties={"plan": "pro"})  # fmt: skip


def test_the_listing_and_the_files_have_the_same_fields() -> None:
    assert tuple(EventOut.model_fields) == PUBLIC_FIELDS == exports.COLUMNS


def test_csv_and_jsonl_lines() -> None:
    content = exports.header("csv") + exports.line(EVENT, "csv")
    (row,) = csv.DictReader(io.StringIO(content.decode()))
    assert row["timestamp"] == "2025-11-22T12:30:45.123Z"
    assert row["user_agent"] == 'a "quoted", agent'
    assert json.loads(row["properties"]) == {"plan": "pro"}
    assert row["latency_ms"] == ""
    jsonl = json.loads(exports.line(EVENT, "jsonl"))
    assert jsonl == EventOut.of(EVENT).model_dump(exclude_none=True)
    assert exports.header("jsonl") == b""
