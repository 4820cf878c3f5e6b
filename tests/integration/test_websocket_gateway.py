"""The offline WebSocket gateway behaves as API Gateway's: refusals at the upgrade, route
selection, fragmented messages, the management API, the idle limit and a stop. Its functions here
are stand-ins that record what they were given; no AWS is involved."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from offline import websocket
from offline.gateway import Gateway, serve
from offline.stack import free_port
from offline.template import SocketRoute, Stack, WebSocketApi
from tests.builders import received, wait_for

WAIT = 30.0


class Function:
    """A stand-in Lambda: answers with ``answer(event)`` and keeps every event."""

    def __init__(self, answer: Callable[[dict[str, Any]], Any]) -> None:
        self.answer = answer
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> Any:
        self.events.append(event)
        return self.answer(event)


def allow(event: dict[str, Any]) -> dict[str, Any]:
    token = event["queryStringParameters"]["token"]
    if token == "crash":
        raise RuntimeError("boom")
    if token == "bad":
        raise PermissionError("Unauthorized")
    effect = "Deny" if token == "deny" else "Allow"
    statement = {"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}
    return {"principalId": "usr_1", "policyDocument": {"Statement": [statement]}, "context": {"tenant_id": "t1"}}


def routes(event: dict[str, Any]) -> dict[str, Any]:
    context = event["requestContext"]
    if context["routeKey"] == "$connect":
        return {"statusCode": 403 if "refuse" in event.get("queryStringParameters", {}).get("token", "") else 200}
    if context["routeKey"] == "crash":
        raise RuntimeError("boom")
    return {"statusCode": 200, "body": json.dumps({"route": context["routeKey"], "body": event.get("body")})}


class Live:
    def __init__(self, server: Any, authorizer: Function, function: Function) -> None:
        self.server = server
        self.port = server.server_address[1]
        self.authorizer = authorizer
        self.function = function

    def url(self, token: str | None = "good") -> str:
        return f"ws://127.0.0.1:{self.port}/ws" + (f"?token={token}" if token is not None else "")

    def manage(self, method: str, connection_id: str, body: bytes | None = None) -> tuple[int, bytes]:
        url = f"http://127.0.0.1:{self.port}{websocket.MANAGEMENT_PREFIX}/@connections/{connection_id}"
        request = urllib.request.Request(url, method=method, data=body)
        try:
            with urllib.request.urlopen(request, timeout=WAIT) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def connection_id(self) -> str:
        connects = [e for e in self.function.events if e["requestContext"]["routeKey"] == "$connect"]
        return str(connects[-1]["requestContext"]["connectionId"])

    def disconnects(self) -> list[dict[str, Any]]:
        return [e for e in self.function.events if e["requestContext"]["routeKey"] == "$disconnect"]


@pytest.fixture
def live() -> Iterator[Live]:
    responding = {"$default", "echo", "crash"}
    api = WebSocketApi(
        "LiveApi",
        "apimeter-offline-LiveApi",
        "dev",
        "$request.body.action",
        {
            "$connect": SocketRoute("$connect", "Fn", "Authorizer", ("route.request.querystring.token",)),
            "$disconnect": SocketRoute("$disconnect", "Fn"),
            **{key: SocketRoute(key, "Fn", responds=True) for key in responding},
            "quiet": SocketRoute("quiet", "Fn"),
        },
    )
    authorizer, function = Function(allow), Function(routes)
    stack = Stack(root=Path("."), parameters={}, resources={}, websockets=[api])
    server = serve(Gateway(stack, {"Authorizer": authorizer, "Fn": function}), free_port())  # type: ignore[dict-item]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield Live(server, authorizer, function)
    server.shutdown()
    assert server.gateway.live is not None
    server.gateway.live.close_all()
    server.server_close()


@pytest.mark.parametrize(
    ("token", "status", "authorizer_called"),
    [
        (None, 401, False),
        ("", 401, False),
        ("bad", 401, True),
        ("deny", 403, True),
        ("crash", 500, True),
        ("refuse-me", 403, True),
    ],
)
def test_refused_upgrades(live: Live, token: str | None, status: int, authorizer_called: bool) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(live.url(token), open_timeout=WAIT)
    assert refused.value.response.status_code == status
    assert bool(live.authorizer.events) is authorizer_called
    assert not live.disconnects()  # a refused upgrade never connected


def test_events_carry_what_api_gateway_sends(live: Live) -> None:
    with connect(live.url() + "&x=1", open_timeout=WAIT, user_agent_header="probe/1") as socket:
        socket.send(json.dumps({"action": "echo", "n": 1}))
        assert received(socket) == {"route": "echo", "body": json.dumps({"action": "echo", "n": 1})}
    (checked,) = live.authorizer.events
    assert checked["type"] == "REQUEST"
    assert checked["methodArn"].endswith(":apimeter-offline-LiveApi/dev/$connect")
    assert checked["queryStringParameters"] == {"token": "good", "x": "1"}
    connected = live.function.events[0]
    assert connected["requestContext"]["eventType"] == "CONNECT"
    assert connected["requestContext"]["authorizer"] == {"tenant_id": "t1", "principalId": "usr_1"}
    message = live.function.events[1]["requestContext"]
    assert (message["eventType"], message["stage"], message["identity"]["userAgent"]) == ("MESSAGE", "dev", "probe/1")
    assert message["authorizer"]["principalId"] == "usr_1"
    assert message["connectionId"] == connected["requestContext"]["connectionId"]
    wait_for(lambda: len(live.disconnects()) == 1)
    assert live.disconnects()[0]["requestContext"]["disconnectStatusCode"] == 1000


def test_route_selection_fragments_and_failures(live: Live) -> None:
    with connect(live.url(), open_timeout=WAIT) as socket:
        socket.send("not json")
        assert received(socket)["route"] == "$default"
        socket.send(json.dumps({"action": "unknown"}))
        assert received(socket)["route"] == "$default"
        socket.send(['{"action": ', '"echo", "parts": ', "3}"])  # one message in three frames
        assert received(socket) == {"route": "echo", "body": '{"action": "echo", "parts": 3}'}
        socket.send(json.dumps({"action": "crash"}))
        assert received(socket)["message"] == "Internal server error"
        socket.send(json.dumps({"action": "quiet"}))  # no route response: nothing comes back
        socket.ping().wait(WAIT)  # answered by the protocol
        with pytest.raises(TimeoutError):
            socket.recv(timeout=0.5)


def test_the_management_api_reaches_open_sockets_and_says_gone_for_others(live: Live) -> None:
    with connect(live.url(), open_timeout=WAIT) as socket:
        connection_id = live.connection_id()
        assert live.manage("POST", connection_id, b'{"pushed": true}') == (200, b"")
        assert received(socket) == {"pushed": True}
        assert live.manage("POST", connection_id, b"\xff\xfe") == (200, b"")
        assert socket.recv(timeout=WAIT) == b"\xff\xfe"  # not UTF-8: a binary frame, not a broken text one
        status, info = live.manage("GET", connection_id)
        assert status == 200
        assert set(json.loads(info)) == {"ConnectedAt", "LastActiveAt", "Identity"}
        assert live.manage("POST", connection_id, b"x" * (websocket.MAX_MESSAGE_BYTES + 1))[0] == 413
        assert live.manage("PUT", connection_id, b"")[0] == 405
        assert live.manage("DELETE", connection_id) == (204, b"")
        with pytest.raises(ConnectionClosed):
            socket.recv(timeout=WAIT)
    wait_for(lambda: len(live.disconnects()) == 1)
    status, body = live.manage("POST", connection_id, b"{}")
    assert (status, json.loads(body)["__type"]) == (410, "GoneException")


def test_an_idle_connection_is_closed_and_disconnected(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(websocket, "IDLE_SECONDS", 0.3)
    with connect(live.url(), open_timeout=WAIT, ping_interval=None) as socket:
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=WAIT)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1001
    wait_for(lambda: len(live.disconnects()) == 1)


def test_a_stop_closes_every_socket_and_runs_their_disconnects(live: Live) -> None:
    with ExitStack() as opened:
        sockets = [opened.enter_context(connect(live.url(), open_timeout=WAIT)) for _ in range(3)]
        assert live.server.gateway.live.open_count == 3
        assert live.server.gateway.live.close_all() == 3
        for socket in sockets:
            with pytest.raises(ConnectionClosed):
                socket.recv(timeout=WAIT)
    wait_for(lambda: len(live.disconnects()) == 3)
    assert {d["requestContext"]["disconnectStatusCode"] for d in live.disconnects()} == {1001}
