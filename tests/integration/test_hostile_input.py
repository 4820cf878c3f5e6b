"""Hostile and malformed input on the API's entry points, one row each: every answer is the error
envelope with the right status and code, and the stack still serves what is valid afterwards."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.integration.conftest import Api

DEEP = b"[" * 10_000 + b"]" * 10_000
NOT_UTF8 = b'\xff\xfe{"method": "GET"}'
BUDGET = {"name": "b", "amount": 10, "period": "monthly", "thresholds": [{"percent": 80}]}


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str  # {project} is the project's id
    body: bytes
    status: int
    code: str
    content_type: str | None = "application/json"
    credential: str = "token"  # or "key"


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


CASES = [
    Case("a JSON route sent text/plain", "POST", "/v1/projects", b'{"name": "x"}', 415, "UNSUPPORTED_MEDIA_TYPE",
         "text/plain"),
    Case("a JSON route sent a form", "POST", "/v1/projects", b"name=x", 415, "UNSUPPORTED_MEDIA_TYPE",
         "application/x-www-form-urlencoded"),
    Case("a PATCH sent text/plain", "PATCH", "/v1/projects/{project}", b'{"name": "x"}', 415,
         "UNSUPPORTED_MEDIA_TYPE", "text/plain; charset=utf-8"),
    Case("10,000-deep JSON", "POST", "/v1/projects", DEEP, 400, "VALIDATION_ERROR"),
    Case("NaN in JSON", "POST", "/v1/projects", b'{"name": NaN}', 400, "VALIDATION_ERROR"),
    Case("events that are not UTF-8", "POST", "/v1/events", NOT_UTF8, 400, "VALIDATION_ERROR",
         "application/octet-stream", "key"),
    Case("events that are not UTF-8, untyped", "POST", "/v1/events", NOT_UTF8, 400, "VALIDATION_ERROR", None, "key"),
    Case("a budget below DynamoDB's smallest number", "POST", "/v1/projects/{project}/budgets",
         _json({**BUDGET, "amount": 5e-324}), 422, "VALIDATION_ERROR"),
    Case("a budget above DynamoDB's largest number", "POST", "/v1/projects/{project}/budgets",
         _json({**BUDGET, "amount": 5e307}), 422, "VALIDATION_ERROR"),
    Case("a threshold below DynamoDB's smallest number", "POST", "/v1/projects/{project}/budgets",
         _json({**BUDGET, "thresholds": [{"percent": 5e-324}]}), 422, "VALIDATION_ERROR"),
    Case("a series from before 1970", "GET", "/v1/projects/{project}/metrics/timeseries?from=-5", b"", 400,
         "VALIDATION_ERROR"),
    Case("a series from a date that is not one", "GET",
         "/v1/projects/{project}/metrics/timeseries?from=2026-02-30T00:00:00Z", b"", 400, "VALIDATION_ERROR"),
]  # fmt: skip


@pytest.fixture
def caller(api: Api) -> dict[str, str]:
    session = api.register()
    project = api.project(session["access_token"])
    key = api.key(session["access_token"], project)["key"]
    return {"token": session["access_token"], "key": key, "project": project}


def _send(api: Api, case: Case, caller: dict[str, str]) -> tuple[int, dict[str, Any]]:
    credential = {case.credential: caller[case.credential]}
    reply = api.call(case.method, case.path.replace("{project}", caller["project"]), case.body,
                     content_type=case.content_type, **credential)  # fmt: skip
    return reply.status, reply.body


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_input_gets_the_envelope_and_the_stack_stays_well(api: Api, caller: dict[str, str], case: Case) -> None:
    status, body = _send(api, case, caller)
    assert (status, body["error"]["code"]) == (case.status, case.code), body
    assert body["error"]["message"]
    assert body["error"]["request_id"]
    after = api.call("POST", "/v1/events", {"method": "GET", "endpoint": "/after", "status": 200}, key=caller["key"])
    assert (after.status, after.body["accepted"]) == (202, 1)
    assert api.call("GET", f"/v1/projects/{caller['project']}", token=caller["token"]).status == 200


def test_a_series_from_1970_reads_from_1970(api: Api, caller: dict[str, str]) -> None:
    path = f"/v1/projects/{caller['project']}/metrics/timeseries?from=1970-01-01T00:00:00Z&to=1970-01-02T00:00:00Z"
    reply = api.call("GET", path, key=caller["key"])
    assert (reply.status, reply.body["from"], len(reply.body["points"])) == (200, "1970-01-01T00:00:00Z", 24)


def test_the_events_page_says_which_range_it_searched(api: Api, caller: dict[str, str]) -> None:
    reply = api.call("GET", f"/v1/projects/{caller['project']}/events?from=1970-01-01T00:00:00Z", key=caller["key"])
    assert reply.status == 200
    assert reply.body["from"] > "2026"  # moved up to what retention keeps, and said so


def test_tiny_prices_are_kept_to_twelve_places(api: Api, caller: dict[str, str]) -> None:
    pricing = {
        "per_request": 5e-324,
        "per_gb_out": 1.0000000000004,
        "per_endpoint": [{"pattern": "GET /a", "per_request": 1e-13}],
    }
    reply = api.call("PATCH", f"/v1/projects/{caller['project']}", {"pricing": pricing}, token=caller["token"])
    assert reply.status == 200, reply.body
    kept = reply.body["pricing"]
    assert (kept["per_request"], kept["per_gb_out"], kept["per_endpoint"][0]["per_request"]) == (0.0, 1.0, 0.0)


@pytest.mark.parametrize(
    ("query", "start", "end"),
    [
        ("from=0001-01-01T00:00:00Z&to=1970-01-02T00:00:00Z", "1970-01-01T00:00:00Z", "1970-01-02T00:00:00Z"),
        ("from=9999-12-31T00:00:00Z&to=99999999999999999999", "9999-12-31T00:00:00Z", "9999-12-31T23:59:59Z"),
    ],
)
def test_instants_past_what_is_kept_answer_the_range_used(
    api: Api, caller: dict[str, str], query: str, start: str, end: str
) -> None:
    path = f"/v1/projects/{caller['project']}/metrics/summary?{query}"
    reply = api.call("GET", path, token=caller["token"])
    assert (reply.status, reply.body["from"], reply.body["to"], reply.body["requests"]) == (200, start, end, 0)
