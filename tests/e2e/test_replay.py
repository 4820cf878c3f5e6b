"""make demo against the offline stack over real HTTP: a short replay (the last 200 calls of each
source in ../shared/data) goes through the Python client into the demo project; the summary counts
exactly what was sent, costs included, and replaying it again changes nothing."""

from __future__ import annotations

import io
import json
import urllib.parse

import pytest

from offline.replay.flow import DATA, Options, replay
from offline.replay.timeline import HOUR_MS
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e


def test_a_short_replay_is_counted_as_sent_and_a_second_one_changes_nothing(stack: Stack) -> None:
    if not (DATA / "access-logs").exists():
        pytest.skip("shared data not present")
    demo = json.loads((stack.state_dir / "demo.json").read_text())
    options = Options(url=stack.client.base, state_dir=stack.state_dir, limit=200, round_size=250)
    out = io.StringIO()
    first = replay(options, out, io.StringIO())

    plan = first.plan
    assert plan.counts == {"access-log": 200, "llm-code": 200, "llm-conv": 200}
    assert (first.sent.accepted, first.sent.duplicates, first.sent.rejected, first.sent.dropped) == (600, 0, 0, 0)
    assert first.sent.uncounted == 0
    start = plan.first_ms - plan.first_ms % HOUR_MS
    query = urllib.parse.urlencode({"from": start, "to": plan.end_ms + HOUR_MS})
    path = f"/v1/projects/{demo['project_id']}/metrics/summary?{query}"
    summary = stack.client.call("GET", path, key=demo["api_key"]).body
    assert summary["requests"] == first.baseline + 600 == first.counted
    assert summary["errors"] == sum(1 for e in plan.events if e["status"] >= 400)
    assert summary["cost"] == pytest.approx(sum(e.get("cost", 0.0) for e in plan.events), rel=1e-9)
    assert summary["units"] == sum(e.get("units", 0) for e in plan.events)
    assert first.forecast["status"] == "insufficient_history"  # four hours of traffic
    printed = out.getvalue()
    assert "accepted 600" in printed
    assert f"Dashboard: {stack.client.base}/" in printed

    second = replay(options, io.StringIO(), io.StringIO())
    assert (second.sent.accepted, second.sent.duplicates) == (0, 600)  # same ids, same payloads
    assert second.plan.events == plan.events
    again = stack.client.call("GET", path, key=demo["api_key"]).body
    assert again["requests"] == summary["requests"]
    assert again["cost"] == summary["cost"]
