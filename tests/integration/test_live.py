"""The live WebSocket API end to end in-process: real sockets on loopback against the gateway, the
template's routes and authorizer, handlers on moto, streams pumped on demand."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from apimeter.api.live import AlertMessage, AnomalyMessage, MinuteMessage
from apimeter.dal import connections, sockets
from apimeter.domain.events import TrackedEvent
from apimeter.domain.live import PUSH_SPACING_MS
from apimeter.logic import live
from apimeter.settings import settings
from offline.gateway import serve
from offline.stack import free_port
from offline.websocket import MANAGEMENT_PREFIX
from tests.builders import key_token, received, subscribe
from tests.integration.conftest import Api

WAIT = 30.0  # generous: the machine may be busy; nothing here is a latency bound


def push_to(monkeypatch: pytest.MonkeyPatch, endpoint: str) -> None:
    """Point the functions' post_to_connection calls at ``endpoint``."""
    monkeypatch.setenv("LIVE_ENDPOINT", endpoint)
    settings.cache_clear()
    sockets._client.cache_clear()


@pytest.fixture
def live_url(api: Api, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The gateway served on a loopback port, and the functions' pushes pointed at it."""
    server = serve(api.gateway, free_port())
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    push_to(monkeypatch, f"http://127.0.0.1:{port}{MANAGEMENT_PREFIX}")
    yield f"ws://127.0.0.1:{port}/ws"
    assert api.gateway.live is not None
    api.gateway.live.close_all()
    server.shutdown()
    server.server_close()


def nothing_more(socket: ClientConnection, seconds: float = 1.5) -> None:
    with pytest.raises(TimeoutError):
        socket.recv(timeout=seconds)


def track(api: Api, key: str, events: list[dict[str, Any]]) -> None:
    assert api.call("POST", "/v1/events", {"events": events}, key=key).status == 202
    api.pump()


def test_refused_upgrades_are_401_and_the_gateway_knows_no_connection(api: Api, live_url: str) -> None:
    session = api.register()
    for url in (live_url, f"{live_url}?token=", f"{live_url}?token=not-a-jwt"):
        with pytest.raises(InvalidStatus) as refused:
            connect(url, open_timeout=WAIT)
        assert refused.value.response.status_code == 401, url
    # a revoked token: signed out
    assert api.call("POST", "/v1/auth/logout", token=session["access_token"]).status == 204
    from apimeter.logic import authorization

    authorization.cache.clear()  # what AuthCacheSeconds would do in time
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{live_url}?token={session['access_token']}", open_timeout=WAIT)
    assert refused.value.response.status_code == 401
    # a key token without the read scope
    owner = api.register("other@example.com", "Other")["access_token"]
    project_id = api.project(owner)
    track_only = api.key(owner, project_id, ("track",))["key"]
    with pytest.raises(InvalidStatus) as refused:
        connect(f"{live_url}?token={key_token(api, track_only)}", open_timeout=WAIT)
    assert refused.value.response.status_code == 401
    assert api.gateway.live is not None
    assert api.gateway.live.open_count == 0


def test_subscribers_receive_each_minutes_totals_and_other_tenants_nothing(api: Api, live_url: str) -> None:
    owner = api.register()["access_token"]
    project_id = api.project(owner)
    key = api.key(owner, project_id)["key"]
    stranger = api.register("mallory@example.com", "Mallory")["access_token"]

    with (
        connect(f"{live_url}?token={owner}", open_timeout=WAIT) as mine,
        connect(f"{live_url}?token={stranger}", open_timeout=WAIT) as theirs,
    ):
        assert subscribe(mine, project_id) == {"type": "subscribed", "project_id": project_id}
        refused = subscribe(theirs, project_id)
        assert (refused["type"], refused["code"], refused["project_id"]) == ("error", "NOT_FOUND", project_id)

        now = int(time.time() * 1000)
        first = [{"event_id": f"a{i}", "method": "GET", "endpoint": "/users/{id}", "status": 200 if i % 4 else 503,
                  "latency_ms": 10 + i, "request_bytes": 100, "response_bytes": 1000, "cost": 0.01,
                  "timestamp": now} for i in range(8)]  # fmt: skip
        track(api, key, first)
        figures = received(mine)
        MinuteMessage.model_validate(figures)
        assert figures["project_id"] == project_id
        assert figures["minute"] == time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(now // 1000))
        assert (figures["requests"], figures["errors"]) == (8, 2)
        assert figures["status_classes"] == {"1xx": 0, "2xx": 6, "3xx": 0, "4xx": 0, "5xx": 2}
        assert (figures["bytes_in"], figures["bytes_out"], figures["cost"]) == (800, 8000, pytest.approx(0.08))
        assert figures["latency_ms"]["p50"] == pytest.approx(13.5, rel=0.05)

        # the next batch: the minute's totals so far, not the increment
        track(api, key, [{"event_id": "b0", "method": "GET", "endpoint": "/", "status": 200, "timestamp": now}])
        assert received(mine)["requests"] == 9
        nothing_more(theirs)


def test_answers_to_bad_frames_and_unsubscribe(api: Api, live_url: str) -> None:
    owner = api.register()["access_token"]
    project_id = api.project(owner)
    key = api.key(owner, project_id)["key"]
    with connect(f"{live_url}?token={key_token(api, key)}", open_timeout=WAIT) as socket:
        socket.send("not json")
        assert received(socket)["code"] == "VALIDATION_ERROR"
        socket.send(json.dumps({"action": "dance"}))
        assert "unknown action" in received(socket)["message"]
        socket.send(json.dumps({"action": "subscribe", "project_id": "../etc"}))
        assert received(socket)["code"] == "VALIDATION_ERROR"
        other = api.project(owner, "another")  # the key's tenant, but not the key's project
        assert subscribe(socket, other)["code"] == "NOT_FOUND"
        assert subscribe(socket, project_id)["type"] == "subscribed"
        socket.send(json.dumps({"action": "unsubscribe", "project_id": project_id}))
        assert received(socket) == {"type": "unsubscribed", "project_id": project_id}
        track(api, key, [{"event_id": "x", "method": "GET", "endpoint": "/", "status": 200}])
        nothing_more(socket)
    assert connections.subscribers(project_id) == []


def test_pushes_are_coalesced_to_one_a_second_and_carry_every_batch(api: Api, live_url: str) -> None:
    owner = api.register()["access_token"]
    project_id = api.project(owner)
    key = api.key(owner, project_id)["key"]
    batches, per_batch, now = 4, 5, int(time.time() * 1000)
    arrivals: list[tuple[float, int]] = []  # when each message arrived, and its count
    with connect(f"{live_url}?token={owner}", open_timeout=WAIT) as socket:
        subscribe(socket, project_id)

        def collect(until: int) -> None:
            while not arrivals or arrivals[-1][1] < until:
                arrivals.append((time.monotonic(), received(socket)["requests"]))

        # batches one after another: each push waits for the slot a second after the one before
        collector = threading.Thread(target=collect, args=(batches * per_batch,))
        collector.start()
        for b in range(batches):
            events = [{"event_id": f"c{b}-{i}", "method": "GET", "endpoint": "/", "status": 200, "timestamp": now}
                      for i in range(per_batch)]  # fmt: skip
            assert api.call("POST", "/v1/events", {"events": events}, key=key).status == 202
            api.pump()
        collector.join(WAIT)
        gaps = [later[0] - earlier[0] for earlier, later in itertools.pairwise(arrivals)]
        assert all(gap >= PUSH_SPACING_MS / 1000 - 0.1 for gap in gaps), gaps  # slack: when arrivals are noticed
        assert [n for _, n in arrivals] == [per_batch * (b + 1) for b in range(batches)]

        # eight batches at once (eight shards' consumers): one push now at most, one trailing, no more
        time.sleep(PUSH_SPACING_MS / 1000)
        touched = [TrackedEvent(project_id, f"d{i}", now, "GET", "/", 200, f"f{i}") for i in range(8)]
        burst = [threading.Thread(target=live.publish_minutes, args=([event],)) for event in touched]
        for thread in burst:
            thread.start()
        for thread in burst:
            thread.join(WAIT)
        pushed = []
        while True:
            try:
                pushed.append(received(socket, timeout=2)["requests"])
            except TimeoutError:
                break
    assert 1 <= len(pushed) <= 2, pushed
    assert pushed[-1] == batches * per_batch  # every figure the rollups hold, and never more


def test_a_gone_connection_is_forgotten_and_a_failed_push_never_fails_the_batch(
    api: Api, live_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = api.register()["access_token"]
    project_id = api.project(owner)
    key = api.key(owner, project_id)["key"]
    with connect(f"{live_url}?token={owner}", open_timeout=WAIT) as socket:
        subscribe(socket, project_id)
    # a socket that died without its $disconnect: its records are still there
    ghost = connections.Connection("ghost0000000000=", {}, frozenset([project_id]), int(time.time()) + 3600)
    connections.open_connection(ghost.connection_id, {}, 0, ghost.expires_at)
    assert connections.add_subscription(ghost, project_id, 5)
    track(api, key, [{"event_id": "g", "method": "GET", "endpoint": "/", "status": 200}])
    assert connections.subscribers(project_id) == []  # the push found it gone (410) and removed it
    assert connections.get_connection(ghost.connection_id) is None

    # the management API does not answer at all: figures are still counted, the batch succeeds
    connections.open_connection(ghost.connection_id, {}, 0, ghost.expires_at)
    assert connections.add_subscription(ghost, project_id, 5)
    push_to(monkeypatch, f"http://127.0.0.1:{free_port()}/dev")
    track(api, key, [{"event_id": f"h{i}", "method": "GET", "endpoint": "/", "status": 200} for i in range(3)])
    summary = api.call("GET", f"/v1/projects/{project_id}/metrics/summary?window=1h", key=key).body
    assert summary["requests"] == 4
    sqs = boto3.client("sqs")
    failures = sqs.get_queue_url(QueueName=api.stack.physical_name("AggregateFailureQueue"))["QueueUrl"]
    assert "Messages" not in sqs.receive_message(QueueUrl=failures, WaitTimeSeconds=0)


def test_budget_alerts_and_anomalies_arrive_as_they_are_recorded(api: Api, live_url: str) -> None:
    owner = api.register()["access_token"]
    project_id = api.project(owner)
    key = api.key(owner, project_id)["key"]
    budget = api.call("POST", f"/v1/projects/{project_id}/budgets",
                      {"name": "API spend", "amount": 1.0, "period": "daily", "metric": "cost",
                       "thresholds": [{"percent": 50}]}, token=owner).body  # fmt: skip
    with connect(f"{live_url}?token={owner}", open_timeout=WAIT) as socket:
        subscribe(socket, project_id)
        track(api, key, [{"event_id": f"s{i}", "method": "POST", "endpoint": "/gen", "status": 200, "cost": 0.2}
                         for i in range(3)])  # fmt: skip
        kinds: dict[str, dict[str, Any]] = {}
        while "alert" not in kinds:
            message = received(socket)
            kinds[message["type"]] = message
        alert = AlertMessage.model_validate(kinds["alert"])
        assert (alert.alert.budget_id, alert.alert.threshold.percent) == (budget["id"], 50)

        record = {"id": "an_1", "hour": "2026-11-29T10:00:00Z", "dimension": "project", "value": None,
                  "metric": "requests", "observed": 900.0, "expected": 300.0, "lower": 250.0, "upper": 350.0,
                  "direction": "up", "severity": "high", "score": 0.99,
                  "detected_at": "2026-11-29T11:15:02Z"}  # fmt: skip
        assert live.publish_anomaly(project_id, record).messages == 1
        anomaly = AnomalyMessage.model_validate(received(socket))
        assert anomaly.anomaly.id == "an_1"


def test_a_tenant_wide_alert_reaches_each_subscriber_of_the_tenant_once(api: Api, live_url: str) -> None:
    owner = api.register()["access_token"]
    first, second = api.project(owner, "web"), api.project(owner, "mobile")
    key = api.key(owner, first)["key"]
    stranger = api.register("eve@example.com", "Evil")["access_token"]
    other = api.project(stranger, "theirs")
    budget = api.call("POST", "/v1/budgets", {"name": "org", "amount": 1.0, "period": "daily", "metric": "cost",
                                              "thresholds": [{"percent": 50}]}, token=owner).body  # fmt: skip
    with (
        connect(f"{live_url}?token={owner}", open_timeout=WAIT) as both,
        connect(f"{live_url}?token={stranger}", open_timeout=WAIT) as theirs,
    ):
        assert subscribe(both, first)["type"] == subscribe(both, second)["type"] == "subscribed"
        assert subscribe(theirs, other)["type"] == "subscribed"
        track(api, key, [{"event_id": "t", "method": "POST", "endpoint": "/gen", "status": 200, "cost": 0.6}])
        alerts = []
        while True:
            try:
                message = received(both, timeout=3)
            except TimeoutError:
                break
            if message["type"] == "alert":
                alerts.append(message)
        nothing_more(theirs)
    (alert,) = alerts  # once, though the connection watches two of the tenant's projects
    assert (alert["project_id"], alert["alert"]["budget_id"]) == (None, budget["id"])


def test_posts_that_do_not_finish_in_time_count_as_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    release = threading.Event()

    class Stuck(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            release.wait(WAIT)  # a socket whose client stopped reading
            self.send_response(200)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Stuck)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    push_to(monkeypatch, f"http://127.0.0.1:{server.server_address[1]}/dev")
    try:
        delivery = sockets.post([f"slow{i}" for i in range(3)], b"{}", within=0.2)
        assert (delivery.sent, delivery.failed, delivery.gone) == (0, 3, [])
    finally:
        release.set()
        server.shutdown()
        server.server_close()
        sockets._client.cache_clear()


def test_a_closed_connection_can_neither_subscribe_nor_be_read(aws: dict[str, Any]) -> None:
    expires_at = int(time.time()) + 3_600
    connections.open_connection("gone", {"sub": "usr_1"}, int(time.time() * 1000), expires_at)
    connection = connections.get_connection("gone")
    assert connection is not None
    assert connections.close_connection("gone") == 0
    assert connections.add_subscription(connection, "prj_1", limit=5) is False
    connections.remove_subscription("gone", "prj_1")  # a no-op, not an error
    assert connections.subscribers("prj_1") == []
    assert connections.get_connection("gone") is None


def test_an_expired_connection_reads_as_gone(aws: dict[str, Any]) -> None:
    connections.open_connection("old", {"sub": "usr_1"}, int(time.time() * 1000), int(time.time()) - 1)
    assert connections.get_connection("old") is None
