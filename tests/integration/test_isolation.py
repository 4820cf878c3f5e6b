"""Tenant isolation, proven for every route in template.yaml.

For each route, every attacker (another tenant's owner, another tenant's API key, a key of another
project of the same tenant) tries it against tenant A's resources. A route whose path names a
resource must answer 403 or 404; any other route acts in the attacker's own tenant; either way no
identifier or email of tenant A may appear in the reply, and A's data must be intact afterwards.
The cases are generated from the route table: a new route is covered, or this suite fails.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
import pytest

from apimeter.domain import tokens
from offline.template import Stack, read_stack
from tests.integration.conftest import Api

ROOT_STACK = read_stack(Path(__file__).resolve().parent.parent.parent)

# A valid body for every route that takes one, so that validation cannot answer before isolation.
BODIES: dict[str, Any] = {
    "POST /v1/auth/logout": None,
    "POST /v1/auth/token": None,
    "POST /v1/projects": {"name": "intruder"},
    "PATCH /v1/projects/{project_id}": {"retention_days": 1, "ip_privacy": "none"},
    "DELETE /v1/projects/{project_id}": None,
    "POST /v1/projects/{project_id}/rollups/recompute": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-01T01:00:00Z"},
    "POST /v1/projects/{project_id}/keys": {"name": "stolen", "scopes": ["read"]},
    "POST /v1/projects/{project_id}/keys/{key_id}/rotate": {"grace_seconds": 0},
    "POST /v1/events": {"method": "GET", "endpoint": "/x", "status": 200},
    "POST /v1/users": {"email": "mole@evil.test", "role": "viewer", "password": "mole-password-1"},
    "PATCH /v1/users/{user_id}": {"role": "viewer"},
    "POST /v1/admin/tenants": {"name": "x", "owner_email": "x@evil.test", "owner_password": "xx-password-1"},
    "PATCH /v1/admin/tenants/{tenant_id}": {"status": "suspended"},
    "POST /v1/projects/{project_id}/exports": {"from": "2026-01-01T00:00:00Z", "to": "2026-01-02T00:00:00Z"},
    "POST /v1/projects/{project_id}/forecast": None,
    "POST /v1/projects/{project_id}/budgets": {
        "name": "b",
        "amount": 1,
        "period": "daily",
        "thresholds": [{"percent": 50}],
    },
    "PATCH /v1/projects/{project_id}/budgets/{budget_id}": {"amount": 2},
    "POST /v1/budgets": {"name": "b", "amount": 1, "period": "daily", "thresholds": [{"percent": 50}]},
    "PATCH /v1/budgets/{budget_id}": {"amount": 2},
    "PATCH /v1/projects/{project_id}/anomalies/{anomaly_id}": {"feedback": "false"},
}
EXPORTS = "/v1/projects/{project_id}/exports"
ATTACKERS = ("other_tenant_user", "other_tenant_key", "other_project_key")


def protected_routes(stack: Stack) -> list[str]:
    return sorted(r.key for r in stack.routes if r.authorized and r.path != "$default")


@dataclass
class Victim:
    tenant_id: str
    project_id: str
    key_id: str
    key: str
    user_id: str
    email: str
    token: str
    export_id: str
    budget_id: str
    tenant_budget_id: str
    webhook_secret: str

    def secrets(self) -> list[str]:
        return [self.tenant_id, self.project_id, self.key_id, self.key, self.user_id, self.email, self.export_id,
                self.budget_id, self.tenant_budget_id, self.webhook_secret]  # fmt: skip


@pytest.fixture
def world(api: Api) -> tuple[Victim, dict[str, dict[str, str]]]:
    owner = api.register("victim@a.test", "Victim")
    token = owner["access_token"]
    project_id = api.project(token, "crown-jewels")
    key = api.key(token, project_id)
    colleague = {"email": "colleague@a.test", "role": "member", "password": "colleague-pw-1"}
    member = api.call("POST", "/v1/users", colleague, token=token).body
    export = api.call("POST", f"/v1/projects/{project_id}/exports", BODIES[f"POST {EXPORTS}"], token=token).body
    budget = {"name": "cap", "amount": 10, "period": "monthly", "thresholds": [{"percent": 80}],
              "channels": {"webhooks": [{"url": "https://hooks.a.test/alerts"}]}}  # fmt: skip
    project_budget = api.call("POST", f"/v1/projects/{project_id}/budgets", budget, token=token).body
    tenant_budget = api.call("POST", "/v1/budgets", budget, token=token).body
    victim = Victim(owner["tenant"]["id"], project_id, key["id"], key["key"], member["id"], "colleague@a.test", token,
                    export["id"], project_budget["id"], tenant_budget["id"],
                    project_budget["channels"]["webhooks"][0]["secret"])  # fmt: skip
    other_project = api.project(token, "other")
    other = api.register("mallory@b.test", "Mallory")
    other_project_b = api.project(other["access_token"], "mallory")
    attackers = {
        "other_tenant_user": {"token": other["access_token"]},
        "other_tenant_key": {"key": api.key(other["access_token"], other_project_b)["key"]},
        "other_project_key": {"key": api.key(token, other_project)["key"]},
    }
    return victim, attackers


def fill(route_key: str, victim: Victim) -> tuple[str, str]:
    method, _, path = route_key.partition(" ")
    values = {"project_id": victim.project_id, "key_id": victim.key_id, "user_id": victim.user_id,
              "tenant_id": victim.tenant_id, "consumer": "victim-consumer", "export_id": victim.export_id,
              "budget_id": victim.tenant_budget_id if path.startswith("/v1/budgets") else victim.budget_id,
              "anomaly_id": "an_2026010100_0123456789ab"}  # fmt: skip
    for name, value in values.items():
        path = path.replace("{" + name + "}", value)
    assert "{" not in path, f"{route_key}: teach the isolation suite this path parameter"
    return method, path


def test_every_protected_route_is_in_the_suite() -> None:
    for route in protected_routes(ROOT_STACK):
        if route.startswith(("POST", "PATCH", "PUT")):
            assert route in BODIES, f"{route}: add a valid body to BODIES"


@pytest.mark.parametrize("route", protected_routes(ROOT_STACK))
def test_no_route_crosses_tenants_or_projects(
    api: Api, world: tuple[Victim, dict[str, dict[str, str]]], route: str
) -> None:
    victim, attackers = world
    method, path = fill(route, victim)
    names_resource = "{" in route
    for attacker in ATTACKERS:
        credential: dict[str, Any] = attackers[attacker]
        reply = api.call(method, path, BODIES.get(route), **credential)
        leaked = [s for s in victim.secrets() if s in json.dumps(reply.body)]
        assert not leaked, f"{route} as {attacker} leaked {leaked}"
        if names_resource:
            assert reply.status in (403, 404), f"{route} as {attacker}: {reply.status} {reply.body}"
        else:
            assert reply.status < 500, f"{route} as {attacker}: {reply.status} {reply.body}"

    # tenant A is intact: its key works, its member exists, its project is its own
    from apimeter.logic import authorization

    authorization.cache.clear()
    assert api.call("GET", f"/v1/projects/{victim.project_id}", key=victim.key).status == 200
    assert api.call("GET", f"/v1/users/{victim.user_id}", token=victim.token).status == 200
    assert api.call("GET", "/v1/auth/me", token=victim.token).body["tenant"]["status"] == "active"


def _forge(payload: dict[str, Any], key: str, algorithm: str = "HS256", kid: str | None = None) -> str:
    return jwt.encode(payload, key, algorithm=algorithm, headers={"kid": kid or tokens.key_id(key)})


def test_forged_and_stale_tokens_are_refused_through_the_gateway(
    api: Api, world: tuple[Victim, dict[str, dict[str, str]]], aws: dict[str, Any]
) -> None:
    victim, _ = world
    signing_key = aws["secrets"][aws["stack"].physical_name("JwtSigningSecret")]
    claims = jwt.decode(victim.token, options={"verify_signature": False})

    def b64(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    header, payload, signature = victim.token.split(".")
    attacks = {
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': tokens.key_id(signing_key)})}.{payload}.",
        "algorithm confusion (HS512)": _forge(claims, signing_key, "HS512"),
        "wrong audience": _forge({**claims, "aud": "someone-else"}, signing_key),
        "wrong issuer": _forge({**claims, "iss": "evil"}, signing_key),
        "expired": _forge({**claims, "exp": int(time.time()) - 1}, signing_key),
        "tampered tenant": f"{header}.{b64({**claims, 'tid': 'ten_other'})}.{signature}",
        "unknown signing key": _forge(claims, "x" * 64),
        "kid of the real key, signed by another": _forge(claims, "y" * 64, kid=tokens.key_id(signing_key)),
    }
    for name, forged in attacks.items():
        reply = api.call("GET", f"/v1/projects/{victim.project_id}", token=forged)
        assert reply.status == 401, name
        assert reply.body["error"]["code"] == "AUTHENTICATION_FAILED", name
    assert api.call("POST", "/v1/auth/logout", token=victim.token).status == 204
    from apimeter.logic import authorization

    authorization.cache.clear()
    assert api.call("GET", f"/v1/projects/{victim.project_id}", token=victim.token).status == 401  # revoked


def test_suite_size() -> None:
    """The suite covers every protected route with every attacker (reported in the closing note)."""
    assert len(protected_routes(ROOT_STACK)) * len(ATTACKERS) >= 60
