"""Rate limits and quotas: exact under concurrency, charged per event on ingest, in every response."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from apimeter.dal import counters
from apimeter.domain.limits import Instant, Limits, Usage
from apimeter.logic import authorization
from tests.integration.conftest import Api


def test_parallel_charges_accept_exactly_the_limit(aws: dict[str, Any]) -> None:
    now = Instant.at(time.time())
    limits = Limits(per_minute=37, per_hour=10_000, per_day=100_000)

    def attempt(_: int) -> bool:
        return counters.charge("api_key#race", now, 1, limits)[1] is None

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(attempt, range(120)))
    assert sum(results) == 37
    assert counters.peek("api_key#race", now).minute == 37


def test_a_new_minute_starts_over_but_hours_and_days_add_up(aws: dict[str, Any]) -> None:
    limits = Limits(per_minute=3, per_hour=5, per_day=100)
    first = Instant.at(1_763_814_600)  # 12:30:00
    assert [counters.charge("s", first, 1, limits)[1] for _ in range(4)] == [None, None, None, "minute"]
    later = Instant.at(1_763_814_660)  # 12:31:00, same hour
    usage, refusal = counters.charge("s", later, 2, limits)
    assert refusal is None
    assert (usage.minute, usage.hour, usage.day) == (2, 5, 5)
    assert counters.charge("s", later, 1, limits)[1] == "hour"
    next_hour = Instant.at(1_763_816_400)
    assert counters.charge("s", next_hour, 1, limits)[0].day == 6
    counters.refund("s", next_hour, 1)
    assert counters.peek("s", next_hour).day == 5


def set_limits(aws: dict[str, Any], api: Api, token: str, limits: dict[str, int]) -> None:
    """Tenant overrides, as a platform admin would set them (PATCH /v1/admin/tenants/{id})."""
    from apimeter.dal import entities

    tenant_id = api.call("GET", "/v1/auth/me", token=token).body["tenant"]["id"]
    entities.tenants.update_tenant(tenant_id, {"limits": limits})
    authorization.cache.clear()


def test_every_response_carries_rate_limit_headers(api: Api, aws: dict[str, Any]) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    reply = api.call("GET", f"/v1/projects/{project_id}", token=token)
    assert reply.status == 200
    assert int(reply.headers["x-ratelimit-limit"]) > 0
    assert int(reply.headers["x-ratelimit-remaining"]) < int(reply.headers["x-ratelimit-limit"])
    assert int(reply.headers["x-ratelimit-reset"]) > time.time()
    missing = api.call("GET", f"/v1/projects/{project_id}/nothing", token=token)
    assert missing.status == 404


def test_batches_count_as_events_and_over_the_limit_is_429(api: Api, aws: dict[str, Any]) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    set_limits(aws, api, token, {"key_per_minute": 10})
    event = {"method": "GET", "endpoint": "/a", "status": 200}
    assert api.call("POST", "/v1/events", {"events": [event] * 8}, key=key).status == 202
    refused = api.call("POST", "/v1/events", {"events": [event] * 5}, key=key)
    assert refused.status == 429
    assert refused.body["error"]["code"] == "RATE_LIMIT_EXCEEDED"
    assert refused.body["error"]["details"]["window"] == "minute"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["x-ratelimit-remaining"] == "2"
    fits = api.call("POST", "/v1/events", {"events": [event] * 2}, key=key)
    assert fits.status == 202
    assert fits.headers["x-ratelimit-remaining"] == "0"
    assert api.call("GET", f"/v1/projects/{project_id}/metrics/summary", key=key).status == 429


def test_a_project_refusal_refunds_the_key(api: Api, aws: dict[str, Any]) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    first, second = api.key(token, project_id)["key"], api.key(token, project_id)["key"]
    set_limits(aws, api, token, {"key_per_minute": 5, "project_per_minute": 6})
    event = {"method": "GET", "endpoint": "/a", "status": 200}
    assert api.call("POST", "/v1/events", {"events": [event] * 4}, key=first).status == 202
    refused = api.call("POST", "/v1/events", {"events": [event] * 3}, key=second)
    assert refused.status == 429
    assert refused.body["error"]["details"]["scope"] == "project"
    assert api.call("POST", "/v1/events", {"events": [event] * 2}, key=second).status == 202  # not charged before


@pytest.mark.parametrize("valid", [True])
def test_monthly_quota(api: Api, aws: dict[str, Any], valid: bool) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id, ("track",))["key"]
    set_limits(aws, api, token, {"events_per_month": 5})
    event = {"method": "GET", "endpoint": "/a", "status": 200}
    assert api.call("POST", "/v1/events", {"events": [event] * 3 + [{"bad": 1}]}, key=key).status == 202
    quota = api.call("GET", "/v1/quota", key=key).body
    assert (quota["limit"], quota["used"], quota["remaining"]) == (5, 3, 2)
    refused = api.call("POST", "/v1/events", {"events": [event] * 3}, key=key)
    assert refused.status == 429
    assert refused.body["error"]["details"]["window"] == "month"
    assert api.call("POST", "/v1/events", {"events": [event] * 2}, key=key).status == 202
    assert api.call("GET", "/v1/quota", key=key).body["remaining"] == 0
    assert api.call("GET", "/v1/quota", token=token).status == 403


def test_a_charge_from_a_clock_behind_counts_in_the_minute_already_started(aws: dict[str, Any]) -> None:
    limits = Limits(per_minute=10, per_hour=100, per_day=1_000)
    ahead, behind = Instant.at(1_763_814_660), Instant.at(1_763_814_600)  # 12:31 and 12:30, same hour
    assert counters.charge("s", ahead, 1, limits) == (Usage(1, 1, 1), None)
    usage, refusal = counters.charge("s", behind, 2, limits)
    assert refusal is None
    assert usage == Usage(3, 3, 3)  # not a restart of 12:30
    assert counters.peek("s", ahead) == Usage(3, 3, 3)


def test_a_new_minute_over_the_hour_is_refused_without_starting_it(aws: dict[str, Any]) -> None:
    limits = Limits(per_minute=10, per_hour=2, per_day=1_000)
    first, later = Instant.at(1_763_814_600), Instant.at(1_763_814_660)
    assert counters.charge("s", first, 2, limits)[1] is None
    assert counters.charge("s", later, 1, limits) == (Usage(0, 2, 2), "hour")
    assert counters.peek("s", first) == Usage(2, 2, 2)  # 12:30 is still the stored minute


def test_a_refund_after_the_minute_moved_on_takes_back_only_the_hour_and_day(aws: dict[str, Any]) -> None:
    limits = Limits(per_minute=10, per_hour=100, per_day=1_000)
    first, later = Instant.at(1_763_814_600), Instant.at(1_763_814_660)
    counters.charge("s", first, 2, limits)
    counters.charge("s", later, 3, limits)
    counters.refund("s", first, 2)
    assert counters.peek("s", later) == Usage(3, 3, 3)


def _counter_writes(aws: dict[str, Any]) -> list[str]:
    """Every UpdateItem on a rate-limit or quota counter from now on, by its partition key."""
    from apimeter.dal import dynamo

    seen: list[str] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        pk = params.get("Key", {}).get("pk", {}).get("S", "")
        if pk.startswith(("RATE#", "QUOTA#")):
            seen.append(pk)

    dynamo.client().meta.events.register("provide-client-params.dynamodb.UpdateItem", note)
    return seen


def test_steady_single_events_are_served_from_leases_not_a_write_each(api: Api, aws: dict[str, Any]) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id, ("track",))["key"]
    writes = _counter_writes(aws)
    event = {"method": "GET", "endpoint": "/a", "status": 200}
    for _ in range(300):
        assert api.call("POST", "/v1/events", event, key=key).status == 202
    assert len(writes) < 60  # three counters charged per request would be 900 writes
    assert api.call("GET", "/v1/quota", key=key).body["used"] == 300  # what this function holds is not used


def test_leased_charges_never_pass_a_limit_under_concurrency(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from apimeter.domain.principal import Principal
    from apimeter.errors import RateLimited
    from apimeter.logic import limits

    moment = time.time()
    monkeypatch.setattr(limits, "time", SimpleNamespace(time=lambda: moment))  # one minute throughout

    caller = Principal("api_key", "k-race", "t-race", "p-race", limits={"key_per_minute": 500})

    def attempt(_: int) -> bool:
        try:
            limits.charge(caller, 1)
        except RateLimited:
            return False
        return True

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(attempt, range(700)))
    assert sum(results) == 500 == counters.peek("api_key#k-race", Instant.at(moment)).minute
