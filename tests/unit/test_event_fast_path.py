"""The ingest fast path gives exactly what the schema gives, or steps aside.

``domain/events._canonical`` judges events whose every field is already canonical; everything else
goes to ``domain/event_schema.EventIn``. Whenever the fast path answers, its answer must be the
schema's, value for value and type for type (the fingerprint of an event, hence exactly-once, is
computed from it).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apimeter.domain import events
from apimeter.domain.event_schema import fields_of
from apimeter.errors import ValidationFailed


def typed(value: Any) -> Any:
    """``value`` with the type of every part, so that 1 and 1.0 and True differ."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, datetime):
        return ("datetime", value.timestamp(), value.utcoffset())
    return (type(value).__name__, value)


def schema_fields(raw: dict[str, Any]) -> Any:
    try:
        return fields_of(raw)
    except ValidationFailed:
        return None


CANONICAL = [
    {"method": "GET", "path": "/users/42", "status": 200},
    {
        "event_id": "req-1",
        "timestamp": "2025-11-22T11:59:00.123+01:00",
        "method": "post",
        "endpoint": "/v1/items/{id}",
        "path": "/v1/items/7?x=1",
        "status": 201,
        "latency_ms": 12,
        "request_bytes": 10,
        "response_bytes": 0,
        "consumer": "acme",
        "ip": "2001:db8::1",
        "user_agent": "",
        "cost": 0.25,
        "units": 3,
        "properties": {"plan": "pro", "n": 1, "f": 1.0, "ok": True, "none": None},
    },
    {"method": "DELETE", "endpoint": "/", "status": 599, "timestamp": 1_763_812_800_000, "consumer": None},
]


@pytest.mark.parametrize("raw", CANONICAL)
def test_canonical_events_take_the_fast_path_and_agree(raw: dict[str, Any]) -> None:
    fast = events._canonical(raw)
    assert fast is not None
    assert typed(fast) == typed(schema_fields(raw))


@pytest.mark.parametrize(
    "change",
    [
        {"method": " GET"},
        {"method": "FETCH"},
        {"status": "200"},
        {"status": 200.0},
        {"status": True},
        {"latency_ms": "12"},
        {"latency_ms": True},
        {"timestamp": "2025-11-22"},
        {"timestamp": "1700000000000"},
        {"timestamp": 1.5},
        {"event_id": "a b"},
        {"consumer": ""},
        {"ip": "999.1.1.1"},
        {"properties": {" k": 1}},
        {"properties": {"k": [1]}},
        {"unknown": 1},
        {"method": None},
    ],
)
def test_what_is_not_canonical_goes_to_the_schema(change: dict[str, Any]) -> None:
    assert events._canonical(CANONICAL[0] | change) is None


def _rarely(usual: st.SearchStrategy[Any], unusual: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` nine times in ten."""
    return st.integers(0, 9).flatmap(lambda n: usual if n else unusual)


def _text(size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    characters = [*"aZ09-_.:/{}?\u00e9xyzAB~+=@", " ", "\t", "\u00a0", "\u2003", "\x1c"]  # spaces now and then
    return st.text(alphabet=st.sampled_from(characters), min_size=min_size, max_size=size)


def _sized(size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    """Mostly in bounds, sometimes just past them."""
    return _rarely(_text(min(size, 40), min_size), _text(size + 4, size) | st.just(""))


ANYTHING = st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.floats() | _text(8) | st.just([1])


def _numbers(low: int, high: int) -> st.SearchStrategy[Any]:
    """In range as ints and floats, the bounds themselves, and just past them."""
    return _rarely(
        st.integers(low, high) | st.floats(low, high),
        st.sampled_from([low, high, low - 1, high + 1, float(low), high + 0.5, str(high), True]),
    )


OFFSETS = st.sampled_from(["Z", "z", "+00:00", "-05:30", "+14:00", "+24:00", "", "+0100"])
TIMESTAMPS = (
    st.builds(
        lambda d, sep, offset: d.isoformat(sep=sep) + offset,
        st.datetimes(),
        st.sampled_from("T Tt"),
        OFFSETS,
    )
    | st.from_regex(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)\Z")
    | st.integers(-(2**60), 2**60)
    | st.integers(0, 2_000_000_000_000)
)
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "event_id": st.from_regex(r"\A[A-Za-z0-9._:\-]{1,130}\Z") | _sized(128),
    "timestamp": _rarely(
        st.integers(0, 2_000_000_000_000) | st.datetimes(timezones=st.just(UTC)).map(datetime.isoformat), TIMESTAMPS
    ),
    "endpoint": _sized(512, 1),
    "path": _sized(2048, 1),
    "latency_ms": _numbers(0, 3_600_000),
    "request_bytes": _numbers(0, 10**12),
    "response_bytes": _numbers(0, 10**12),
    "consumer": _sized(256, 1),
    "ip": st.sampled_from(["10.0.0.1", "::1", "2001:db8::1", "1.2.3", " 10.0.0.1", "", "::ffff:1.2.3.4"]) | _text(4),
    "user_agent": _sized(512),
    "cost": _numbers(0, 10**9),
    "units": _numbers(0, 10**12),
    "properties": _rarely(
        st.dictionaries(_sized(64), st.none() | st.booleans() | st.integers() | st.floats() | _text(8), max_size=8),
        st.dictionaries(_text(64), ANYTHING, min_size=30, max_size=34) | st.dictionaries(_text(64), _text(4000)),
    ),
}


@st.composite
def raw_events(draw: st.DrawFn) -> dict[str, Any]:
    """Events that are mostly valid, with a field now and then of another type or out of bounds."""
    raw: dict[str, Any] = {
        "method": draw(
            _rarely(st.sampled_from(["GET", "get", "Post", "OPTIONS"]), st.sampled_from(["FETCH", " put", ""]))
        ),
        "status": draw(_numbers(100, 599)),
    }
    for name in draw(st.sets(st.sampled_from(sorted(FIELDS)))):
        raw[name] = draw(_rarely(FIELDS[name], ANYTHING))
    if draw(st.integers(0, 19)) == 0:
        raw[draw(st.sampled_from(["method", "status", "extra"]))] = draw(ANYTHING)
    return raw


@settings(max_examples=3000, deadline=None)
@given(raw=raw_events())
def test_whenever_the_fast_path_answers_the_schema_answers_the_same(raw: dict[str, Any]) -> None:
    fast = events._canonical(raw)
    if fast is not None:
        assert typed(fast) == typed(schema_fields(raw))
