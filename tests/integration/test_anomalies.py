"""Anomalies over the API: found in a finished hour by the series' saved detector, listed once
however often the hour is judged, and steered by feedback."""

from __future__ import annotations

import math
import random
import time
from decimal import Decimal

from apimeter.dal import rollups
from apimeter.domain.anomaly import Detector
from apimeter.domain.rollups import ENDPOINT, PROJECT_TOTAL, RollupKey
from apimeter.domain.windows import bucket_key
from apimeter.logic import anomalies
from tests.integration.conftest import Api

HOUR = 3_600_000


def requests_at(hour_index: int, rng: random.Random) -> int:
    return round(200 + 80 * math.sin(2 * math.pi * (hour_index % 24) / 24) + rng.gauss(0, 5))


def test_a_spike_is_found_once_listed_and_taught_by_feedback(api: Api) -> None:
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id, ("read",))["key"]
    now = int(time.time() * 1000)
    spike_hour = now - now % HOUR - HOUR
    rng = random.Random(4)

    # three weeks of ordinary hours, already judged: the detectors' saved state
    detector = Detector(3600)
    for h in range(21 * 24, 0, -1):
        start = spike_hour - h * HOUR
        detector.update(start / 1000, requests_at(start // HOUR, rng))
    rollups.save_detector_states(project_id, {(PROJECT_TOTAL, ""): {"requests": detector.state()}})

    # the finished hour: three times the usual traffic, on one endpoint
    spike = 3 * requests_at(spike_hour // HOUR, rng)
    hour = bucket_key(spike_hour, "hour")
    rollups.replace_all(
        {RollupKey(project_id, "hour", PROJECT_TOTAL, hour): {"requests": spike, "cost": Decimal(0)},
         RollupKey(project_id, "hour", ENDPOINT, hour, "POST /v1/orders"): {"requests": spike}},
        run="test", computed_at="2026-01-01T00:00:00Z",
    )  # fmt: skip
    assert anomalies.detect(project_id, spike_hour) == anomalies.Detected(series=2, anomalies=1)
    assert anomalies.detect(project_id, spike_hour).anomalies == 0  # judged already: nothing new

    listed = api.call("GET", f"/v1/projects/{project_id}/anomalies?window=24h", key=key)
    assert listed.status == 200, listed.body
    (found,) = listed.body["anomalies"]
    assert (found["dimension"], found["value"], found["metric"], found["direction"]) == (
        "project", None, "requests", "up")  # fmt: skip
    assert found["observed"] == spike
    assert found["lower"] < found["expected"] < found["upper"] < spike
    assert found["severity"] in ("low", "medium", "high")
    assert api.call("GET", f"/v1/projects/{project_id}/anomalies?window=2d", key=key).status == 422

    url = f"/v1/projects/{project_id}/anomalies/{found['id']}"
    assert api.call("PATCH", url, {"feedback": "false"}, key=key).status == 403  # keys read; people judge
    marked = api.call("PATCH", url, {"feedback": "false"}, token=token)
    assert (marked.status, marked.body["feedback"]) == (200, "false")
    learned = Detector.restore(rollups.detector_states(project_id)[(PROJECT_TOTAL, "")]["requests"])
    assert learned.sensitivity < 1.0
    assert learned.tolerance > (spike - found["expected"]) / found["expected"]
    listed = api.call("GET", f"/v1/projects/{project_id}/anomalies?window=24h", key=key).body["anomalies"]
    assert listed[0]["feedback"] == "false"

    missing = f"/v1/projects/{project_id}/anomalies/an_2026010100_0123456789ab"
    assert api.call("PATCH", missing, {"feedback": "real"}, token=token).status == 404
    assert (
        api.call("PATCH", f"/v1/projects/{project_id}/anomalies/nope", {"feedback": "real"}, token=token).status == 404
    )
    intruder = api.register("eve@example.com", "Evil")["access_token"]
    assert api.call("GET", f"/v1/projects/{project_id}/anomalies", token=intruder).status == 404
