"""make demo forgets a project's saved anomaly detectors before the pipeline judges replayed hours,
and nothing of any other project (offline/replay/stack_api.forget_detectors)."""

from __future__ import annotations

from typing import Any

from apimeter.dal import rollups
from offline.replay.stack_api import forget_detectors


def test_only_the_projects_detectors_are_forgotten(aws: dict[str, Any]) -> None:
    table = aws["stack"].physical_name("RollupsTable")
    state = {"requests": {"last": 1}}
    rollups.save_detector_states("prj_a", {("*", ""): state, ("e", "GET /x"): state, ("c", "acme"): state})
    rollups.save_detector_states("prj_b", {("*", ""): state})
    endpoints = {"AWS_ENDPOINT_URL": "https://dynamodb.us-east-1.amazonaws.com", "AWS_ACCESS_KEY_ID": "testing",
                 "AWS_SECRET_ACCESS_KEY": "testing", "ROLLUPS_TABLE": table}  # fmt: skip
    assert forget_detectors(endpoints, "prj_a") == 3
    assert rollups.detector_states("prj_a") == {}
    assert rollups.detector_states("prj_b") == {("*", ""): state}
    assert forget_detectors(endpoints, "prj_a") == 0
