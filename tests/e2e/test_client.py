"""The Python client and its middleware against the offline stack, as a user's apps would send.

FastAPI and Flask apps with parameterized routes send through one client while the stack is stopped
for 10 s and started again; a process tracking into a spool is killed with SIGKILL and another closes
a client on the same directory. Every request made is counted exactly once, under route templates.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from offline.stack import free_port
from tests.e2e.conftest import Client, Stack
from tests.e2e.test_offline_stack import setup_project, summary

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = {
    "/users/{user_id}",
    "/orders/{order_id}/items/{item_id}",
    "/orders",
    "/products/{product_id}",
    "/carts/{cart_id}/lines/{line}",
    "/checkout",
    "/missing/{id}",  # unmatched paths are sent raw; the server templates them
}


def wait_for_requests(client: Client, project_id: str, key: str, expected: int, timeout: float = 300) -> int:
    """The project's 24 h request count once it reaches ``expected`` (or what it was at the timeout)."""
    deadline = time.monotonic() + timeout
    requests = -1
    while time.monotonic() < deadline:
        requests = summary(client, project_id, key)["requests"]
        if requests >= expected:
            time.sleep(1.0)  # and it stays there: nothing counted twice arrives late
            return int(summary(client, project_id, key)["requests"])
        time.sleep(0.5)
    return int(requests)


def fastapi_app(apimeter: Any) -> Any:
    from fastapi import APIRouter, FastAPI

    from apimeter_client.asgi import ApimeterMiddleware

    app = FastAPI()
    orders = APIRouter(prefix="/orders")

    @orders.get("/{order_id}/items/{item_id}")
    def item(order_id: str, item_id: int) -> dict[str, Any]:
        return {"order": order_id, "item": item_id}

    @orders.post("")
    def create() -> dict[str, str]:
        return {"id": "new"}

    @app.get("/users/{user_id}")
    def user(user_id: int) -> dict[str, int]:
        return {"id": user_id}

    app.include_router(orders)
    app.add_middleware(ApimeterMiddleware, client=apimeter, consumer=lambda scope: "fastapi-app")
    return app


def flask_app(apimeter: Any) -> Any:
    import flask

    from apimeter_client.flask import Apimeter

    app = flask.Flask("shop")

    @app.get("/products/<int:product_id>")
    def product(product_id: int) -> Any:
        return {"id": product_id}

    @app.put("/carts/<cart_id>/lines/<int:line>")
    def line(cart_id: str, line: int) -> Any:
        return {"cart": cart_id, "line": line}

    @app.post("/checkout")
    def checkout() -> Any:
        flask.abort(503)

    Apimeter(app, client=apimeter, consumer=lambda request: "flask-app")
    return app


@pytest.mark.slow
def test_5000_calls_through_an_outage_and_a_killed_spooling_process_count_exactly_once(
    stack: Stack, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from apimeter_client import Client as Apimeter

    http = stack.client
    token, project_id, key = setup_project(http, "client-e2e@example.com")
    apimeter = Apimeter(key, http.base, batch_size=200, flush_interval=0.5, max_backoff=3.0)
    fast, shop = TestClient(fastapi_app(apimeter)), flask_app(apimeter).test_client()
    made = {"count": 0}

    def one(i: int) -> None:
        kind = i % 6
        if kind == 0:
            assert fast.get(f"/users/{i}").status_code == 200
        elif kind == 1:
            assert fast.get(f"/orders/ord_{i:06d}/items/{i % 7}").status_code == 200
        elif kind == 2:
            assert fast.post("/orders").status_code == 200
        elif kind == 3:
            response = shop.get(f"/products/{i}")
            assert response.status_code == 200
            response.close()
        elif kind == 4:
            response = shop.put(f"/carts/c{i}/lines/{i % 3}") if i % 60 else shop.post("/checkout")
            assert response.status_code in (200, 503)
            response.close()
        else:
            assert fast.get(f"/missing/{i}").status_code == 404

    def traffic() -> None:
        for i in range(5000):
            one(i)
            made["count"] += 1
            time.sleep(0.004)  # spread the run across the outage

    runner = threading.Thread(target=traffic)
    runner.start()
    while made["count"] < 1200 and runner.is_alive():
        time.sleep(0.05)
    stack.stop()
    time.sleep(10)  # the stack is down; the apps go on and the client queues
    down_until = made["count"]
    stack.start()
    runner.join()
    assert made["count"] == 5000
    assert down_until > 1200  # calls were made while it was down
    assert apimeter.flush(600), apimeter.stats
    stats = apimeter.stats
    assert stats.sent + stats.duplicates == 5000, stats
    assert (stats.rejected, stats.dropped, stats.queued) == (0, 0, 0), stats
    assert stats.retried > 0  # the outage was felt
    apimeter.close()

    # A second app process spools to disk and is killed outright mid-run.
    spool = tmp_path / "spool"
    second_key = http.call(
        "POST", f"/v1/projects/{project_id}/keys", {"name": "spooled", "scopes": ["track"]}, token=token
    ).body["key"]
    killed = subprocess.Popen(
        [sys.executable, "-c", SPOOLING_APP, second_key, http.base, str(spool), "1500"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert killed.stdout is not None
    tracked, sent_before_kill = map(int, killed.stdout.readline().split())
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert tracked == 1500
    assert sent_before_kill < tracked  # it died with events still unsent
    survivor = subprocess.run(
        [sys.executable, "-c", CLOSING_CLIENT, second_key, http.base, str(spool)],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert survivor.returncode == 0, survivor.stderr
    assert list(spool.glob("*.spool")) == []

    assert wait_for_requests(http, project_id, key, 6500) == 6500
    reply = http.call("GET", f"/v1/projects/{project_id}/metrics/endpoints?window=24h&limit=100", key=key)
    assert reply.status == 200
    endpoints = {item["endpoint"] for item in reply.body["items"]}
    assert endpoints <= TEMPLATES | {"/invoices/{invoice_id}"}, endpoints
    assert not [e for e in endpoints if re.search(r"/\d+(/|$)|ord_", e)]  # no raw ids anywhere


SPOOLING_APP = textwrap.dedent(
    """
    import sys
    import flask
    from apimeter_client import Client
    from apimeter_client.flask import Apimeter

    key, base, spool, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    client = Client(key, base, spool_dir=spool, batch_size=100, flush_interval=0.2)
    app = flask.Flask("billing")

    @app.get("/invoices/<int:invoice_id>")
    def invoice(invoice_id):
        return {"id": invoice_id}

    Apimeter(app, client=client)
    web = app.test_client()
    for i in range(count):
        web.get(f"/invoices/{i}").close()
    print(count, client.stats.sent, flush=True)
    sys.stdin.read()  # until killed
    """
)

CLOSING_CLIENT = textwrap.dedent(
    """
    import sys
    from apimeter_client import Client

    client = Client(sys.argv[1], sys.argv[2], spool_dir=sys.argv[3])
    assert client.close(timeout=500), client.stats
    print(client.stats)
    """
)


def readme_snippet(title: str) -> str:
    """The first Python block under a heading of the README's "Send your API's traffic"."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index(f"#### {title}") :]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_fastapi_snippet_sends_calls_that_reach_the_summary(stack: Stack, tmp_path: Path) -> None:
    http = stack.client
    _, project_id, key = setup_project(http, "readme-fastapi@example.com")
    (tmp_path / "app.py").write_text(readme_snippet("FastAPI and Starlette"))
    port = free_port()
    env = dict(os.environ, APIMETER_API_KEY=key, APIMETER_URL=http.base)
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        for _ in range(600):  # until it listens
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/users/0", timeout=5).read()
                break
            except OSError:
                assert server.poll() is None, server.stdout.read() if server.stdout else ""
                time.sleep(0.1)
        else:
            pytest.fail("uvicorn did not start")
        for user in range(1, 25):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/users/{user}", headers={"X-Customer-Id": "acme"})
            assert urllib.request.urlopen(request, timeout=30).status == 200
        # The app is still running: its client's timer sent them.
        assert wait_for_requests(http, project_id, key, 25, timeout=120) == 25
        reply = http.call("GET", f"/v1/projects/{project_id}/metrics/endpoints?window=24h", key=key)
        assert [(i["method"], i["endpoint"], i["requests"]) for i in reply.body["items"]] == [
            ("GET", "/users/{user_id}", 25)
        ]
        consumers = http.call("GET", f"/v1/projects/{project_id}/metrics/consumers?window=24h", key=key)
        assert [(c["consumer"], c["requests"]) for c in consumers.body["items"]] == [("acme", 24)]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
