"""The hourly pipeline on the offline stack over real HTTP: moto's server runs the state machine's
ASL and its tasks call the functions; a budget crossed by tracked events alerts a local webhook
once, signed, within seconds, and the pipeline run finds nothing more to send."""

from __future__ import annotations

import json
import time

import pytest

from apimeter.domain import webhooks
from tests.builders import WebhookReceiver
from tests.e2e.conftest import Stack
from tests.e2e.test_offline_stack import setup_project

pytestmark = pytest.mark.e2e


def test_a_budget_alerts_within_seconds_and_the_pipeline_runs_offline(stack: Stack, receiver: WebhookReceiver) -> None:
    client = stack.client
    token, project_id, key = setup_project(client, "pipeline@example.com")
    budget = client.call("POST", f"/v1/projects/{project_id}/budgets",
                         {"name": "today", "amount": 1, "period": "daily", "thresholds": [{"percent": 80}],
                          "channels": {"sns": True, "eventbridge": True, "webhooks": [{"url": receiver.url}]}},
                         token=token).body  # fmt: skip
    batch = [{"event_id": f"p{i}", "method": "POST", "endpoint": "/v1/generate", "status": 200, "cost": 0.1}
             for i in range(9)]  # fmt: skip
    sent = time.monotonic()
    assert client.call("POST", "/v1/events", {"events": batch}, key=key).status == 202
    while not receiver.received and time.monotonic() - sent < 10:
        time.sleep(0.05)
    assert receiver.received, "no alert within 10 s"
    latency = time.monotonic() - sent
    print(f"alert delivered {latency:.2f} s after the POST")

    ran = client.call("POST", "/_offline/schedules/HourlyPipeline")
    assert ran.status == 200, ran.body
    assert ran.body["status"] == "SUCCEEDED", ran.body
    assert ran.body["output"]["plan"]["projects"] >= 1
    print(f"pipeline ran in {ran.body['seconds']:.2f} s")
    forecast = client.call("GET", f"/v1/projects/{project_id}/forecast", key=key)
    assert forecast.status == 200
    assert forecast.body["status"] == "insufficient_history"  # minutes of traffic: no forecast yet, said so

    alerts = client.call("GET", f"/v1/projects/{project_id}/budgets/{budget['id']}/alerts", key=key).body["alerts"]
    assert [a["threshold"]["percent"] for a in alerts] == [80]
    assert alerts[0]["deliveries"] == {"sns": "delivered", "eventbridge": "delivered", "webhook0": "delivered"}
    ((headers, body),) = receiver.received
    secret = budget["channels"]["webhooks"][0]["secret"]
    assert webhooks.verify(secret, body, headers["apimeter-signature"], time.time())
    assert json.loads(body)["id"] == alerts[0]["id"]
