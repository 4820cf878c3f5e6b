"""The hourly pipeline, executed from its ASL on moto's Step Functions with every task in-process:
a project with ten days of history, a spike of tracked traffic in its last finished hour and
budgets crossed on the stream and on the forecast; then the finalized hour, the forecast, the
anomaly and exactly one alert per crossed threshold on every channel, and nothing new when the
hour is run again."""

from __future__ import annotations

import json
import math
import random
import time
from typing import Any

from apimeter.dal import rollups
from apimeter.domain import webhooks
from apimeter.domain.rollups import PROJECT_TOTAL, RollupKey
from apimeter.domain.windows import bucket_key
from apimeter.logic.rollup import GRACE_MS
from tests.builders import WebhookReceiver
from tests.integration.conftest import Api
from tests.integration.test_budgets import drain, listen

HOUR = 3_600_000


def usual(start_ms: int, rng: random.Random) -> int:
    return round(30 + 12 * math.sin(2 * math.pi * (start_ms // HOUR % 24) / 24) + rng.gauss(0, 1))


def history(project_id: str, last_hour: int) -> int:
    """Ten days of finalized hours with a daily swing (and no cost) before ``last_hour``; returns
    what that hour usually sees."""
    rng = random.Random(8)
    buckets = {}
    for h in range(1, 10 * 24):
        start = last_hour - h * HOUR
        requests = usual(start, rng)
        key = RollupKey(project_id, "hour", PROJECT_TOTAL, bucket_key(start, "hour"))
        buckets[key] = {"requests": requests, "c2": requests}
    rollups.replace_all(buckets, run="history", computed_at="2026-01-01T00:00:00Z")
    return usual(last_hour, rng)


def test_the_hourly_pipeline_forecasts_finds_the_spike_and_alerts_once(
    api: Api, aws: dict[str, Any], receiver: WebhookReceiver
) -> None:
    queues = listen(aws)
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    now = int(time.time() * 1000)
    settled = now - GRACE_MS
    last_hour = settled - settled % HOUR - HOUR  # the hour the pipeline judges: the last finalized one
    spike = [{"event_id": f"s{i}", "timestamp": last_hour + i * 1000, "method": "GET", "endpoint": "/v1/items",
              "status": 200} for i in range(4 * history(project_id, last_hour))]  # fmt: skip
    assert api.call("POST", "/v1/events", {"events": spike}, key=key).status == 202  # 4x the usual, last hour
    channels = {"sns": True, "eventbridge": True, "webhooks": [{"url": receiver.url}]}
    daily = api.call("POST", f"/v1/projects/{project_id}/budgets",
                     {"name": "spend today", "amount": 1, "period": "daily", "metric": "cost",
                      "thresholds": [{"percent": 50}, {"percent": 100}, {"percent": 500}],
                      "channels": channels}, token=token).body  # fmt: skip
    monthly = api.call("POST", f"/v1/projects/{project_id}/budgets",
                       {"name": "calls this month", "amount": 1, "period": "monthly", "metric": "requests",
                        "thresholds": [{"percent": 100, "on": "forecast", "probability": 0.8}],
                        "channels": channels}, token=token).body  # fmt: skip
    batch = [{"event_id": f"e{i}", "method": "POST", "endpoint": "/v1/generate", "status": 200, "cost": 0.1}
             for i in range(12)]  # fmt: skip
    assert api.call("POST", "/v1/events", {"events": batch}, key=key).status == 202
    api.pump()  # the stream fires 50 % and 100 % of the daily budget within the batch

    run = api.run_pipeline()
    assert run.status == "SUCCEEDED", (run.error, run.cause)
    assert run.output["plan"]["projects"] == 1
    assert run.output["notifications"] == {"alerts": 0, "undelivered": 0}

    forecast = api.call("GET", f"/v1/projects/{project_id}/forecast", key=key).body
    assert forecast["status"] == "ready"
    assert len(forecast["hourly"]) == 48

    (anomaly,) = api.call("GET", f"/v1/projects/{project_id}/anomalies?window=24h", key=key).body["anomalies"]
    assert (anomaly["dimension"], anomaly["metric"], anomaly["direction"]) == ("project", "requests", "up")
    assert anomaly["hour"].startswith(bucket_key(last_hour, "hour"))
    assert anomaly["observed"] == len(spike)  # the hour as finalized from its raw events

    def fired(budget: dict[str, Any]) -> list[dict[str, Any]]:
        url = f"/v1/projects/{project_id}/budgets/{budget['id']}/alerts"
        return list(api.call("GET", url, key=key).body["alerts"])

    assert sorted(a["threshold"]["percent"] for a in fired(daily)) == [50, 100]  # 500 % was not reached
    (forecast_alert,) = fired(monthly)
    assert forecast_alert["type"] == "budget.threshold_forecast"
    everything = fired(daily) + fired(monthly)
    assert all(set(a["deliveries"].values()) == {"delivered"} for a in everything)

    again = api.run_pipeline()
    assert again.status == "SUCCEEDED"
    assert len(fired(daily) + fired(monthly)) == 3
    assert len(api.call("GET", f"/v1/projects/{project_id}/anomalies?window=24h", key=key).body["anomalies"]) == 1

    ids = sorted(a["id"] for a in everything)
    assert sorted(m["id"] for m in drain(queues["sns"])) == ids
    bus = drain(queues["eventbridge"])
    assert sorted(e["detail"]["id"] for e in bus if e["detail-type"] == "Budget alert") == ids
    assert [e["detail"]["id"] for e in bus if e["detail-type"] == "Anomaly detected"] == [anomaly["id"]]
    assert sorted(json.loads(body)["id"] for _, body in receiver.received) == ids
    secret = {b["id"]: b["channels"]["webhooks"][0]["secret"] for b in (daily, monthly)}
    for headers, body in receiver.received:
        signed_with = secret[json.loads(body)["budget_id"]]
        assert webhooks.verify(signed_with, body, headers["apimeter-signature"], time.time())
