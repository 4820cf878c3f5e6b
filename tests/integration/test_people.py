"""Users and roles inside a tenant, and platform administration of tenants."""

from __future__ import annotations

from typing import Any

import pytest

from apimeter.logic import authorization
from apimeter.settings import settings
from tests.builders import body, invoke, sample
from tests.integration.conftest import Api

PASSWORD = "another-pass-1"


def login(api: Api, email: str) -> str:
    reply = api.call("POST", "/v1/auth/login", {"email": email, "password": PASSWORD})
    assert reply.status == 200, reply.body
    return str(reply.body["access_token"])


def add(api: Api, token: str, email: str, role: str) -> dict[str, Any]:
    reply = api.call("POST", "/v1/users", {"email": email, "role": role, "password": PASSWORD}, token=token)
    assert reply.status == 201, reply.body
    user: dict[str, Any] = reply.body
    return user


def test_roles_table_is_served_and_enforced(api: Api) -> None:
    owner = api.register()["access_token"]
    project_id = api.project(owner)
    roles = api.call("GET", "/v1/roles", token=owner).body
    assert roles["roles"] == ["owner", "admin", "member", "viewer"]
    by_action = {rule["action"]: rule["roles"] for rule in roles["permissions"]}
    for email, role in (("a@x.io", "admin"), ("m@x.io", "member"), ("v@x.io", "viewer")):
        add(api, owner, email, role)
    viewer, member = login(api, "v@x.io"), login(api, "m@x.io")

    assert "viewer" not in by_action["keys.manage"]
    assert api.call("GET", f"/v1/projects/{project_id}/metrics/summary", token=viewer).status == 200
    assert api.call("POST", "/v1/projects", {"name": "x"}, token=viewer).status == 403
    assert api.call("GET", f"/v1/projects/{project_id}/keys", token=viewer).status == 403
    assert api.call("POST", f"/v1/projects/{project_id}/keys", {"name": "k"}, token=member).status == 201
    assert (
        api.call("POST", "/v1/users", {"email": "n@x.io", "role": "viewer", "password": PASSWORD}, token=member).status
        == 403
    )


def test_ranks_and_the_last_owner_are_protected(api: Api) -> None:
    owner_session = api.register()
    owner = owner_session["access_token"]
    admin_user = add(api, owner, "a@x.io", "admin")
    viewer_user = add(api, owner, "v@x.io", "viewer")
    admin = login(api, "a@x.io")

    assert (
        api.call("POST", "/v1/users", {"email": "o@x.io", "role": "owner", "password": PASSWORD}, token=admin).status
        == 403
    )
    owner_id = owner_session["user"]["id"]
    assert api.call("PATCH", f"/v1/users/{owner_id}", {"role": "viewer"}, token=admin).status == 403
    assert api.call("DELETE", f"/v1/users/{owner_id}", token=admin).status == 403
    promoted = api.call("PATCH", f"/v1/users/{viewer_user['id']}", {"role": "member"}, token=admin)
    assert promoted.body["role"] == "member"

    assert api.call("PATCH", f"/v1/users/{owner_id}", {"role": "admin"}, token=owner).status == 409
    assert api.call("DELETE", f"/v1/users/{owner_id}", token=owner).status == 409
    assert (
        api.call("POST", "/v1/users", {"email": "a@x.io", "role": "viewer", "password": PASSWORD}, token=owner).status
        == 409
    )
    assert (
        api.call("POST", "/v1/users", {"email": "s@x.io", "role": "viewer", "password": "short"}, token=owner).status
        == 422  # the document's minimum length
    )

    # a demoted or removed user's token changes with them, within the authorizer cache time
    assert api.call("PATCH", f"/v1/users/{admin_user['id']}", {"role": "viewer"}, token=owner).status == 200
    authorization.cache.clear()
    assert api.call("GET", "/v1/users", token=admin).status == 200
    assert api.call("POST", "/v1/projects", {"name": "x"}, token=admin).status == 403
    assert api.call("DELETE", f"/v1/users/{admin_user['id']}", token=owner).status == 204
    authorization.cache.clear()
    assert api.call("GET", "/v1/users", token=admin).status == 401
    assert [u["email"] for u in api.call("GET", "/v1/users", token=owner).body["users"]] == [
        "owner@example.com",
        "v@x.io",
    ]
    assert api.call("GET", f"/v1/users/{viewer_user['id']}", token=owner).body["email"] == "v@x.io"


@pytest.fixture
def platform_admin(api: Api, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("PLATFORM_ADMIN_EMAILS", "root@apimeter.example")
    settings.cache_clear()
    api.register("root@apimeter.example", "Platform")
    token = api.call("POST", "/v1/auth/login", {"email": "root@apimeter.example", "password": "s3cret-pass!"})
    return str(token.body["access_token"])


def test_platform_admins_manage_tenants(api: Api, platform_admin: str) -> None:
    customer = api.register("cust@example.com", "Customer")
    assert api.call("GET", "/v1/admin/tenants", token=customer["access_token"]).status == 403

    created = api.call(
        "POST",
        "/v1/admin/tenants",
        {"name": "Big Co", "plan": "pro", "owner_email": "boss@big.co", "owner_password": PASSWORD},
        token=platform_admin,
    )
    assert created.status == 201
    big = created.body["tenant"]["id"]
    page = api.call("GET", "/v1/admin/tenants?limit=2", token=platform_admin).body
    assert len(page["tenants"]) == 2
    rest = api.call("GET", f"/v1/admin/tenants?limit=2&cursor={page['next_cursor']}", token=platform_admin).body
    assert {t["id"] for t in page["tenants"] + rest["tenants"]} >= {big, customer["tenant"]["id"]}

    changed = api.call("PATCH", f"/v1/admin/tenants/{big}", {"limits": {"key_per_minute": 5}}, token=platform_admin)
    assert changed.body["limits"] == {"key_per_minute": 5}
    bad = api.call("PATCH", f"/v1/admin/tenants/{big}", {"limits": {"bogus": 1}}, token=platform_admin)
    assert (bad.status, bad.body["error"]["code"]) == (422, "VALIDATION_ERROR")

    boss = login(api, "boss@big.co")
    assert api.call("PATCH", f"/v1/admin/tenants/{big}", {"status": "suspended"}, token=platform_admin).status == 200
    authorization.cache.clear()
    assert api.call("GET", "/v1/auth/me", token=boss).status == 401
    assert api.call("PATCH", f"/v1/admin/tenants/{big}", {"status": "active"}, token=platform_admin).status == 200
    authorization.cache.clear()
    assert api.call("GET", "/v1/auth/me", token=boss).status == 200

    assert api.call("DELETE", f"/v1/admin/tenants/{big}", token=platform_admin).status == 204
    authorization.cache.clear()
    assert api.call("GET", "/v1/auth/me", token=boss).status == 401
    assert api.call("GET", f"/v1/admin/tenants/{big}", token=platform_admin).status == 404
    me = api.call("GET", "/v1/auth/me", token=platform_admin).body
    assert api.call("DELETE", f"/v1/admin/tenants/{me['tenant']['id']}", token=platform_admin).status == 409


def test_a_platform_admin_cannot_suspend_their_own_organization(api: Api, platform_admin: str) -> None:
    own = api.call("GET", "/v1/auth/me", token=platform_admin).body["tenant"]["id"]

    change = {"status": "suspended", "name": "Gone"}
    refused = api.call("PATCH", f"/v1/admin/tenants/{own}", change, token=platform_admin)
    assert refused.status == 409  # the request is well-formed; who sends it makes it impossible
    assert refused.body["error"]["code"] == "CONFLICT"
    assert refused.body["error"]["message"] == "a platform admin cannot suspend their own organization"

    authorization.cache.clear()  # whatever the cache: the organization was never suspended
    kept = api.call("GET", f"/v1/admin/tenants/{own}", token=platform_admin)
    assert (kept.status, kept.body["status"], kept.body["name"]) == (200, "active", "Platform")  # nothing applied
    renamed = api.call("PATCH", f"/v1/admin/tenants/{own}", {"name": "Root", "status": "active"}, token=platform_admin)
    assert (renamed.status, renamed.body["name"]) == (200, "Root")  # other changes to it are still allowed
    other = api.register("cust@example.com", "Customer")["tenant"]["id"]
    assert api.call("PATCH", f"/v1/admin/tenants/{other}", {"status": "suspended"}, token=platform_admin).status == 200


def test_admin_sample_event_needs_a_platform_admin(aws: dict[str, Any]) -> None:
    response = invoke("admin", sample("admin-tenants-list"))
    assert response["statusCode"] == 200
    assert body(response)["tenants"] == []
    listing = invoke("users", sample("users-list"))
    assert listing["statusCode"] == 200
