"""The Lambda decorator on real sample events: REST API, HTTP API (payload 2.0) and ALB."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from apimeter_client import Client, from_header
from apimeter_client.aws_lambda import instrument
from fake_apimeter import FakeApimeter, Recorder

EVENTS = Path(__file__).resolve().parents[3] / "events"


def sample(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


class FlushingRecorder(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.flushes: list[float] = []
        self.flushed = True

    def flush(self, timeout: float | None = None) -> bool:
        self.flushes.append(timeout or 0.0)
        return self.flushed


def handled(recorder: Any, event: dict[str, Any], result: Any = None, **options: Any) -> Any:
    @instrument(recorder, **options)
    def handler(event: dict[str, Any], context: Any) -> Any:
        return result

    return handler(event, None)


def test_a_rest_api_event_records_its_resource():
    recorder = FlushingRecorder()
    event = sample("clients/rest-api.json")
    handled(recorder, event, {"statusCode": 200, "body": '{"id": 42}'})
    call = recorder.last
    assert call["endpoint"] == "/users/{id}"
    assert call["path"] == "/users/42"
    assert call["method"] == "GET"
    assert call["status"] == 200
    assert call["request_bytes"] == len(base64.b64decode(event["body"]))
    assert call["response_bytes"] == 10
    assert call["user_agent"] == "Custom User Agent String"
    assert call["ip"] == event["requestContext"]["identity"]["sourceIp"]
    assert recorder.flushes == [2.0]


def test_http_api_events_record_their_route_key():
    recorder = FlushingRecorder()
    handled(recorder, sample("clients/http-api.json"), {"statusCode": "201", "body": "ok"})
    assert recorder.last["endpoint"] == "/orders/{order_id}"
    assert recorder.last["path"] == "/orders/ord_8f3a2b"
    assert recorder.last["method"] == "POST"
    assert recorder.last["status"] == 201
    assert "ip" not in recorder.last  # this sample's sourceIp ("192.168.0.1/32") is not an address
    ours = sample("analytics-summary.json")  # one of apimeter's own HTTP API events
    handled(recorder, ours, {"total": 3})  # payload 2.0: a plain value answers 200 with it as JSON
    assert recorder.last["endpoint"] == "/v1/projects/{project_id}/metrics/summary"
    assert recorder.last["status"] == 200
    assert recorder.last["response_bytes"] == len(json.dumps({"total": 3}))
    assert recorder.last["ip"] == "203.0.113.7"


def test_an_alb_event_sends_the_raw_path_and_trusts_the_balancers_address():
    recorder = FlushingRecorder()
    handled(recorder, sample("clients/alb.json"), {"statusCode": 204}, consumer=from_header("Host"))
    call = recorder.last
    assert "endpoint" not in call
    assert call["path"] == "/orders/17"
    assert call["method"] == "POST"
    assert call["status"] == 204
    assert call["ip"] == "72.12.164.125"
    assert call["consumer"] == "lambda-alb-123578498.us-east-2.elb.amazonaws.com"


def test_greedy_and_default_routes_send_the_raw_path():
    recorder = FlushingRecorder()
    rest = sample("clients/rest-api.json") | {"resource": "/{proxy+}"}
    handled(recorder, rest, {"statusCode": 200})
    assert "endpoint" not in recorder.last
    http = sample("clients/http-api.json") | {"routeKey": "$default"}
    handled(recorder, http, {"statusCode": 200})
    assert "endpoint" not in recorder.last
    assert recorder.last["path"] == "/orders/ord_8f3a2b"


def test_an_exception_is_recorded_as_500_flushed_and_raised():
    recorder = FlushingRecorder()

    @instrument(recorder)
    def handler(event: dict[str, Any], context: Any) -> Any:
        raise ValueError("handler bug")

    with pytest.raises(ValueError, match="handler bug"):
        handler(sample("clients/rest-api.json"), None)
    assert recorder.last["status"] == 500
    assert recorder.flushes == [2.0]


def test_a_missing_status_code_is_what_the_gateway_would_answer():
    recorder = FlushingRecorder()
    handled(recorder, sample("clients/rest-api.json"), {"body": "x"})
    assert recorder.last["status"] == 502
    handled(recorder, sample("clients/http-api.json"), "plain text")
    assert recorder.last["status"] == 200
    assert recorder.last["response_bytes"] == len("plain text")


def test_after_a_failed_flush_invocations_only_glance():
    """An outage must not slow every invocation: what is not sent waits for the next one."""
    event = sample("clients/rest-api.json")
    degraded = FlushingRecorder()
    degraded.flushed = False

    @instrument(degraded, flush_timeout=3.0)
    def handler(event: dict[str, Any], context: Any) -> Any:
        return {"statusCode": 200}

    handler(event, None)
    handler(event, None)
    degraded.flushed = True
    handler(event, None)
    handler(event, None)
    assert degraded.flushes == [3.0, 0.05, 0.05, 3.0]


def test_the_event_is_at_apimeter_before_the_handler_returns(fake: FakeApimeter):
    client = Client("amk_test", fake.url, flush_interval=3600)

    @instrument(client)
    def handler(event: dict[str, Any], context: Any) -> Any:
        return {"statusCode": 200, "body": "hello"}

    for _ in range(3):
        handler(copy.deepcopy(sample("clients/http-api.json")), None)
    assert [e["endpoint"] for e in fake.events.values()] == ["/orders/{order_id}"] * 3
    client.close()


def test_an_invocation_that_is_not_an_http_event_is_handled_and_not_recorded():
    recorder = FlushingRecorder()

    @instrument(recorder)
    def handler(event: Any, context: Any) -> Any:
        return {"seen": event}

    assert handler(["a", "batch"], None) == {"seen": ["a", "batch"]}
    assert recorder.calls == []
    assert recorder.flushes == [2.0]  # what other invocations tracked is still flushed


def test_from_header_reads_asgi_scopes_and_lambda_events_and_is_none_without_the_header():
    customer = from_header("X-Customer")
    assert customer({"type": "http", "headers": [(b"x-customer", b"acme")]}) == "acme"
    assert customer({"type": "http", "headers": [(b"host", b"api.example.com")]}) is None
    assert customer({"headers": {"X-CUSTOMER": "globex"}}) == "globex"
    assert customer({"headers": {"Host": "api.example.com"}}) is None
    assert customer({"headers": None}) is None
