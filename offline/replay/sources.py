"""Real third-party traffic read as API calls: each line or row becomes one event of the tracking contract.

Pure functions, no network. Two sources:

- an **access log** in Apache's combined format (or the common format, without referrer and agent):
  method, path, status, response bytes, client address and user agent, as logged; the route
  template, the consumer and the latency are derived (see ``route_template``, ``consumer_of`` and
  ``web_latency_ms``);
- an **LLM trace** (``TIMESTAMP,ContextTokens,GeneratedTokens``, one row per call): a
  ``POST /v1/chat/completions`` whose units are its tokens and whose cost is their price.

A call's ``event_id`` is a digest of the file's name and the line number, so replaying a file again
sends the same ids and the API counts every call once.
"""

from __future__ import annotations

import csv
import hashlib
import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from apimeter.domain.paths import template

MAX_USER_AGENT = 512  # the tracking contract's limits
MAX_ENDPOINT = 512
MAX_PATH = 2048
LONGEST_NAME = 64  # a path segment longer than this is a value (spam, an encoded query), not a route's name
LLM_ENDPOINT = "/v1/chat/completions"


@dataclass(frozen=True, slots=True)
class Call:
    """One call as the source recorded it: when (``at_ms``, the source's own clock), and the
    event's fields except ``timestamp``, which the timeline gives it."""

    source: str  # what the printout counts it under: "access-log", "llm-code", ...
    at_ms: int
    fields: dict[str, Any]


def event_id(file_name: str, line: int) -> str:
    """Stable across replays: the same line of the same file is the same event."""
    digest = hashlib.blake2b(f"{file_name}:{line}".encode(), digest_size=10).hexdigest()
    return f"replay-{digest}"


def unit_fraction(text: str) -> float:
    """A number in [0, 1) fixed by ``text``: deterministic jitter, the same at every replay."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big") / 2**64


# access logs

_LINE = re.compile(
    r'^(?P<ip>\S+) \S+ \S+ \[(?P<time>[^\]]+)\] "(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\S+)'
    r'(?: "(?P<referrer>[^"]*)" "(?P<agent>[^"]*)"?)?'  # combined format; the agent may be cut short
)
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), start=1)}  # fmt: skip
_LOG_TIME = re.compile(r"^(\d{2})/(\w{3})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})$")


def log_time_ms(text: str) -> int:
    """``17/May/2015:10:05:03 +0000`` as epoch milliseconds (month names in English, whatever the locale)."""
    found = _LOG_TIME.match(text)
    if not found or found.group(2) not in _MONTHS:
        raise ValueError(f"not an access-log time: {text!r}")
    day, month, year, hour, minute, second, sign, off_h, off_m = found.groups()
    local = datetime(int(year), _MONTHS[month], int(day), int(hour), int(minute), int(second), tzinfo=UTC)
    offset_s = (int(off_h) * 3600 + int(off_m) * 60) * (1 if sign == "+" else -1)
    return int(local.timestamp() - offset_s) * 1000


def parse_log_line(line: str, file_name: str, number: int) -> Call | None:
    """One access-log line as a call; None for a line that is not a request (garbage, an empty
    line, a request line that is not ``METHOD /path PROTOCOL``)."""
    found = _LINE.match(line.rstrip("\r\n"))
    if not found:
        return None
    parts = found.group("request").split()
    if len(parts) < 2 or not parts[1].startswith("/"):
        return None
    method, raw_path = parts[0].upper(), parts[1]
    status = int(found.group("status"))
    size = found.group("bytes")
    response_bytes = int(size) if size.isdigit() else 0  # "-": no body
    identifier = event_id(file_name, number)
    agent = found.group("agent")
    fields: dict[str, Any] = {
        "event_id": identifier,
        "method": method,
        "endpoint": route_template(raw_path)[:MAX_ENDPOINT],
        "path": raw_path.split("?", 1)[0].split("#", 1)[0][:MAX_PATH],
        "status": status,
        "latency_ms": web_latency_ms(status, response_bytes, identifier),
        "response_bytes": response_bytes,
        "consumer": consumer_of(agent),
        "properties": {"source": file_name, "line": number},
    }
    if _is_address(found.group("ip")):  # a host name is logged when the server resolves addresses
        fields["ip"] = found.group("ip")
    if agent and agent != "-":
        fields["user_agent"] = agent[:MAX_USER_AGENT]
    try:
        at_ms = log_time_ms(found.group("time"))
    except ValueError:
        return None
    return Call("access-log", at_ms, fields)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def access_log(path: Path) -> Iterator[Call]:
    """Every request of an access log, in file order (line numbers from 1)."""
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            call = parse_log_line(line, path.name, number)
            if call is not None:
                yield call


_FILE = re.compile(r"^.+\.([A-Za-z][A-Za-z0-9]{0,4})$")


def route_template(path: str) -> str:
    """The route a raw path was served by. Identifier-like segments become placeholders as the API
    itself does (numbers, UUIDs, hex digests, long tokens: ``apimeter.domain.paths``), and a file name
    inside a folder becomes that folder's static-file route (``/images/{file}.png``); a file at the
    root (``/favicon.ico``, ``/robots.txt``) is a route of its own; a segment too long to be a name is
    ``{value}``. A trailing slash is dropped."""
    segments = template(path).split("/")
    templated = "/".join("{value}" if len(s) > LONGEST_NAME else s for s in segments)
    folder, _, last = templated.rpartition("/")
    found = _FILE.match(last)
    if folder and found and not last.startswith("{"):
        return f"{folder}/{{file}}.{found.group(1).lower()}"
    return templated


# Browsers, by the token that names them; the first present wins (Chrome's agent also says Safari,
# Edge's and Opera's say Chrome).
_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Opera", "Opera"), ("Chromium/", "Chromium"),
             ("Chrome/", "Chrome"), ("CriOS/", "Chrome"), ("Firefox/", "Firefox"), ("MSIE ", "MSIE"),
             ("Trident/", "MSIE"), ("Safari/", "Safari"))  # fmt: skip
_URL = re.compile(r"(?:https?://|www\.)\S*|[\w.+-]+@[\w.-]+")  # "+http://.../robot.html", "help@moz.com"
_ROBOT = re.compile(r"([A-Za-z][\w.\-]*\w(?:bot|crawler|spider))\b", re.IGNORECASE)
_COMPATIBLE = re.compile(r"\(compatible; ?([^;/)+]+?)(?:[/;)+]| \d|$)")
_PRODUCT = re.compile(r"^([A-Za-z][\w.\- ]*?)\s*(?:[/;(]| - | \d|$)")


def consumer_of(agent: str | None) -> str:
    """Who called, as the kind of client software its user agent names: a crawler (``Googlebot``,
    ``bingbot``), a feed reader (``UniversalFeedParser``), a browser family (``Chrome``, ``Firefox``),
    a tool (``curl``). ``unknown`` without an agent."""
    if not agent or agent == "-":
        return "unknown"
    text = _URL.sub("", agent)
    robot = _ROBOT.search(text)
    if robot:
        return robot.group(1)
    compatible = _COMPATIBLE.search(text)  # "Mozilla/5.0 (compatible; Ezooms/1.0; ...)"
    if compatible:
        return compatible.group(1).strip()
    if text.startswith("Mozilla/"):
        return next((family for token, family in _BROWSERS if token in text), "Mozilla")
    product = _PRODUCT.match(text)
    return product.group(1) if product else "other"


# Synthetic latency: the log records none. Server time by status class (a 304 or a redirect is
# answered from headers, an error page is short, a 5xx has usually waited on what failed), plus the
# transfer of the body at 10 Mbit/s, times a jitter of 0.7-1.3 fixed by the event id.
_SERVER_MS = {1: 2.0, 2: 15.0, 3: 3.0, 4: 5.0, 5: 250.0}
_BYTES_PER_MS = 1250.0


def web_latency_ms(status: int, response_bytes: int, identifier: str) -> float:
    base = _SERVER_MS.get(status // 100, 15.0) + response_bytes / _BYTES_PER_MS
    return round(base * (0.7 + 0.6 * unit_fraction(identifier)), 1)


# LLM traces


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per million tokens."""

    context: float = 0.50
    generated: float = 1.50

    def cost(self, context_tokens: int, generated_tokens: int) -> float:
        return round((context_tokens * self.context + generated_tokens * self.generated) / 1e6, 8)


def llm_latency_ms(context_tokens: int, generated_tokens: int) -> float:
    """Synthetic, the trace records none: 150 ms of overhead, prefill at 5,000 tokens/s, decoding at 40."""
    return round(150 + context_tokens * 0.2 + generated_tokens * 25.0, 1)


def trace_time_ms(text: str) -> int:
    """``2023-11-16 18:17:03.9799600`` (taken as UTC; only the spacing of calls matters)."""
    head, _, fraction = text.strip().partition(".")
    moment = datetime.fromisoformat(head).replace(tzinfo=UTC)
    return int(moment.timestamp()) * 1000 + int((fraction + "000")[:3])


def llm_trace(path: Path, prices: Prices) -> Iterator[Call]:
    """Every call of an LLM trace, in file order."""
    name = path.stem.rsplit("_", 1)[-1].lower()  # AzureLLMInferenceTrace_code.csv -> code
    source = f"llm-{name}"
    with path.open(newline="", encoding="utf-8") as rows:
        reader = csv.reader(rows)
        next(reader, None)  # the header
        for index, row in enumerate(reader):
            if len(row) < 3:
                continue
            try:
                at_ms, context, generated = trace_time_ms(row[0]), int(row[1]), int(row[2])
            except ValueError:
                continue
            fields: dict[str, Any] = {
                "event_id": event_id(path.name, index + 2),  # the file's line: the header is line 1
                "method": "POST",
                "endpoint": LLM_ENDPOINT,
                "path": LLM_ENDPOINT,
                "status": 200,
                "latency_ms": llm_latency_ms(context, generated),
                "consumer": source,
                "units": context + generated,
                "cost": prices.cost(context, generated),
                "properties": {
                    "source": path.name,
                    "line": index + 2,
                    "context_tokens": context,
                    "generated_tokens": generated,
                },
            }
            yield Call(source, at_ms, fields)
