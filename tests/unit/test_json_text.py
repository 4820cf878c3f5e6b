"""The API's JSON reader: strict, and a repeated key refused however the text hides it."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apimeter.domain import json_text

REPEATED = [
    b'{"a": 1, "a": 2}',
    b'{"events": [{"status": 200, "method": "GET", "status": 500}]}',
    b'{"a": {"b": 1, "b": 1}}',
    b'{"name": "a", "n\\u0061me": "b"}',  # the same key, once escaped
    b'{"x": "\\u003a", "a": 1, "a": 2}',  # an escaped colon beside the repeat
    b'{"a": "1:2", "a": "3"}',  # the dropped value had colons of its own
    b'[{"k": [1, {"z": 0, "z": 0}]}]',
]


@pytest.mark.parametrize("text", REPEATED)
def test_a_repeated_key_is_refused(text: bytes) -> None:
    for given_text in (text, text.decode()):
        with pytest.raises(json.JSONDecodeError, match="appears twice"):
            json_text.loads(given_text)


@pytest.mark.parametrize(
    "text",
    [b'{"url": "http://a:b@c:80/", "t": "12:00:00"}', b'{"a": "\\u003a", "b": {"c": ":"}}', b"[1, 2]", b'"x:y"'],
)
def test_colons_in_strings_are_not_keys(text: bytes) -> None:
    assert json_text.loads(text) == json.loads(text)


keys = st.text(alphabet='ab:\\"\u00e9', min_size=0, max_size=3)
values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10) | st.text(alphabet='a:"\\', max_size=3),
    lambda children: st.lists(children, max_size=3) | st.lists(st.tuples(keys, children), max_size=4),
    max_leaves=12,
)


def _write(value: Any, escape: bool) -> str:
    """JSON text of ``value``, where a list of pairs is an object that may repeat keys."""
    if isinstance(value, list) and value and all(isinstance(p, tuple) for p in value):
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=escape)}: {_write(v, escape)}" for k, v in value) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_write(v, escape) for v in value) + "]"
    return json.dumps(value, ensure_ascii=escape)


@settings(max_examples=400, deadline=None)
@given(document=st.lists(st.tuples(keys, values), max_size=5), escape=st.booleans())
def test_refuses_exactly_what_the_standard_parser_sees_repeated(document: list[Any], escape: bool) -> None:
    text = _write(document, escape) if document else "{}"
    try:
        json_text._refuse_repeated_keys(text)
        repeated = False
    except json.JSONDecodeError:
        repeated = True
    for given_text in (text, text.encode()):
        if repeated:
            with pytest.raises(json.JSONDecodeError):
                json_text.loads(given_text)
        else:
            json_text.loads(given_text)
