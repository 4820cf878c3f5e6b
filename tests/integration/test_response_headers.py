"""Every answer carries the security headers, authenticated ones never get stored, and CORS allows
only the origins it names (offline as on API Gateway)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apimeter.api.headers import SECURITY, secure
from offline.gateway import Gateway
from offline.stack import OfflineStack, Options
from tests.builders import Reply
from tests.integration.conftest import Api

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = "http://127.0.0.1:3000"


def assert_secured(reply: Reply) -> None:
    for name, value in SECURITY.items():
        assert reply.headers.get(name.lower()) == value, (name, reply.status)


def test_authenticated_answers_and_refusals_are_never_stored(api: Api) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    answers = [
        api.call("GET", "/v1/projects", token=token),  # 200
        api.call("GET", f"/v1/projects/{project_id}/budgets/bud_missing", token=token),  # the resolver's 404
        api.call("POST", "/v1/projects", b"{", token=token),  # 400 before validation
        api.call("POST", "/v1/projects", b"x" * 2_000_000, token=token),  # 413 before routing
        api.call("GET", "/v1/projects"),  # no credentials
        api.call("GET", "/v1/projects", key="am_bogus"),
        api.call("GET", "/v2/nowhere", token=token),  # no route: the gateway's own answer
    ]
    assert [a.status for a in answers] == [200, 404, 400, 413, 401, 401, 404]
    for reply in answers:
        assert_secured(reply)
        assert reply.headers["cache-control"] == "no-store"


def test_public_answers_carry_the_security_headers(api: Api) -> None:
    health = api.call("GET", "/health")
    assert health.status == 200
    assert_secured(health)
    assert health.headers["cache-control"] == "no-store"
    login = api.call("POST", "/v1/auth/login", {"email": "nobody@example.com", "password": "wrong-password-1"})
    assert login.status == 401
    assert_secured(login)
    # a public route that says how its answer may be cached
    status, asset, _, _ = api.gateway.handle("GET", "/docs/swagger-ui.css", {}, b"", "127.0.0.1", "127.0.0.1")
    assert status == 200
    assert asset["cache-control"] == "public, max-age=31536000, immutable"
    assert asset["x-content-type-options"] == "nosniff"


def test_an_authenticated_route_cannot_opt_into_caching() -> None:
    assert secure({"Cache-Control": "max-age=60"}, authenticated=True)["Cache-Control"] == "no-store"
    assert secure({"cache-control": "max-age=60"}, authenticated=False)["cache-control"] == "max-age=60"
    page = secure({"Content-Security-Policy": "default-src 'self'"}, authenticated=False)
    assert page["Content-Security-Policy"] == "default-src 'self'"  # a page's own policy stays


@pytest.fixture
def gateway(api: Api) -> Gateway:
    return Gateway(api.stack, api.functions, origins=(DASHBOARD, "https://dashboard.example.com"))


def call(gateway: Gateway, method: str, path: str, origin: str, **extra: str) -> Reply:
    headers = {"host": "127.0.0.1", "origin": origin, **extra}
    status, out, _, _ = gateway.handle(method, path, headers, b"", "127.0.0.1", "127.0.0.1")
    return Reply(status, out, None)


def test_cors_allows_the_listed_origins_only(gateway: Gateway) -> None:
    allowed = call(gateway, "GET", "/health", "https://dashboard.example.com")
    assert allowed.headers["access-control-allow-origin"] == "https://dashboard.example.com"
    assert "x-ratelimit-remaining" in allowed.headers["access-control-expose-headers"]
    assert allowed.headers["vary"] == "origin"
    unknown = call(gateway, "GET", "/health", "https://evil.example.net")
    assert unknown.status == 200
    assert not any(name.startswith("access-control-") for name in unknown.headers)

    ask = {"access-control-request-method": "POST", "access-control-request-headers": "authorization"}
    preflight = call(gateway, "OPTIONS", "/v1/projects", DASHBOARD, **ask)
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == DASHBOARD
    assert "authorization" in preflight.headers["access-control-allow-headers"].split(",")
    assert "POST" in preflight.headers["access-control-allow-methods"].split(",")
    refused = call(gateway, "OPTIONS", "/v1/projects", "https://evil.example.net", **ask)
    assert refused.status == 204
    assert not any(name.startswith("access-control-") for name in refused.headers)
    assert "*" not in {v for r in (allowed, preflight) for v in r.headers.values()}


def test_the_offline_stack_allows_its_own_dashboard_and_the_parameters_origins() -> None:
    plain = OfflineStack(Options(ROOT, port=3621))
    assert plain.allowed_origins() == ("http://127.0.0.1:3621", "http://localhost:3621")
    extra = OfflineStack(Options(ROOT, port=3621, parameters={"DashboardExtraOrigins": "https://a.example.com"}))
    assert extra.allowed_origins()[-1] == "https://a.example.com"
