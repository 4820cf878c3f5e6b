"""make demo's run (offline/replay/flow.py) against a stand-in for the running stack: what it refuses
to start, what it sends, which hours it has the pipeline judge, and what it prints at the end."""

from __future__ import annotations

import io
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from offline.replay import flow
from offline.replay.flow import Options, ReplayError
from offline.replay.progress import Progress
from offline.replay.sending import Latency, Sent
from offline.replay.sources import Call, Prices, event_id
from offline.replay.stack_api import Stack, StackError
from offline.replay.timeline import HOUR_MS

URL = "http://127.0.0.1:3999"


@dataclass
class FakeStack:
    """Answers as the stack's public API would, from what the test sets; counts what it is asked."""

    base_url: str = URL
    api_key: str = "amk_demo"
    project_id: str = "prj_demo"
    timeout: float = 5.0
    up: bool = True
    project_answer: dict[str, Any] | StackError = field(default_factory=lambda: {"name": "demo", "retention_days": 30})
    requests: int | None = 40  # what the summary counts; None: the summary cannot be read
    forecast: dict[str, Any] = field(default_factory=lambda: {"status": "insufficient_data"})
    found: list[dict[str, Any]] = field(default_factory=list)  # anomalies
    failing_hours: set[str] = field(default_factory=set)
    schedules: list[tuple[str, dict[str, Any] | None]] = field(default_factory=list)

    def healthy(self) -> bool:
        return self.up

    def project(self) -> dict[str, Any]:
        if isinstance(self.project_answer, StackError):
            raise self.project_answer
        return self.project_answer

    def summary(self, start_ms: int, end_ms: int) -> dict[str, Any]:
        if self.requests is None:
            raise StackError(503, "busy")
        return {"requests": self.requests}

    def run_schedule(self, name: str, payload: dict[str, Any] | None = None) -> dict[str, Any]:
        self.schedules.append((name, payload))
        if payload and payload.get("hour") in self.failing_hours:
            raise StackError(500, "the pipeline failed")
        return {"status": "SUCCEEDED"}

    def make_forecast(self) -> dict[str, Any]:
        return self.forecast

    def anomalies(self, window: str = "30d") -> list[dict[str, Any]]:
        return self.found


@dataclass
class Run:
    stack: FakeStack
    state: Path
    calls: list[Call]
    sent: Sent = field(default_factory=Sent)
    forgotten: int = 0
    rounds: list[Sequence[tuple[int, int, list[dict[str, Any]]]]] = field(default_factory=list)
    endpoints: dict[str, str] | None = None

    def options(self, **overrides: Any) -> Options:
        return Options(url=URL + "/", state_dir=self.state, watch_every=3600.0, **overrides)


def _hour_start() -> int:
    now = int(time.time() * 1000)
    return now - now % HOUR_MS


def _flat_calls(hours: int) -> list[Call]:
    """Steady traffic, a call a minute on one endpoint, ending where the replay ends: no anomaly."""
    start = _hour_start() - hours * HOUR_MS
    return [
        Call("access-log", start + i * 60_000, {"event_id": event_id("flat", i), "method": "GET", "endpoint": "/a",
                                                "status": 200, "latency_ms": 10.0 + i % 5})
        for i in range(hours * 60)
    ]  # fmt: skip


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    state = tmp_path / "state"
    state.mkdir()
    (state / "demo.json").write_text(json.dumps({"project_id": "prj_demo", "api_key": "amk_demo"}))
    setup = Run(FakeStack(), state, _flat_calls(6))

    def make_stack(base_url: str, api_key: str, project_id: str) -> FakeStack:
        assert (base_url, api_key, project_id) == (URL, "amk_demo", "prj_demo")  # the URL loses its slash
        return setup.stack

    def send(rounds: Sequence[tuple[int, int, list[dict[str, Any]]]], stack: FakeStack, *, batch_size: int,
             progress: Progress) -> Sent:  # fmt: skip
        setup.rounds.append(rounds)
        stack.requests = (stack.requests or 0) + setup.sent.accepted
        return setup.sent

    def forget(endpoints: dict[str, str], project_id: str) -> int:
        setup.endpoints = endpoints
        return setup.forgotten

    monkeypatch.setattr(flow, "Stack", make_stack)
    monkeypatch.setattr(flow, "send", send)
    monkeypatch.setattr(flow, "forget_detectors", forget)
    monkeypatch.setattr(flow, "read_sources", lambda data, prices: setup.calls)
    return setup


def _replay(run: Run, **overrides: Any) -> tuple[flow.Report, str]:
    out = io.StringIO()
    report = flow.replay(run.options(**overrides), out, io.StringIO())
    return report, out.getvalue()


def _no_demo(run: Run) -> None:
    (run.state / "demo.json").unlink()


def _down(run: Run) -> None:
    run.stack.up = False


def _key_refused(run: Run) -> None:
    run.stack.project_answer = StackError(401, "invalid API key")


def _no_calls(run: Run) -> None:
    run.calls = []


def _short_retention(run: Run) -> None:
    run.calls = _flat_calls(30)
    run.stack.project_answer = {"name": "demo", "retention_days": 1}


def _unreadable_summary(run: Run) -> None:
    run.stack.requests = None


def _key_revoked_while_sending(run: Run) -> None:
    run.sent = Sent(accepted=10, stopped="AUTHENTICATION_FAILED: invalid API key")


@pytest.mark.parametrize(
    ("arrange", "message"),
    [
        (_no_demo, "no demo project in .*demo.json: start the stack with make dev first"),
        (_down, f"no offline stack answers at {URL}"),
        (_key_refused, r"the demo key was refused \(invalid API key\)"),
        (_no_calls, "nothing to send"),
        (_short_retention, "older than its retention of 1 days"),
        (_unreadable_summary, "the summary of the demo project cannot be read"),
        (_key_revoked_while_sending, "sending stopped: AUTHENTICATION_FAILED: invalid API key"),
    ],
)
def test_a_replay_that_cannot_go_on_says_why(run: Run, arrange: Callable[[Run], None], message: str) -> None:
    arrange(run)
    with pytest.raises(ReplayError, match=message):
        _replay(run)


def test_a_short_replay_is_sent_in_hour_rounds_and_not_judged(run: Run) -> None:
    run.sent = Sent(accepted=300, duplicates=60, seconds=2.0, finalized_hours=6)
    report, out = _replay(run, round_size=100)
    assert len(report.plan.events) == 360
    [rounds] = run.rounds
    assert [len(events) for _, _, events in rounds] == [120, 120, 120]  # two whole hours of 60 each
    assert all(start % HOUR_MS == 0 and end % HOUR_MS == 0 for start, end, _ in rounds)
    assert (report.baseline, report.counted) == (40, 340)
    assert report.judged == []  # six hours: no history to judge
    assert run.stack.schedules == []
    assert report.plan.incident is None
    assert "replaying 360 calls into project demo (prj_demo)" in out
    assert "sent 360 events in 2s (180 events/s): accepted 300, duplicates 60 (sent before)" in out
    assert "summary of that range: 340 requests (300 new, all counted)" in out
    assert "forecast: insufficient_data (it needs a day of traffic)" in out
    assert "pipeline not run: no hour to judge (the detector needs 3.5 days of hours" in out
    assert report.plan.history_hours == 12  # six hours of the log, each played over two
    assert "this replay has 12 hours)" in out
    assert "anomalies recorded in that range: 0" in out
    assert "SYNTHETIC" not in out
    assert out.rstrip().endswith(f"Dashboard: {URL}/")


def test_refusals_and_a_shortfall_are_spelled_out() -> None:
    end = _hour_start()
    plan = flow.Plan([{"timestamp": end - 3 * HOUR_MS}], end, Counter({"access-log": 300}), [], [], history_hours=3)
    sent = Sent(accepted=300, rejected=2, refused=Counter(CONFLICT=2), examples={"CONFLICT": "changed payload"},
                uncounted=7, finalized_hours=3)  # fmt: skip
    never = Latency.of([])
    text = _print(flow.Report(plan, sent, 40, 100, never, Latency.of([0.25]), [], {}, [], 1.0))
    assert "3 hours finalized; 7 events not counted in time" in text
    assert "refused 2 x CONFLICT: changed payload" in text
    assert "(a conflict is an event id sent before with another payload" in text
    assert "summary of that range: 100 requests (60 new, MISSING 240)" in text
    assert "sent 302 events in 0s (0 events/s)" in text  # no time measured: no rate either
    assert "time to answer: not measured while replaying; 0.25 s before" in text


def _print(report: flow.Report) -> str:
    out = io.StringIO()
    flow._print_report(report, Stack(URL, "amk_demo", "prj_demo"), out)
    return out.getvalue()


def test_a_quiet_week_gets_a_labelled_incident_the_pipeline_judges(run: Run) -> None:
    run.calls = _flat_calls(120)
    run.forgotten = 3
    (run.state / "endpoints.json").write_text(json.dumps({"API_URL": URL + "/", "ROLLUPS_TABLE": "rollups"}))
    run.sent = Sent(accepted=7320, seconds=10.0)
    incident_hour = _hour_start() - 2 * HOUR_MS
    hour = flow._hour(incident_hour)
    run.stack.failing_hours = {hour}
    run.stack.forecast = {
        "status": "ready", "as_of": "2026-11-29T12:00Z", "history_hours": 240, "currency": "USD",
        "month_end": {"month": "2026-11", "requests": {"value": 123456.4}, "cost": {"value": 12.5}},
    }  # fmt: skip
    iso_hour = flow._iso(incident_hour)
    run.stack.found = [
        {"hour": iso_hour, "metric": "error_rate", "dimension": "endpoint", "value": "/a", "observed": 0.5,
         "expected": 0.01, "direction": "up", "severity": "critical"},
        {"hour": iso_hour, "metric": "latency_p95", "dimension": "project", "value": None, "observed": 1834.2,
         "expected": 14.0, "severity": "warning"},
        {"hour": iso_hour, "metric": "requests", "dimension": "project", "observed": 480.0, "expected": 60.0,
         "direction": "up", "severity": "warning"},
        {"hour": "2020-01-01T00:00Z", "metric": "requests", "dimension": "project", "observed": 1.0,
         "expected": 2.0, "severity": "info"},  # another replay's: outside this one's range
    ]  # fmt: skip
    report, out = _replay(run)
    assert report.plan.incident is not None
    assert "503 on /a" in report.plan.incident
    assert report.plan.counts["synthetic-incident"] == 120
    assert report.plan.judged == [incident_hour]
    assert run.endpoints is not None
    assert run.endpoints["ROLLUPS_TABLE"] == "rollups"
    assert run.stack.schedules == [("HourlyPipeline", {"hour": hour})]
    assert report.judged == [{"hour": hour, "status": "FAILED", "seconds": report.judged[0]["seconds"]}]
    assert len(report.anomalies) == 3
    assert report.notes == [
        "forgot the project's 3 saved anomaly detectors first (a detector skips hours before the last it judged), "
        "so the pipeline learned the replayed week"
    ]
    assert "adding a SYNTHETIC incident: 120 calls answering 503 on /a" in out
    assert f"  {hour}  FAILED" in out
    assert f"pipeline judged 1 hours; FAILED: {hour}" in out
    assert "forecast: ready as of 2026-11-29T12:00Z, from 240 hours; month end 2026-11: 123,456 requests," in out
    assert "month end 2026-11: 123,456 requests, USD 12.50" in out
    assert "anomalies recorded in that range: 3" in out
    assert "endpoint /a  error_rate 50.0% (expected 1.0%)  up critical" in out
    assert "project   latency_p95 1,834 ms (expected 14 ms)   warning" in out
    assert "project   requests 480 (expected 60)  up warning" in out
    assert "SYNTHETIC incident added (consumer synthetic-incident)" in out
    assert "note: forgot the project's 3 saved anomaly detectors" in out


def test_detectors_of_another_stack_are_left_alone_and_the_printout_says_so(run: Run) -> None:
    run.calls = _flat_calls(120)
    (run.state / "endpoints.json").write_text(json.dumps({"API_URL": "http://127.0.0.1:4000"}))
    run.sent = Sent(accepted=7320, seconds=10.0)
    report, out = _replay(run)
    assert run.endpoints is None  # the store of another stack is not touched
    assert report.judged[0]["status"] == "SUCCEEDED"
    assert "pipeline judged 1 hours" in out
    assert "FAILED" not in out
    assert "names another stack" in report.notes[0]
    assert "detectors that judged this project before keep their state" in out


def test_a_rerun_sends_the_same_events_and_no_endpoints_file_means_no_store(run: Run) -> None:
    run.calls = _flat_calls(120)
    run.sent = Sent(accepted=7320, seconds=10.0)
    first, _ = _replay(run)
    again, _ = _replay(run)
    assert first.plan.events == again.plan.events
    assert "names another stack" in again.notes[0]
    assert json.loads((run.state / flow.ANCHOR_FILE).read_text())["end_ms"] == first.plan.end_ms


def test_sources_missing_from_the_data_folder_are_named(tmp_path: Path) -> None:
    with pytest.raises(ReplayError, match=r"access-logs/apache_combined_2015\.log.*give the folder with --data"):
        flow.read_sources(tmp_path, Prices())
