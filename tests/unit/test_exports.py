"""Export lines and the events listing show an event the same way."""

from __future__ import annotations

import csv
import io
import json

from apimeter.api.models.analytics import EventOut
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


def test_csv_text_cells_that_a_spreadsheet_would_evaluate_are_quoted() -> None:
    hostile = TrackedEvent("prj", "=HYPERLINK(\"http://x\")", 1_763_814_645_123, "GET", "+/a", 200, "f",
                           path="-2+3", consumer="@SUM(A1)", user_agent="\tcmd", ip="\r=1",
                           cost=-1.5, units=-2)  # fmt: skip
    content = exports.header("csv") + exports.line(hostile, "csv")
    (row,) = csv.DictReader(io.StringIO(content.decode()))
    assert row["event_id"] == '\'=HYPERLINK("http://x")'
    assert row["endpoint"] == "'+/a"
    assert row["path"] == "'-2+3"
    assert row["consumer"] == "'@SUM(A1)"
    assert row["user_agent"] == "'\tcmd"
    assert row["ip"] == "'\r=1"
    # Numbers are not text: a negative one stays a number.
    assert row["cost"] == "-1.5"
    assert row["units"] == "-2"
    assert row["status"] == "200"
    # Other text is untouched, and JSON lines are data, not spreadsheet cells.
    assert row["method"] == "GET"
    assert json.loads(exports.line(hostile, "jsonl"))["consumer"] == "@SUM(A1)"
