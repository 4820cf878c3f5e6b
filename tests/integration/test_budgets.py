"""Budgets over the API: kept per project or tenant, judged on the stream and hourly, each alert
fired once per threshold and period and delivered to SNS, EventBridge and a signed webhook."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from apimeter.domain import webhooks
from apimeter.logic import alerts, budgets, spend
from tests.builders import WebhookReceiver
from tests.integration.conftest import Api


def listen(aws: dict[str, Any]) -> dict[str, str]:
    """Queues subscribed to the alerts topic and to every event on the alerts bus."""
    stack = aws["stack"]
    sqs, sns, events = boto3.client("sqs"), boto3.client("sns"), boto3.client("events")
    urls = {name: sqs.create_queue(QueueName=f"listen-{name}")["QueueUrl"] for name in ("sns", "eventbridge")}
    arn = {name: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
           for name, url in urls.items()}  # fmt: skip
    sns.subscribe(TopicArn=stack.arn("AlertsTopic"), Protocol="sqs", Endpoint=arn["sns"],
                  Attributes={"RawMessageDelivery": "true"})  # fmt: skip
    bus = stack.physical_name("AlertsBus")
    events.put_rule(Name="all-alerts", EventBusName=bus, EventPattern=json.dumps({"source": ["apimeter"]}))
    events.put_targets(Rule="all-alerts", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn["eventbridge"]}])
    return urls


def drain(url: str) -> list[dict[str, Any]]:
    sqs, found = boto3.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_budget_lifecycle_and_validation(api: Api) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    base = f"/v1/projects/{project_id}/budgets"
    bad = api.call("POST", base, {"name": "x", "amount": 10, "period": "monthly",
                                  "thresholds": [{"percent": 50, "action": "suspend"}]}, token=token)  # fmt: skip
    assert (bad.status, bad.body["error"]["code"]) == (422, "VALIDATION_ERROR")  # the document's schema says so
    assert "greater than or equal to 100" in json.dumps(bad.body["error"]["details"])
    made = api.call("POST", base, {"name": "API spend", "amount": 100, "period": "monthly", "metric": "cost",
                                   "thresholds": [{"percent": 50}, {"percent": 100, "action": "throttle"},
                                                  {"percent": 100, "on": "forecast", "probability": 0.8}],
                                   "channels": {"webhooks": [{"url": "https://hooks.example.com/a"}]}},
                    token=token)  # fmt: skip
    assert made.status == 201, made.body
    budget_id = made.body["id"]
    secret = made.body["channels"]["webhooks"][0]["secret"]
    assert len(secret) >= 32
    assert made.body["timezone"] == "UTC"
    shown = api.call("GET", f"{base}/{budget_id}", token=token).body
    assert shown["channels"]["webhooks"][0] == {"url": "https://hooks.example.com/a", "secret": None,
                                                "secret_hint": secret[-4:]}  # fmt: skip
    changed = api.call("PATCH", f"{base}/{budget_id}", {"amount": 250}, token=token)
    assert (changed.status, changed.body["amount"]) == (200, 250)
    assert [b["id"] for b in api.call("GET", base, token=token).body["budgets"]] == [budget_id]
    assert api.call("GET", "/v1/budgets", token=token).body["budgets"] == []  # it is the project's, not tenant-wide
    viewer = {"email": "v@example.com", "role": "viewer", "password": "viewer-password-1"}
    assert api.call("POST", "/v1/users", viewer, token=token).status == 201
    viewer_token = api.call("POST", "/v1/auth/login", {"email": "v@example.com", "password": "viewer-password-1"}).body
    assert api.call("GET", base, token=viewer_token["access_token"]).status == 200
    assert api.call("DELETE", f"{base}/{budget_id}", token=viewer_token["access_token"]).status == 403
    key = api.key(token, project_id, ("track", "read"))["key"]  # keys read budgets and change none
    assert api.call("GET", f"{base}/{budget_id}", key=key).status == 200
    assert api.call("PATCH", f"{base}/{budget_id}", {"amount": 1}, key=key).status == 403
    assert api.call("DELETE", f"{base}/{budget_id}", key=key).status == 403
    lower = {"name": "x", "amount": 1, "period": "daily", "thresholds": [{"percent": 50}]}
    assert api.call("POST", base, lower, key=key).status == 403
    assert api.call("DELETE", f"{base}/{budget_id}", token=token).status == 204
    assert api.call("GET", f"{base}/{budget_id}", token=token).status == 404


def test_a_budget_naming_a_key_the_project_lacks_is_a_conflict(api: Api) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    other = api.key(token, api.project(token))["id"]  # a key of another project of the same organization
    body = {"name": "cap", "amount": 1.0, "period": "monthly", "key_id": other, "thresholds": [{"percent": 100}]}
    refused = api.call("POST", f"/v1/projects/{project_id}/budgets", body, token=token)
    assert (refused.status, refused.body["error"]["code"]) == (409, "CONFLICT")  # not 404: the project is there
    assert api.call("GET", f"/v1/projects/{project_id}/budgets", token=token).body["budgets"] == []


def test_a_change_sets_only_what_it_names_and_null_changes_nothing(api: Api) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key_id = api.key(token, project_id)["id"]
    base = f"/v1/projects/{project_id}/budgets"
    made = api.call("POST", base, {"name": "Calls", "amount": 1000, "period": "weekly", "metric": "requests",
                                   "timezone": "Europe/Paris", "key_id": key_id,
                                   "thresholds": [{"percent": 80}, {"percent": 100, "action": "suspend"}],
                                   "channels": {"sns": True, "webhooks": [{"url": "https://hooks.example.com/a"}]}},
                    token=token).body  # fmt: skip
    url = f"{base}/{made['id']}"
    nulls = api.call("PATCH", url, {"name": None, "key_id": None, "timezone": None, "thresholds": None}, token=token)
    assert nulls.status == 200
    assert {k: v for k, v in nulls.body.items() if k != "channels"} == {
        k: v for k, v in made.items() if k != "channels"
    }
    assert nulls.body["channels"]["webhooks"][0]["secret"] is None  # channels untouched: no secret shown
    renamed = api.call("PATCH", url, {"name": "Requests", "channels": {"webhooks": [{"url": "https://hooks.example.com/a"}]}},
                       token=token).body  # fmt: skip
    assert (renamed["name"], renamed["amount"], renamed["key_id"]) == ("Requests", 1000, key_id)
    assert renamed["channels"]["sns"] is False  # channels are replaced whole
    assert renamed["channels"]["webhooks"][0]["secret"] == made["channels"]["webhooks"][0]["secret"]


def test_a_project_change_sets_only_what_it_names(api: Api) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token, "payments")
    url = f"/v1/projects/{project_id}"
    priced = api.call("PATCH", url, {"timezone": "Asia/Tokyo", "pricing": {"currency": "EUR", "per_request": 0.002}},
                      token=token).body  # fmt: skip
    assert (priced["name"], priced["timezone"]) == ("payments", "Asia/Tokyo")
    assert (priced["pricing"]["currency"], priced["pricing"]["per_request"]) == ("EUR", 0.002)
    kept = api.call("PATCH", url, {"name": None, "timezone": None, "pricing": {"per_gb_out": 0.09}}, token=token).body
    assert (kept["name"], kept["timezone"]) == ("payments", "Asia/Tokyo")
    assert kept["pricing"]["currency"] == "USD"  # pricing is replaced whole: what is left out takes its default
    assert (kept["pricing"]["per_request"], kept["pricing"]["per_gb_out"]) == (0, 0.09)


def test_crossings_fire_once_per_threshold_on_every_channel(
    api: Api, aws: dict[str, Any], receiver: WebhookReceiver
) -> None:
    queues = listen(aws)
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    made = api.call("POST", f"/v1/projects/{project_id}/budgets",
                    {"name": "API spend", "amount": 1.0, "period": "daily", "metric": "cost",
                     "thresholds": [{"percent": 50}, {"percent": 80}, {"percent": 100}],
                     "channels": {"sns": True, "eventbridge": True, "webhooks": [{"url": receiver.url}]}},
                    token=token).body  # fmt: skip
    secret = made["channels"]["webhooks"][0]["secret"]

    def track(count: int, offset: int) -> None:
        batch = [{"event_id": f"e{offset + i}", "method": "POST", "endpoint": "/v1/generate", "status": 200,
                  "cost": 0.1} for i in range(count)]  # fmt: skip
        assert api.call("POST", "/v1/events", {"events": batch}, key=key).status == 202
        api.pump()

    track(4, 0)  # 0.40: nothing crossed
    assert api.call("GET", f"/v1/projects/{project_id}/budgets/{made['id']}/alerts", key=key).body["alerts"] == []
    track(2, 4)  # 0.60: 50 %
    track(3, 6)  # 0.90: 80 %
    track(3, 9)  # 1.20: 100 %

    history = api.call("GET", f"/v1/projects/{project_id}/budgets/{made['id']}/alerts", key=key).body["alerts"]
    assert sorted(a["threshold"]["percent"] for a in history) == [50, 80, 100]
    assert all(a["deliveries"] == {"sns": "delivered", "eventbridge": "delivered", "webhook0": "delivered"}
               for a in history)  # fmt: skip
    fired = {a["threshold"]["percent"]: a for a in history}
    assert fired[50]["value"] == pytest.approx(0.6)
    assert fired[100]["message"].startswith("API spend: cost reached 120 % of the 1.00 USD daily budget")

    # the hourly judgement and a repeated stream judgement find the same crossings: nothing new fires
    assert budgets.evaluate(api_tenant(api, token)).fired == 0
    assert spend.watch([spend.Charge(api_tenant(api, token), project_id, int(time.time() * 1000), 0.0)]).fired == 0
    assert alerts.flush().alerts == 0

    sns_messages = drain(queues["sns"])
    bus_events = drain(queues["eventbridge"])
    assert sorted(m["threshold"]["percent"] for m in sns_messages) == [50, 80, 100]
    assert sorted(e["detail"]["threshold"]["percent"] for e in bus_events) == [50, 80, 100]
    assert {e["detail-type"] for e in bus_events} == {"Budget alert"}
    assert len(receiver.received) == 3
    for headers, body in receiver.received:
        assert webhooks.verify(secret, body, headers[webhooks.SIGNATURE_HEADER.lower()], time.time())
        assert not webhooks.verify("another-secret-0123456789", body, headers[webhooks.SIGNATURE_HEADER.lower()],
                                   time.time())  # fmt: skip
    assert sorted(json.loads(b)["threshold"]["percent"] for _, b in receiver.received) == [50, 80, 100]


def test_a_failed_webhook_is_retried_by_the_outbox(api: Api, aws: dict[str, Any], receiver: WebhookReceiver) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    made = api.call("POST", f"/v1/projects/{project_id}/budgets",
                    {"name": "requests", "amount": 2, "period": "weekly", "metric": "requests",
                     "thresholds": [{"percent": 100}], "channels": {"webhooks": [{"url": receiver.url}]}},
                    token=token).body  # fmt: skip
    receiver.status = 503
    batch = [{"event_id": f"r{i}", "method": "GET", "endpoint": "/", "status": 200} for i in range(3)]
    assert api.call("POST", "/v1/events", {"events": batch}, key=key).status == 202
    api.pump()
    (alert,) = api.call("GET", f"/v1/projects/{project_id}/budgets/{made['id']}/alerts", key=key).body["alerts"]
    assert alert["deliveries"] == {"webhook0": "pending"}
    assert alerts.flush().undelivered == 1  # still down
    receiver.status = 200
    assert alerts.flush() == alerts.Flushed(alerts=1, undelivered=0)
    assert alerts.flush().alerts == 0
    (alert,) = api.call("GET", f"/v1/projects/{project_id}/budgets/{made['id']}/alerts", key=key).body["alerts"]
    assert alert["deliveries"] == {"webhook0": "delivered"}
    assert len(receiver.received) == 3  # two refused, one accepted: one alert, delivered once


def test_a_delivery_failing_for_days_is_dropped_and_a_long_outbox_waits(
    api: Api, receiver: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    made = api.call("POST", f"/v1/projects/{project_id}/budgets",
                    {"name": "r", "amount": 1, "period": "daily", "metric": "requests",
                     "thresholds": [{"percent": 100}], "channels": {"webhooks": [{"url": receiver.url}]}},
                    token=token).body  # fmt: skip
    receiver.status = 502
    assert api.call("POST", "/v1/events", {"event_id": "d1", "method": "GET", "endpoint": "/", "status": 200},
                    key=key).status == 202  # fmt: skip
    api.pump()
    assert alerts.flush(seconds=0) == alerts.Flushed(alerts=1, undelivered=1)  # out of time: left for the next run
    assert len(receiver.received) == 1  # only the attempt made when it fired
    later = time.time() + 3 * 86_400 + 60
    monkeypatch.setattr(time, "time", lambda: later)
    assert alerts.flush() == alerts.Flushed(alerts=1, undelivered=0)
    (alert,) = api.call("GET", f"/v1/projects/{project_id}/budgets/{made['id']}/alerts", key=key).body["alerts"]
    assert alert["deliveries"] == {"webhook0": "dropped"}
    assert alerts.flush().alerts == 0


def api_tenant(api: Api, token: str) -> str:
    return str(api.call("GET", "/v1/auth/me", token=token).body["tenant"]["id"])


def test_escalating_actions_throttle_then_suspend_the_key_until_the_budget_goes(api: Api) -> None:
    from apimeter.logic import authorization

    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)
    other = api.key(token, project_id)  # the budget names one key; this one is left alone
    made = api.call("POST", f"/v1/projects/{project_id}/budgets",
                    {"name": "cap", "amount": 1.0, "period": "monthly", "key_id": key["id"],
                     "thresholds": [{"percent": 50, "action": "throttle"}, {"percent": 100, "action": "suspend"}]},
                    token=token)  # fmt: skip
    assert made.status == 201, made.body

    def spend(count: int, offset: int) -> int:
        batch = [{"event_id": f"s{offset + i}", "method": "POST", "endpoint": "/v1/generate", "status": 200,
                  "cost": 0.1} for i in range(count)]  # fmt: skip
        status = api.call("POST", "/v1/events", {"events": batch}, key=key["key"]).status
        api.pump()
        authorization.cache.clear()  # AuthCacheSeconds later
        return status

    before = api.call("GET", "/v1/quota", key=key["key"]).headers["x-ratelimit-limit"]
    exchanged = api.call("POST", "/v1/auth/token", key=key["key"]).body["access_token"]  # holds bind it too
    assert spend(6, 0) == 202  # 0.60: throttled
    throttled = api.call("GET", "/v1/quota", key=key["key"])
    assert throttled.status == 200
    assert int(throttled.headers["x-ratelimit-limit"]) == max(1, int(before) // 10)
    assert spend(4, 6) == 202  # 1.00: this batch is taken, and crosses into suspension
    refused = api.call("GET", "/v1/quota", key=key["key"])
    assert (refused.status, refused.body["error"]["code"]) == (429, "RATE_LIMIT_EXCEEDED")
    assert api.call("GET", f"/v1/projects/{project_id}/metrics/summary", token=exchanged).status == 429
    assert api.call("GET", "/v1/quota", key=other["key"]).status == 200

    assert api.call("DELETE", f"/v1/projects/{project_id}/budgets/{made.body['id']}", token=token).status == 204
    authorization.cache.clear()
    assert api.call("GET", "/v1/quota", key=key["key"]).status == 200


def test_the_hour_that_closes_a_period_is_judged_with_it(api: Api) -> None:
    from decimal import Decimal

    from apimeter.dal import rollups
    from apimeter.domain.rollups import PROJECT_TOTAL, RollupKey
    from apimeter.domain.windows import bucket_key

    token = api.register()["access_token"]
    project_id = api.project(token)
    made = api.call("POST", f"/v1/projects/{project_id}/budgets",
                    {"name": "daily", "amount": 1.0, "period": "daily", "thresholds": [{"percent": 100}]},
                    token=token).body  # fmt: skip
    now = int(time.time() * 1000)
    last_of_yesterday = now - now % 86_400_000 - 3_600_000
    spent = {"requests": 5, "cost": Decimal("1.5")}  # all in yesterday's last hour, as the stream adds it
    hour = RollupKey(project_id, "hour", PROJECT_TOTAL, bucket_key(last_of_yesterday, "hour"))
    day = RollupKey(project_id, "day", PROJECT_TOTAL, bucket_key(last_of_yesterday, "day"))
    rollups.replace_all({hour: spent, day: spent}, run="t", computed_at="2026-01-01T00:00:00Z")
    tenant = api_tenant(api, token)
    assert budgets.evaluate(tenant, now_ms=now).fired == 0  # today's period: nothing spent
    assert budgets.evaluate(tenant, last_of_yesterday, now).fired == 1  # the pipeline's hour closed yesterday
    (alert,) = api.call("GET", f"/v1/projects/{project_id}/budgets/{made['id']}/alerts", token=token).body["alerts"]
    assert alert["period"]["label"] == bucket_key(last_of_yesterday, "day")


def test_an_alert_deleted_with_its_budget_leaves_the_outbox(api: Api, receiver: WebhookReceiver) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    made = api.call("POST", f"/v1/projects/{project_id}/budgets",
                    {"name": "r", "amount": 1, "period": "daily", "metric": "requests",
                     "thresholds": [{"percent": 100}], "channels": {"webhooks": [{"url": receiver.url}]}},
                    token=token).body  # fmt: skip
    receiver.status = 500
    event = {"event_id": "o1", "method": "GET", "endpoint": "/", "status": 200}
    assert api.call("POST", "/v1/events", event, key=key).status == 202
    api.pump()
    assert alerts.flush() == alerts.Flushed(alerts=1, undelivered=1)
    assert api.call("DELETE", f"/v1/projects/{project_id}/budgets/{made['id']}", token=token).status == 204
    assert alerts.flush() == alerts.Flushed(alerts=1, undelivered=0)  # found gone, and dropped
    assert alerts.flush().alerts == 0


def test_an_alert_and_its_outbox_entry_are_kept_together_once(aws: dict[str, Any]) -> None:
    """One transaction: an invocation ended between two separate writes left an alert no delivery
    run would ever find (the soak under faults showed it)."""
    from apimeter.dal import entities

    body = {"id": "bud_1#2026-11#actual#80", "budget_id": "bud_1"}
    assert entities.alerts.record_alert("ten_1", "bud_1#2026-11#actual#80", body, ["sns"]) is True
    assert entities.alerts.record_alert("ten_1", "bud_1#2026-11#actual#80", body, ["sns"]) is False
    assert entities.alerts.outbox() == [("ten_1", "bud_1#2026-11#actual#80")]
    stored = entities.alerts.pending_alert("ten_1", "bud_1#2026-11#actual#80")
    assert stored is not None
    assert stored.pending == ("sns",)


def test_the_answer_shows_the_thresholds_as_kept(api: Api) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    body = {"name": "b", "amount": 10, "period": "monthly",
            "thresholds": [{"percent": 80}, {"percent": 80, "action": "throttle"}]}  # fmt: skip
    made = api.call("POST", f"/v1/projects/{project_id}/budgets", body, token=token).body
    kept = api.call("GET", f"/v1/projects/{project_id}/budgets/{made['id']}", token=token).body
    assert [(t["percent"], t["action"]) for t in made["thresholds"]] == [(80, "throttle")]
    assert made["thresholds"] == kept["thresholds"]
