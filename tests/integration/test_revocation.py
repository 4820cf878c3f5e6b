"""An ended session ends its access tokens at once: no cache keeps a signed-out user in.

Every call goes the way the real API takes it: the template's route, the authorizer (warm, with its
credential cache), then the handler. Nothing here clears a cache or waits for one to expire.
"""

from __future__ import annotations

from typing import Any

import pytest

from apimeter.dal import dynamo, entities
from apimeter.dal.entities.keys import KeyLookup
from tests.builders import invoke, sample
from tests.integration.conftest import Api

EVENT = {"method": "GET", "endpoint": "/a", "status": 200}
PASSWORD = "another-pass-1"


def refused(reply: Any) -> str:
    """The 401 in the error envelope; its message."""
    assert reply.status == 401, reply.body
    assert reply.body["error"]["code"] == "AUTHENTICATION_FAILED"
    assert reply.body["error"]["request_id"]
    return str(reply.body["error"]["message"])


def test_logout_ends_the_access_token_at_once(api: Api) -> None:
    session = api.register()
    token = session["access_token"]
    assert api.call("GET", "/v1/auth/me", token=token).status == 200  # the authorizer now knows this token

    assert api.call("POST", "/v1/auth/logout", token=token).status == 204

    assert "sign in again" in refused(api.call("GET", "/v1/auth/me", token=token))
    refused(api.call("GET", "/v1/projects", token=token))
    refused(api.call("POST", "/v1/auth/refresh", {"refresh_token": session["refresh_token"]}))


def test_a_revoked_refresh_family_ends_its_access_tokens_at_once(api: Api) -> None:
    first = api.register()
    second = api.call("POST", "/v1/auth/refresh", {"refresh_token": first["refresh_token"]}).body
    for token in (first["access_token"], second["access_token"]):
        assert api.call("GET", "/v1/auth/me", token=token).status == 200
    elsewhere = api.call("POST", "/v1/auth/login", {"email": "owner@example.com", "password": "s3cret-pass!"}).body
    assert api.call("GET", "/v1/auth/me", token=elsewhere["access_token"]).status == 200

    replay = api.call("POST", "/v1/auth/refresh", {"refresh_token": first["refresh_token"]})
    assert "revoked" in refused(replay)

    for token in (first["access_token"], second["access_token"]):  # every token of the family
        refused(api.call("GET", "/v1/auth/me", token=token))
    assert api.call("GET", "/v1/auth/me", token=elsewhere["access_token"]).status == 200  # another sign-in


def test_removing_a_user_ends_their_access_tokens_at_once(api: Api) -> None:
    owner = api.register()["access_token"]
    added = api.call("POST", "/v1/users", {"email": "m@x.io", "role": "member", "password": PASSWORD}, token=owner)
    assert added.status == 201
    member = api.call("POST", "/v1/auth/login", {"email": "m@x.io", "password": PASSWORD}).body["access_token"]
    assert api.call("GET", "/v1/auth/me", token=member).status == 200

    assert api.call("DELETE", f"/v1/users/{added.body['id']}", token=owner).status == 204

    refused(api.call("GET", "/v1/auth/me", token=member))


def test_the_session_is_read_strongly_consistently(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """moto is always consistent, DynamoDB is not: an eventually consistent read could miss a logout
    acknowledged a moment before."""
    token = api.register()["access_token"]
    dynamodb = dynamo.client()
    requests: list[dict[str, Any]] = []
    batch_get_item = dynamodb.batch_get_item

    def recorded(**kwargs: Any) -> Any:
        requests.extend(kwargs["RequestItems"].values())
        return batch_get_item(**kwargs)

    monkeypatch.setattr(dynamodb, "batch_get_item", recorded)
    assert api.call("GET", "/v1/auth/me", token=token).status == 200
    (session,) = [r for r in requests if any(k["pk"]["S"].startswith("FAMILY#") for k in r["Keys"])]
    assert session["ConsistentRead"] is True


def test_api_keys_outlive_a_logout_and_keep_their_cache(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    session = api.register()
    owner = session["access_token"]
    project_id = api.project(owner)
    key = api.key(owner, project_id)["key"]
    assert api.call("POST", "/v1/events", EVENT, key=key).status == 202

    assert api.call("POST", "/v1/auth/logout", token=owner).status == 204
    refused(api.call("GET", "/v1/auth/me", token=owner))

    lookups: list[str] = []
    find_key = entities.keys.find_key

    def counted_find_key(digest: str) -> KeyLookup | None:
        lookups.append(digest)
        return find_key(digest)

    monkeypatch.setattr(entities.keys, "find_key", counted_find_key)
    for _ in range(3):
        assert api.call("POST", "/v1/events", EVENT, key=key).status == 202
        assert api.call("GET", f"/v1/projects/{project_id}/metrics/summary", key=key).status == 200
    assert lookups == []  # served from the authorizer's cache, as before


def live_connect(token: str) -> dict[str, Any]:
    """The live API's $connect authorizer, as API Gateway calls it for a WebSocket upgrade."""
    event = sample("live_authorizer")
    event["queryStringParameters"] = {"token": token}
    event["multiValueQueryStringParameters"] = {"token": [token]}
    return invoke("live_authorizer", event)


def test_a_signed_out_token_cannot_open_a_live_connection(api: Api) -> None:
    token = api.register()["access_token"]
    allowed = live_connect(token)
    assert allowed["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    assert api.call("GET", "/v1/auth/me", token=token).status == 200

    assert api.call("POST", "/v1/auth/logout", token=token).status == 204

    with pytest.raises(PermissionError, match="Unauthorized"):
        live_connect(token)
