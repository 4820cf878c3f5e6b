"""Exports: a range of a project's raw events written to a file, CSV or JSON lines.

The file is produced by an asynchronous job (logic/exports.py) in parts of at least
``PART_BYTES``; this module only says what a request may ask for and how an event becomes a line.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Literal

import orjson

from apimeter.domain.events import PUBLIC_FIELDS, TrackedEvent, public

Format = Literal["csv", "jsonl"]
Status = Literal["queued", "running", "ready", "failed"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl")
CONTENT_TYPES: dict[str, str] = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
COLUMNS = PUBLIC_FIELDS
FILTERS = ("endpoint", "method", "status", "consumer")
PART_BYTES = 8 * 1024 * 1024  # S3 multipart parts (the minimum is 5 MiB); at most 10,000 parts
MAX_RANGE_DAYS = 400
FILE_DAYS = 7  # files expire (bucket lifecycle), and so do their records
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection"); tracked
# strings come from whoever calls the tracked API, so such a text cell is written with a leading quote.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """An export as a caller asks for it: its range as sent (ISO 8601 or epoch ms, read when it is
    checked) and the filters given, of ``FILTERS``."""

    start: str
    end: str
    format: Format = "csv"
    filters: dict[str, str | int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Export:
    id: str
    tenant_id: str
    project_id: str
    start_ms: int
    end_ms: int
    format: Format
    filters: dict[str, str | int]
    status: Status
    created_at: str
    rows: int = 0
    bytes: int = 0
    parts: int = 0
    upload_id: str | None = None
    cursor: str | None = None  # the last event written in an uploaded part (its events-table sort key)
    finished_at: str | None = None
    error: str | None = None

    @property
    def object_key(self) -> str:
        return f"exports/{self.tenant_id}/{self.project_id}/{self.id}.{self.format}"

    @property
    def file_name(self) -> str:
        return f"{self.project_id}-{self.id}.{self.format}"


def header(file_format: Format) -> bytes:
    """What the file starts with: the CSV header line; nothing for JSON lines."""
    return _csv_line(list(COLUMNS)) if file_format == "csv" else b""


def line(event: TrackedEvent, file_format: Format) -> bytes:
    row = public(event)
    if file_format == "jsonl":
        return orjson.dumps({k: v for k, v in row.items() if v is not None}) + b"\n"
    cells = []
    for name in COLUMNS:
        value = row[name]
        if value is None:
            cells.append("")
        elif isinstance(value, dict):
            cells.append(orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode())
        elif isinstance(value, str):
            cells.append(text_cell(value))
        else:  # numbers stay numbers: a negative cost is data, not a formula
            cells.append(str(value))
    return _csv_line(cells)


def text_cell(value: str) -> str:
    """A text cell a spreadsheet shows as text, never evaluates."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _csv_line(cells: list[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue().encode()
