"""The live WebSocket API on the offline stack (``make dev``): real sockets over loopback.

Minute figures follow tracked events; a budget crossing arrives as ``alert``; an anomaly the
hourly pipeline finds arrives as ``anomaly``; another tenant's subscription gets ``error`` and
nothing else; a signed-out token cannot connect."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from apimeter.api.live import AlertMessage, AnomalyMessage, MinuteMessage
from tests.builders import key_token, subscribe
from tests.e2e.conftest import AUTH_CACHE_SECONDS, Stack, plant_spike
from tests.e2e.test_offline_stack import setup_project

pytestmark = pytest.mark.e2e

WAIT = 60.0  # generous: the machine may be busy; nothing here is a latency bound
HOUR = 3_600_000


def live_url(stack: Stack, token: str) -> str:
    return f"ws://127.0.0.1:{stack.port}/ws?token={token}"


def next_of(socket: ClientConnection, kind: str) -> dict[str, Any]:
    """The next message of ``kind``; minute figures may come in between any others."""
    deadline = time.monotonic() + WAIT
    while True:
        message: dict[str, Any] = json.loads(socket.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message["type"] == kind:
            return message


def track(stack: Stack, key: str, events: list[dict[str, Any]]) -> None:
    assert stack.client.call("POST", "/v1/events", {"events": events}, key=key).status == 202


def test_minute_figures_follow_tracked_events_and_other_tenants_get_nothing(stack: Stack) -> None:
    _, project_id, key = setup_project(stack.client, "live-owner@example.com")
    stranger, _, _ = setup_project(stack.client, "live-stranger@example.com")
    with (
        connect(live_url(stack, key_token(stack.client, key)), open_timeout=WAIT) as mine,
        connect(live_url(stack, stranger), open_timeout=WAIT) as theirs,
    ):
        assert subscribe(mine, project_id, WAIT) == {"type": "subscribed", "project_id": project_id}
        refused = subscribe(theirs, project_id, WAIT)
        assert (refused["type"], refused["code"]) == ("error", "NOT_FOUND")

        now = int(time.time() * 1000)
        track(stack, key, [{"event_id": f"m{i}", "method": "GET", "endpoint": "/orders/{id}",
                            "status": 500 if i == 0 else 200, "latency_ms": 20, "response_bytes": 512,
                            "cost": 0.5, "timestamp": now} for i in range(4)])  # fmt: skip
        figures = MinuteMessage.model_validate(next_of(mine, "minute"))
        while figures.requests < 4:  # the stream may deliver the batch in parts
            figures = MinuteMessage.model_validate(next_of(mine, "minute"))
        assert (figures.project_id, figures.requests, figures.errors) == (project_id, 4, 1)
        assert figures.status_classes["5xx"] == 1
        assert figures.bytes_out == 2048
        assert figures.cost == pytest.approx(2.0)
        assert figures.latency_ms.p99 == pytest.approx(20, rel=0.05)
        with pytest.raises(TimeoutError):
            theirs.recv(timeout=2)  # nothing of another tenant's project, ever


def test_a_budget_crossing_arrives_as_an_alert(stack: Stack) -> None:
    token, project_id, key = setup_project(stack.client, "live-budget@example.com")
    budget = stack.client.call("POST", f"/v1/projects/{project_id}/budgets",
                               {"name": "launch", "amount": 1, "period": "daily", "thresholds": [{"percent": 50}]},
                               token=token).body  # fmt: skip
    with connect(live_url(stack, token), open_timeout=WAIT) as socket:
        assert subscribe(socket, project_id, WAIT)["type"] == "subscribed"
        track(stack, key, [{"event_id": f"b{i}", "method": "POST", "endpoint": "/generate", "status": 200,
                            "cost": 0.3} for i in range(2)])  # fmt: skip
        alert = AlertMessage.model_validate(next_of(socket, "alert"))
    assert (alert.project_id, alert.alert.budget_id, alert.alert.threshold.percent) == (project_id, budget["id"], 50)
    listed = stack.client.call("GET", f"/v1/projects/{project_id}/budgets/{budget['id']}/alerts", key=key).body
    assert [a["id"] for a in listed["alerts"]] == [alert.alert.id]


def test_an_anomaly_the_pipeline_finds_arrives_as_an_anomaly(stack: Stack) -> None:
    token, project_id, _ = setup_project(stack.client, "live-anomaly@example.com")
    hour = plant_spike(stack, project_id)
    with connect(live_url(stack, token), open_timeout=WAIT) as socket:
        assert subscribe(socket, project_id, WAIT)["type"] == "subscribed"
        ran = stack.client.call("POST", "/_offline/schedules/HourlyPipeline", {"hour": hour})
        assert (ran.status, ran.body["status"]) == (200, "SUCCEEDED"), ran.body
        anomaly = AnomalyMessage.model_validate(next_of(socket, "anomaly"))
    assert (anomaly.project_id, anomaly.anomaly.metric, anomaly.anomaly.direction) == (project_id, "requests", "up")
    listed = stack.client.call("GET", f"/v1/projects/{project_id}/anomalies?window=24h", token=token).body
    assert [a["id"] for a in listed["anomalies"]] == [anomaly.anomaly.id]


def test_a_signed_out_token_cannot_connect(stack: Stack) -> None:
    token, _, _ = setup_project(stack.client, "live-leaver@example.com")
    with connect(live_url(stack, token), open_timeout=WAIT):
        pass
    assert stack.client.call("POST", "/v1/auth/logout", token=token).status == 204
    time.sleep(AUTH_CACHE_SECONDS + 0.5)  # the authorizer trusts a verified token this long
    with pytest.raises(InvalidStatus) as refused:
        connect(live_url(stack, token), open_timeout=WAIT)
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus) as refused:
        connect(f"ws://127.0.0.1:{stack.port}/ws", open_timeout=WAIT)
    assert refused.value.response.status_code == 401
