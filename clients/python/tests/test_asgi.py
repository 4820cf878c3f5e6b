"""ASGI middleware on FastAPI and Starlette apps: templates through routers and mounts, bytes, errors."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from fake_apimeter import Recorder

fastapi = pytest.importorskip("fastapi")
from fastapi import APIRouter, FastAPI, Request, WebSocket  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.responses import PlainTextResponse, StreamingResponse  # noqa: E402
from starlette.routing import Mount, Route  # noqa: E402
from starlette.staticfiles import StaticFiles  # noqa: E402

from apimeter_client import from_header  # noqa: E402
from apimeter_client.asgi import ApimeterMiddleware  # noqa: E402


def fastapi_app(recorder: Recorder, **options: Any) -> FastAPI:
    app = FastAPI()
    users = APIRouter(prefix="/users")

    @users.get("/{user_id}")
    def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    @users.post("/{user_id}/avatar")
    async def avatar(user_id: int, request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    nested = APIRouter()

    @nested.get("/orders/{order_id}")
    def order(order_id: str, request: Request) -> dict[str, str]:
        request.state.customer = "acme"
        return {"id": order_id}

    shops = APIRouter(prefix="/shops/{shop}")
    shops.include_router(nested, prefix="/v2")
    app.include_router(users, prefix="/api")
    app.include_router(shops)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("the app failed")

    @app.get("/stream")
    def stream() -> StreamingResponse:
        return StreamingResponse(iter([b"a" * 1000, b"b" * 2345]))

    sub = FastAPI()

    @sub.get("/things/{thing_id}")
    def thing(thing_id: int) -> dict[str, int]:
        return {"id": thing_id}

    app.mount("/sub", sub)
    app.mount(
        "/tenants/{tenant}/legacy",
        Starlette(routes=[Route("/hello/{name}", lambda request: PlainTextResponse("hi"))]),
    )
    app.add_middleware(ApimeterMiddleware, client=recorder, **options)
    return app


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.mark.parametrize(
    ("path", "template", "status"),
    [
        ("/api/users/42", "/api/users/{user_id}", 200),
        ("/api/users/abc", "/api/users/{user_id}", 422),
        ("/shops/s-1/v2/orders/o-9", "/shops/{shop}/v2/orders/{order_id}", 200),
        ("/sub/things/7", "/sub/things/{thing_id}", 200),
        ("/tenants/t1/legacy/hello/bob", "/tenants/{tenant}/legacy/hello/{name}", 200),
    ],
)
def test_templates_through_routers_and_mounts(recorder: Recorder, path: str, template: str, status: int):
    client = TestClient(fastapi_app(recorder))
    assert client.get(path).status_code == status
    call = recorder.last
    assert call["endpoint"] == template
    assert call["path"] == path
    assert call["status"] == status
    assert call["method"] == "GET"
    assert call["latency_ms"] >= 0


def test_unmatched_paths_are_sent_raw_and_405_keeps_the_route(recorder: Recorder):
    client = TestClient(fastapi_app(recorder))
    assert client.get("/nowhere/123?secret=1").status_code == 404
    assert "endpoint" not in recorder.last
    assert recorder.last["path"] == "/nowhere/123"
    assert client.delete("/api/users/1").status_code == 405
    assert recorder.last["endpoint"] == "/api/users/{user_id}"


def test_root_path_is_part_of_the_template(recorder: Recorder):
    client = TestClient(fastapi_app(recorder), root_path="/gateway")
    assert client.get("/gateway/api/users/5").status_code == 200
    assert recorder.last["endpoint"] == "/gateway/api/users/{user_id}"
    assert client.get("/gateway/sub/things/5").status_code == 200
    assert recorder.last["endpoint"] == "/gateway/sub/things/{thing_id}"


def test_bytes_are_counted_and_the_response_is_untouched(recorder: Recorder):
    client = TestClient(fastapi_app(recorder))
    response = client.get("/stream")
    assert response.content == b"a" * 1000 + b"b" * 2345
    assert recorder.last["response_bytes"] == 3345
    response = client.post("/api/users/1/avatar", content=b"x" * 5000)
    assert response.json() == {"size": 5000}
    assert recorder.last["request_bytes"] == 5000
    response = client.post("/api/users/1/avatar", content=iter([b"y" * 300, b"z" * 200]))  # chunked
    assert response.json() == {"size": 500}
    assert recorder.last["request_bytes"] == 500


def test_an_exception_is_recorded_as_500_and_raised(recorder: Recorder):
    client = TestClient(fastapi_app(recorder))
    with pytest.raises(RuntimeError, match="the app failed"):
        client.get("/boom")
    assert recorder.last["status"] == 500
    assert recorder.last["endpoint"] == "/boom"
    quiet = TestClient(fastapi_app(recorder), raise_server_exceptions=False)
    assert quiet.get("/boom").status_code == 500
    assert recorder.last["status"] == 500


def test_consumer_ip_and_user_agent(recorder: Recorder):
    by_state = TestClient(
        fastapi_app(recorder, consumer=lambda scope: scope.get("state", {}).get("customer"), trusted_proxies=1)
    )
    by_state.get("/shops/s/v2/orders/1", headers={"x-forwarded-for": "198.51.100.1, 203.0.113.9", "user-agent": "ua/1"})
    assert recorder.last["consumer"] == "acme"
    assert recorder.last["ip"] == "203.0.113.9"  # the one proxy we trust saw this address
    assert recorder.last["user_agent"] == "ua/1"
    by_header = TestClient(fastapi_app(recorder, consumer=from_header("X-Customer")))
    by_header.get("/api/users/1", headers={"x-customer": "globex", "x-forwarded-for": "198.51.100.1"})
    assert recorder.last["consumer"] == "globex"
    assert "ip" not in recorder.last  # forwarded-for is not believed, and the test client has no address


def test_a_failing_consumer_callable_costs_only_the_consumer(recorder: Recorder):
    def broken(scope: Any) -> str:
        raise KeyError("nope")

    TestClient(fastapi_app(recorder, consumer=broken)).get("/api/users/1")
    assert recorder.last["status"] == 200
    assert "consumer" not in recorder.last


def test_static_files_mount_and_plain_starlette(recorder: Recorder, tmp_path):
    (tmp_path / "app.css").write_text("body{}")
    app = Starlette(
        routes=[
            Route("/items/{item_id:int}", lambda request: PlainTextResponse("item")),
            Mount("/static", StaticFiles(directory=tmp_path)),
        ]
    )
    app.add_middleware(ApimeterMiddleware, client=recorder)
    client = TestClient(app)
    assert client.get("/items/3").status_code == 200
    assert recorder.last["endpoint"] == "/items/{item_id}"
    assert client.get("/static/app.css").text == "body{}"
    assert recorder.last["endpoint"] == "/static/{path}"
    assert recorder.last["response_bytes"] == 6


def test_older_starlette_without_scope_route_is_matched_by_walking_the_routes(recorder: Recorder):
    """Starlette before 0.4x never set scope["route"]: the middleware walks the routes itself."""
    app = fastapi_app(recorder)

    class ForgetRoute:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            async def forgetful_send(message: Any) -> None:
                scope.pop("route", None)  # gone before the middleware records the call
                await send(message)

            await self.inner(scope, receive, forgetful_send)

    inner = ApimeterMiddleware(ForgetRoute(app.router), client=recorder)

    async def outer(scope: Any, receive: Any, send: Any) -> None:
        scope["app"] = app
        await inner(scope, receive, send)

    client = TestClient(outer)
    client.get("/sub/things/3")
    assert recorder.last["endpoint"] == "/sub/things/{thing_id}"
    client.get("/tenants/t9/legacy/hello/x")
    assert recorder.last["endpoint"] == "/tenants/{tenant}/legacy/hello/{name}"


def test_websockets_and_lifespan_pass_untouched(recorder: Recorder):
    app = FastAPI()

    @app.websocket("/ws")
    async def socket(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_text("hello")
        await websocket.close()

    app.add_middleware(ApimeterMiddleware, client=recorder)
    with TestClient(app) as client, client.websocket_connect("/ws") as ws:  # lifespan runs too
        assert ws.receive_text() == "hello"
    assert recorder.calls == []


def test_a_cancelled_request_is_recorded_as_closed_by_the_client(recorder: Recorder):
    async def slow(scope: Any, receive: Any, send: Any) -> None:
        await asyncio.sleep(60)

    middleware = ApimeterMiddleware(slow, client=recorder)

    async def run() -> None:
        scope = {"type": "http", "method": "GET", "path": "/slow", "headers": [], "client": ("10.0.0.1", 1)}
        task = asyncio.ensure_future(middleware(scope, None, None))  # type: ignore[arg-type]
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())
    assert recorder.last["status"] == 499
    assert recorder.last["ip"] == "10.0.0.1"


def test_a_catch_all_route_in_a_mount_keeps_the_mount_prefix(recorder: Recorder):
    app = FastAPI()
    files = FastAPI()

    @files.get("/{rest:path}")
    def anything(rest: str) -> dict[str, str]:
        return {"rest": rest}

    app.mount("/files", files)
    app.add_middleware(ApimeterMiddleware, client=recorder)
    TestClient(app).get("/files/a/b")
    assert recorder.last["endpoint"] == "/files/{rest}"
    TestClient(app, root_path="/gw").get("/gw/files/a/b")
    assert recorder.last["endpoint"] == "/gw/files/{rest}"


def test_the_call_ends_with_its_response_not_its_background_tasks(recorder: Recorder):
    """Recorded when the last byte is sent: a background task's time and failure are not the call's."""
    from starlette.background import BackgroundTask

    release = asyncio.Event()

    async def chore() -> None:
        await release.wait()
        raise RuntimeError("the chore failed after the response")

    async def endpoint(request: Any) -> PlainTextResponse:
        return PlainTextResponse("done", background=BackgroundTask(chore))

    middleware = ApimeterMiddleware(
        Starlette(routes=[Route("/jobs/{job}", endpoint, methods=["POST"])]), client=recorder
    )
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {"type": "http", "method": "POST", "path": "/jobs/7", "root_path": "", "headers": [],
                 "query_string": b"", "client": ("192.0.2.9", 1), "asgi": {"version": "3.0"}}  # fmt: skip
        task = asyncio.ensure_future(middleware(scope, receive, send))
        while not recorder.calls:  # recorded while the chore still waits
            await asyncio.sleep(0.01)
        assert not task.done()
        release.set()
        with pytest.raises(RuntimeError, match="the chore failed"):
            await task

    asyncio.run(run())
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
    assert len(recorder.calls) == 1
    assert recorder.last["status"] == 200
    assert recorder.last["endpoint"] == "/jobs/{job}"
    assert recorder.last["response_bytes"] == 4


def _raw_call(app: Any, path: str = "/raw", **scope: Any) -> list[dict[str, Any]]:
    """Runs a bare ASGI app for one GET, returning the messages it sent."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    call_scope = {"type": "http", "method": "GET", "path": path, "headers": [], "client": ("192.0.2.1", 1)} | scope
    asyncio.run(app(call_scope, receive, send))
    return sent


def test_files_sent_by_path_or_descriptor_are_counted_by_their_size(recorder: Recorder, tmp_path):
    report = tmp_path / "report.csv"
    report.write_bytes(b"x" * 4321)

    async def by_path(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.pathsend", "path": str(scope["file"])})

    async def by_descriptor(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 206, "headers": []})
        with open(report, "rb") as file:
            message = {"type": "http.response.zerocopysend", "file": file} | scope["extra"]
            await send(message)

    _raw_call(ApimeterMiddleware(by_path, client=recorder), file=report)
    assert recorder.last["response_bytes"] == 4321
    _raw_call(ApimeterMiddleware(by_path, client=recorder), file=tmp_path / "gone.csv")  # removed meanwhile
    assert recorder.last["response_bytes"] == 0
    _raw_call(ApimeterMiddleware(by_descriptor, client=recorder), extra={})
    assert (recorder.last["status"], recorder.last["response_bytes"]) == (206, 4321)
    _raw_call(ApimeterMiddleware(by_descriptor, client=recorder), extra={"count": 100})  # a range of it
    assert recorder.last["response_bytes"] == 100
    assert len(recorder.calls) == 4


def test_a_call_the_middleware_cannot_read_leaves_the_response_untouched(recorder: Recorder, caplog):
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"fine"})

    sent = _raw_call(ApimeterMiddleware(app, client=recorder), headers=[b"not a pair"])
    assert [m.get("body") for m in sent] == [None, b"fine"]
    assert recorder.calls == []
    assert "apimeter: could not record a call" in caplog.messages


def test_walking_the_routes_skips_a_route_that_cannot_match_and_falls_back_to_a_partial(recorder: Recorder):
    """Without scope["route"] (older Starlette) the middleware matches the routes itself: a route of
    an unknown kind is skipped, and a path matched only in part (another method) keeps its route."""

    class Odd:
        def matches(self, scope: Any) -> Any:
            raise TypeError("not a route this walk knows")

    async def endpoint(request: Any) -> PlainTextResponse:
        return PlainTextResponse("ok")

    routes = [Odd(), Route("/items/{item}", endpoint, methods=["POST"])]

    class Router:
        def __init__(self) -> None:
            self.routes = routes

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 405, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    _raw_call(ApimeterMiddleware(app, client=recorder), path="/items/9", router=Router())
    assert recorder.last["endpoint"] == "/items/{item}"
    assert recorder.last["status"] == 405
    _raw_call(ApimeterMiddleware(app, client=recorder), path="/elsewhere", router=Router())
    assert "endpoint" not in recorder.last  # nothing matched: the server templates the raw path
    assert recorder.last["path"] == "/elsewhere"


def test_trailers_after_the_body_add_no_bytes_and_no_second_record(recorder: Recorder):
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [], "trailers": True})
        await send({"type": "http.response.body", "body": b"12345"})
        await send({"type": "http.response.trailers", "headers": [(b"x-checksum", b"abc")], "more_trailers": False})

    sent = _raw_call(ApimeterMiddleware(app, client=recorder))
    assert [m["type"] for m in sent][-1] == "http.response.trailers"
    assert len(recorder.calls) == 1
    assert recorder.last["response_bytes"] == 5
