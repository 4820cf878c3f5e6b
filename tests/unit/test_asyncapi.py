"""The live WebSocket API's contract: docs/asyncapi.json is current, and every message the code builds
is the model the document describes (the models forbid fields they do not declare)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from apimeter.api.live import (
    SERVER_MESSAGES,
    AlertMessage,
    AnomalyMessage,
    ErrorMessage,
    MinuteMessage,
    SubscribedMessage,
    SubscriptionIn,
    TruncatedMessage,
    UnsubscribedMessage,
)
from apimeter.dal import connections, entities
from apimeter.domain import anomaly
from apimeter.domain.budgets.alerts import actual_alerts, forecast_alerts, payload
from apimeter.domain.budgets.periods import period_of
from apimeter.domain.budgets.rules import Budget, Channels, Threshold
from apimeter.domain.forecast import Point
from apimeter.domain.live import (
    MAX_FRAME_BYTES,
    MAX_SUBSCRIPTIONS,
    alert_message,
    anomaly_message,
    encode,
    error_message,
    minute_message,
)
from apimeter.domain.principal import Principal
from apimeter.domain.rollups import ENDPOINT, merge
from apimeter.domain.sketch import bin_of
from apimeter.domain.windows import bucket_ms, iso
from apimeter.logic import live
from apimeter.logic.anomalies import DIMENSION_NAMES
from tests.builders import invoke, sample
from tools.asyncapi import render

ROOT = Path(__file__).resolve().parent.parent.parent
PROJECT = "prj_1"


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


def sent_as(model: type[BaseModel], message: dict[str, Any]) -> dict[str, Any]:
    """The message's frame, read back as ``model``: it must validate and lose nothing."""
    frame = encode(message)
    assert len(frame) <= MAX_FRAME_BYTES
    parsed = model.model_validate_json(frame)
    assert parsed.model_dump(mode="json", exclude_unset=True) == json.loads(frame)
    sent: dict[str, Any] = json.loads(frame)
    return sent


# the document


def _document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((ROOT / "docs" / "asyncapi.json").read_text())
    return loaded


def test_checked_in_asyncapi_matches_the_code() -> None:
    checked_in = (ROOT / "docs" / "asyncapi.json").read_text()
    assert checked_in == render(), "docs/asyncapi.json is stale: run `make openapi`"


def test_every_reference_in_the_document_resolves() -> None:
    document = _document()

    def resolve(pointer: str) -> Any:
        assert pointer.startswith("#/"), pointer
        found: Any = document
        for part in pointer[2:].split("/"):
            found = found[part.replace("~1", "/").replace("~0", "~")]
        return found

    def walk(node: Any) -> int:
        if isinstance(node, list):
            return sum(walk(item) for item in node)
        if not isinstance(node, dict):
            return 0
        if isinstance(node.get("$ref"), str):
            resolve(node["$ref"])
            return 1
        return sum(walk(value) for value in node.values())

    assert walk(document) > 20


def _names(refs: list[dict[str, str]]) -> set[str]:
    return {ref["$ref"].removeprefix("#/channels/live/messages/") for ref in refs}


def test_every_model_is_a_message_and_every_operation_takes_its_channels() -> None:
    document = _document()
    models = {SubscriptionIn.__name__, *(model.__name__ for model in SERVER_MESSAGES)}
    assert set(document["components"]["messages"]) == models
    channel = document["channels"]["live"]
    assert set(channel["messages"]) == models
    received: set[str] = set()
    sent: set[str] = set()
    for operation in document["operations"].values():
        assert operation["channel"] == {"$ref": "#/channels/live"}
        names = _names(operation["messages"])
        replies = _names(operation.get("reply", {}).get("messages", []))
        assert names | replies <= set(channel["messages"])
        (received if operation["action"] == "receive" else sent).update(names)
        sent.update(replies)
    assert received == {"SubscriptionIn"}
    assert sent == models - received  # every server message is pushed or answered somewhere
    token = document["components"]["securitySchemes"]["token"]
    assert (token["type"], token["in"], token["name"]) == ("httpApiKey", "query", "token")


# the messages the code builds


def test_a_minute_message_is_built_from_its_rollup_bucket() -> None:
    bucket = {
        "requests": 3,
        "errors": 1,
        "c2xx": 2,
        "c5xx": 1,
        "lat_n": 3,
        "lat_sum": Decimal("30"),
        f"lq{bin_of(5.0)}": 1,
        f"lq{bin_of(10.0)}": 1,
        f"lq{bin_of(15.0)}": 1,
        "bytes_in": 10,
        "bytes_out": 20,
        "cost": Decimal("0.03"),
        "m_GET": 3,  # counters the message does not carry are left out
        "s200": 2,
        "s503": 1,
    }
    sent = sent_as(MinuteMessage, minute_message(PROJECT, "2026-11-29T10:15", merge([bucket])))
    assert sent["minute"] == "2026-11-29T10:15:00Z"
    assert (sent["requests"], sent["errors"], sent["bytes_in"], sent["bytes_out"]) == (3, 1, 10, 20)
    assert sent["status_classes"] == {"1xx": 0, "2xx": 2, "3xx": 0, "4xx": 0, "5xx": 1}
    assert sent["cost"] == pytest.approx(0.03)
    assert sent["latency_ms"]["p50"] == pytest.approx(10.0, rel=0.02)


def test_an_empty_minute_has_no_latency_yet() -> None:
    sent = sent_as(MinuteMessage, minute_message(PROJECT, "2026-11-29T10:15", merge([])))
    assert sent["latency_ms"] == {"p50": None, "p95": None, "p99": None}


FIRST = ms("2026-11-11T00:00:00Z")
NOVEMBER = period_of("monthly", "UTC", FIRST)
BUDGET = Budget(
    id="bud_1",
    tenant_id="ten_1",
    project_id=PROJECT,
    name="Project X",
    amount=100.0,
    period="monthly",
    metric="cost",
    timezone="UTC",
    thresholds=(Threshold(80),),
    channels=Channels(sns=True),
    created_at="2026-11-01T00:00:00Z",
)


def _alerts() -> list[dict[str, Any]]:
    project = actual_alerts(BUDGET, NOVEMBER, 82.4, FIRST)
    tenant = replace(BUDGET, project_id=None, key_id="key_9", thresholds=(Threshold(100, "forecast", 0.8, "throttle"),))
    daily = Point(value=4.0, lower80=2.5, upper80=5.5, lower95=2.0, upper95=6.0)
    forecast = forecast_alerts(tenant, NOVEMBER, 50.0, [daily] * 20, FIRST, 24 * 3_600_000, FIRST)
    requests = replace(BUDGET, metric="requests", amount=1_000_000.0, period="daily")
    counted = actual_alerts(requests, period_of("daily", "UTC", FIRST), 900_000.0, FIRST)
    alerts = [payload(alert) for alert in (*project, *forecast, *counted)]
    assert len(alerts) == 3
    return alerts


@pytest.mark.parametrize("alert", _alerts(), ids=["project", "tenant-wide forecast", "requests"])
def test_a_budget_alert_message_is_the_notification_payload(alert: dict[str, Any]) -> None:
    sent = sent_as(AlertMessage, alert_message(alert))
    assert sent["alert"] == alert
    assert sent["project_id"] == alert["project_id"]


def _anomaly(value: str = "GET /users/{id}") -> dict[str, Any]:
    """A record as the anomaly pipeline keeps and pushes it (apimeter.logic.anomalies)."""
    hour = "2026-11-29T09"
    return {
        "id": anomaly.anomaly_id(hour, ENDPOINT, value, "latency_p95"),
        "hour": iso(bucket_ms(hour, "hour")),
        "dimension": DIMENSION_NAMES[ENDPOINT],
        "value": value,
        "metric": "latency_p95",
        "observed": 412.5,
        "expected": 120.25,
        "lower": 80.0,
        "upper": 160.5,
        "direction": "up",
        "severity": "high",
        "score": 0.9931,
        "detected_at": "2026-11-29T10:05:12Z",
    }


def test_an_anomaly_message_carries_the_kept_record() -> None:
    record = _anomaly()
    assert sent_as(AnomalyMessage, anomaly_message(PROJECT, record))["anomaly"] == record


def test_error_messages_name_the_project_only_when_there_is_one() -> None:
    assert "project_id" not in sent_as(ErrorMessage, error_message("VALIDATION_ERROR", "unknown action"))
    assert sent_as(ErrorMessage, error_message("NOT_FOUND", "project not found", PROJECT))["project_id"] == PROJECT


@pytest.fixture
def key_connection(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A connection of an API key with the read scope on PROJECT, over an in-memory store; the
    subscriptions it holds are returned."""
    principal = Principal(kind="api_key", principal_id="key_1", tenant_id="ten_1", project_id=PROJECT, scopes=("read",))
    watched: list[str] = []

    def add(connection: connections.Connection, project_id: str, limit: int) -> bool:
        if len(watched) >= limit:
            return False
        watched.append(project_id)
        return True

    monkeypatch.setattr(connections, "get_connection", lambda c: connections.Connection(c, principal.to_context()))
    monkeypatch.setattr(connections, "add_subscription", add)
    monkeypatch.setattr(connections, "remove_subscription", lambda c, p: watched.remove(p))
    monkeypatch.setattr(entities.projects, "get_project", lambda tenant_id, project_id: object())
    return watched


def test_subscription_answers_are_their_messages(key_connection: list[str]) -> None:
    assert sent_as(SubscribedMessage, live.subscribe("c1", PROJECT)) == {"type": "subscribed", "project_id": PROJECT}
    refused = sent_as(ErrorMessage, live.subscribe("c1", "prj_2"))  # another project: the key may not read it
    assert (refused["code"], refused["project_id"]) == ("NOT_FOUND", "prj_2")
    assert key_connection == [PROJECT]
    key_connection.extend(f"prj_x{i}" for i in range(MAX_SUBSCRIPTIONS - 1))
    assert sent_as(ErrorMessage, live.subscribe("c1", PROJECT))["code"] == "VALIDATION_ERROR"
    answer = sent_as(UnsubscribedMessage, live.unsubscribe("c1", PROJECT))
    assert answer == {"type": "unsubscribed", "project_id": PROJECT}


@pytest.mark.parametrize(
    ("route", "body"),
    [("$default", '{"action": "dance"}'), ("subscribe", "not json"), ("subscribe", '{"action": "subscribe"}')],
)
def test_frames_the_live_function_cannot_act_on_are_answered_with_an_error(route: str, body: str) -> None:
    event = sample("live")
    event["requestContext"]["routeKey"] = route
    event["body"] = body
    response = invoke("live", event)
    assert response["statusCode"] == 200
    sent = sent_as(ErrorMessage, json.loads(response["body"]))
    assert sent["code"] == "VALIDATION_ERROR"


def test_a_message_too_big_for_a_frame_is_sent_truncated() -> None:
    alert = {**_alerts()[0], "message": "x" * (MAX_FRAME_BYTES + 1)}
    assert len(json.dumps(alert_message(alert))) > MAX_FRAME_BYTES
    sent = sent_as(TruncatedMessage, alert_message(alert))
    assert sent == {"type": "alert", "project_id": PROJECT, "id": alert["id"], "truncated": True}
    tenant_wide = sent_as(TruncatedMessage, alert_message({**alert, "project_id": None}))
    assert tenant_wide["project_id"] is None
    record = _anomaly("GET /" + "a" * MAX_FRAME_BYTES)
    sent = sent_as(TruncatedMessage, anomaly_message(PROJECT, record))
    assert sent == {"type": "anomaly", "project_id": PROJECT, "id": record["id"], "truncated": True}
