"""Sessions and keys over their whole life: refresh rotation, reuse, logout, exchange, rotation, expiry."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from apimeter.logic import authorization
from tests.integration.conftest import Api

EVENT = {"method": "GET", "endpoint": "/a", "status": 200}


def cache_expires() -> None:
    """What AuthCacheSeconds passing does to a warm authorizer."""
    authorization.cache.clear()


def test_refresh_rotates_and_a_replayed_refresh_token_revokes_the_family(api: Api) -> None:
    first = api.register()
    second = api.call("POST", "/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert second.status == 200
    assert second.body["refresh_token"] != first["refresh_token"]
    assert api.call("GET", "/v1/auth/me", token=second.body["access_token"]).status == 200

    replay = api.call("POST", "/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert replay.status == 401
    assert "revoked" in replay.body["error"]["message"]
    assert api.call("GET", "/v1/auth/me", token=second.body["access_token"]).status == 401  # at once
    assert api.call("POST", "/v1/auth/refresh", {"refresh_token": second.body["refresh_token"]}).status == 401

    other_login = api.call("POST", "/v1/auth/login", {"email": "owner@example.com", "password": "s3cret-pass!"})
    assert api.call("GET", "/v1/auth/me", token=other_login.body["access_token"]).status == 200  # its own family


def test_logout_ends_the_refresh_tokens_and_the_access_token(api: Api) -> None:
    session = api.register()
    token = session["access_token"]
    assert api.call("POST", "/v1/auth/logout", token=token).status == 204
    assert api.call("GET", "/v1/auth/me", token=token).status == 401  # at once: user tokens are never cached
    assert api.call("POST", "/v1/auth/refresh", {"refresh_token": session["refresh_token"]}).status == 401
    assert api.call("POST", "/v1/auth/refresh", {"refresh_token": "amr_nonsense-token"}).status == 401


def test_an_api_key_exchanges_for_a_token_with_its_scopes(api: Api) -> None:
    owner = api.register()["access_token"]
    project_id = api.project(owner)
    reader = api.key(owner, project_id, ("read",))
    tracker = api.key(owner, project_id, ("track",))

    exchanged = api.call("POST", "/v1/auth/token", key=reader["key"])
    assert exchanged.status == 200
    assert (exchanged.body["project_id"], exchanged.body["scopes"]) == (project_id, ["read"])
    read_token = exchanged.body["access_token"]
    assert api.call("GET", f"/v1/projects/{project_id}/metrics/summary", token=read_token).status == 200
    assert api.call("POST", "/v1/events", EVENT, token=read_token).status == 403
    assert api.call("GET", "/v1/projects", token=read_token).status == 403  # not a user
    assert api.call("POST", "/v1/auth/token", token=read_token).status == 401  # no chaining

    track_token = api.call("POST", "/v1/auth/token", key=tracker["key"]).body["access_token"]
    assert api.call("POST", "/v1/events", EVENT, token=track_token).status == 202
    assert api.call("GET", f"/v1/projects/{project_id}/metrics/summary", token=track_token).status == 403

    assert api.call("DELETE", f"/v1/projects/{project_id}/keys/{reader['id']}", token=owner).status == 204
    cache_expires()
    assert api.call("GET", f"/v1/projects/{project_id}/metrics/summary", token=read_token).status == 401


def test_rotating_the_signing_key_signs_nobody_out(api: Api, aws: dict[str, Any]) -> None:
    from apimeter import secrets

    old_token = api.register()["access_token"]
    name = aws["stack"].physical_name("JwtSigningSecret")
    boto3.client("secretsmanager").put_secret_value(SecretId=name, SecretString="r" * 64)
    secrets.forget()  # SECRETS_MAX_AGE_SECONDS has passed
    cache_expires()
    assert api.call("GET", "/v1/auth/me", token=old_token).status == 200
    new_token = api.call("POST", "/v1/auth/login", {"email": "owner@example.com", "password": "s3cret-pass!"})
    assert new_token.body["access_token"] != old_token
    assert api.call("GET", "/v1/auth/me", token=new_token.body["access_token"]).status == 200


def test_key_expiry_rotation_grace_and_last_used(api: Api) -> None:
    owner = api.register()["access_token"]
    project_id = api.project(owner)
    soon = datetime.now(UTC) + timedelta(seconds=5)  # room for a slow machine before the request lands
    expiring = api.call(
        "POST", f"/v1/projects/{project_id}/keys", {"name": "temp", "expires_at": soon.isoformat()}, token=owner
    )
    assert expiring.status == 201
    assert expiring.body["expires_at"]
    assert api.call("POST", "/v1/events", EVENT, key=expiring.body["key"]).status == 202
    past = api.call(
        "POST", f"/v1/projects/{project_id}/keys", {"name": "x", "expires_at": "2020-01-01T00:00:00Z"}, token=owner
    )
    assert past.status == 201  # made as asked, and refused from the start
    assert api.call("POST", "/v1/events", EVENT, key=past.body["key"]).status == 401

    key = api.key(owner, project_id, ("track",))
    assert api.call("POST", "/v1/events", EVENT, key=key["key"]).status == 202
    listed = api.call("GET", f"/v1/projects/{project_id}/keys", token=owner).body["keys"]
    assert next(k for k in listed if k["id"] == key["id"])["last_used_at"]

    rotated = api.call(
        "POST", f"/v1/projects/{project_id}/keys/{key['id']}/rotate", {"grace_seconds": 3600}, token=owner
    )
    assert rotated.status == 200
    assert rotated.body["key"] != key["key"]
    assert rotated.body["prefix"] != key["prefix"]
    cache_expires()
    assert api.call("POST", "/v1/events", EVENT, key=key["key"]).status == 202  # within the grace period
    assert api.call("POST", "/v1/events", EVENT, key=rotated.body["key"]).status == 202

    again = api.call("POST", f"/v1/projects/{project_id}/keys/{key['id']}/rotate", {"grace_seconds": 0}, token=owner)
    cache_expires()
    assert api.call("POST", "/v1/events", EVENT, key=rotated.body["key"]).status == 401  # no grace
    assert api.call("POST", "/v1/events", EVENT, key=again.body["key"]).status == 202

    time.sleep(max(0.0, (soon - datetime.now(UTC)).total_seconds()) + 0.1)
    cache_expires()
    assert api.call("POST", "/v1/events", EVENT, key=expiring.body["key"]).status == 401

    assert api.call("DELETE", f"/v1/projects/{project_id}/keys/{key['id']}", token=owner).status == 204
    cache_expires()
    assert api.call("POST", "/v1/events", EVENT, key=again.body["key"]).status == 401
    revoked_rotate = api.call("POST", f"/v1/projects/{project_id}/keys/{key['id']}/rotate", {}, token=owner)
    assert revoked_rotate.status == 409


@pytest.mark.parametrize("credential", ["token", "key"])
def test_a_suspended_tenant_cannot_sign_in_or_use_keys(api: Api, aws: dict[str, Any], credential: str) -> None:
    owner = api.register()["access_token"]
    project_id = api.project(owner)
    key = api.key(owner, project_id)["key"]
    me = api.call("GET", "/v1/auth/me", token=owner).body
    aws["dynamodb"].update_item(
        TableName=aws["stack"].physical_name("EntitiesTable"),
        Key={"pk": {"S": f"TENANT#{me['tenant']['id']}"}, "sk": {"S": "TENANT"}},
        UpdateExpression="SET #s = :s",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":s": {"S": "suspended"}},
    )
    cache_expires()
    reply = (
        api.call("GET", "/v1/auth/me", token=owner)
        if credential == "token"
        else api.call("POST", "/v1/events", EVENT, key=key)
    )
    assert reply.status == 401
    assert "suspended" in reply.body["error"]["message"]
    login = api.call("POST", "/v1/auth/login", {"email": "owner@example.com", "password": "s3cret-pass!"})
    assert login.status == 401


def test_repeated_failed_sign_ins_lock_the_account_without_revealing_it(api: Api) -> None:
    api.register("ada@example.com")
    for email in ("ada@example.com", "nobody@example.com"):
        replies = [api.call("POST", "/v1/auth/login", {"email": email, "password": "wrong-guess"}) for _ in range(6)]
        assert [r.status for r in replies] == [401] * 5 + [429]
        locked = replies[-1]
        assert locked.body["error"]["code"] == "RATE_LIMIT_EXCEEDED"
        assert 1 <= int(locked.headers["retry-after"]) <= 60
    # locked out even with the right password, until the window passes
    assert api.call("POST", "/v1/auth/login", {"email": "ada@example.com", "password": "s3cret-pass!"}).status == 429


def test_a_hash_made_with_old_argon2_parameters_is_upgraded_at_sign_in(api: Api, aws: dict[str, Any]) -> None:
    from argon2 import PasswordHasher

    from apimeter.domain import passwords

    api.register("ada@example.com")
    table, key = (
        aws["stack"].physical_name("EntitiesTable"),
        {"pk": {"S": "EMAIL#ada@example.com"}, "sk": {"S": "LOGIN"}},
    )
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash("s3cret-pass!")
    aws["dynamodb"].update_item(
        TableName=table,
        Key=key,
        UpdateExpression="SET password_hash = :h",
        ExpressionAttributeValues={":h": {"S": weak}},
    )
    assert api.call("POST", "/v1/auth/login", {"email": "ada@example.com", "password": "s3cret-pass!"}).status == 200
    stored = aws["dynamodb"].get_item(TableName=table, Key=key)["Item"]["password_hash"]["S"]
    assert stored != weak
    assert f"m={passwords.ARGON2_MEMORY_KIB},t={passwords.ARGON2_TIME_COST}" in stored
