"""``make demo``: real third-party traffic replayed into the running offline stack's demo project.

1. Read the sources (``../shared/data``): a web server's access log and two LLM traces.
2. Place them on a timeline that ends at the start of the current hour (kept in ``replay.json``
   beside ``demo.json``, so a rerun sends the very same events and the API counts each once), and
   screen the project's hours with the anomaly detector to know which hours the pipeline should
   judge (a synthetic incident is added, labelled, only when the real data holds no anomaly and the
   detector has history enough to see one).
3. Send everything through the Python client, oldest first, in rounds of whole hours, each counted
   by the stack and finalized before the next (``sending``), with a progress bar, while a summary
   of the replayed range is read every few seconds to measure how responsive the API stays.
4. Run the hourly pipeline for the screened hours, oldest first, so it records the anomalies; make
   the forecast; print what was sent, what the API counts, and where to look.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from apimeter.domain.anomaly import RANGE_DAYS
from offline import demo
from offline.replay import timeline
from offline.replay.progress import Progress, duration
from offline.replay.sending import Latency, Sent, SummaryWatch, send
from offline.replay.sources import Call, Prices, access_log, llm_trace
from offline.replay.stack_api import Stack, StackError, forget_detectors
from offline.replay.timeline import HOUR_MS, Flag

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT.parent / "shared" / "data"
ACCESS_LOG = Path("access-logs/apache_combined_2015.log")
LLM_TRACES = (Path("llm-traces/AzureLLMInferenceTrace_code.csv"), Path("llm-traces/AzureLLMInferenceTrace_conv.csv"))
ANCHOR_FILE = "replay.json"
INCIDENT_MINUTES = 20
INCIDENT_PER_MINUTE = 6


class ReplayError(Exception):
    """Why the replay cannot go on, said to the person who ran it."""


@dataclass(frozen=True)
class Options:
    url: str
    data: Path = DATA
    state_dir: Path = ROOT / ".offline"
    stretch: float = 2.0  # each hour of the access log is played over this many hours
    llm_every: int = 20  # one LLM call in this many
    prices: Prices = field(default_factory=Prices)
    limit: int | None = None  # only the last N calls of each source
    batch_size: int = 250
    round_size: int = 1_500  # events sent, counted and finalized before the next round
    watch_every: float = 15.0
    judge_hours: int = 8  # at most this many pipeline runs


@dataclass
class Plan:
    """What a replay sends and which hours it has the pipeline judge (pure: see ``make_plan``)."""

    events: list[dict[str, Any]]
    end_ms: int
    counts: Counter[str]  # events per source
    judged: list[int]  # hour starts, ascending
    expected: list[Flag]  # what the pipeline should record on those hours
    incident: str | None = None  # what was injected, if anything
    history_hours: int = 0

    @property
    def first_ms(self) -> int:
        return min(int(e["timestamp"]) for e in self.events) if self.events else self.end_ms


def read_sources(data: Path, prices: Prices) -> list[Call]:
    missing = [str(data / p) for p in (ACCESS_LOG, *LLM_TRACES) if not (data / p).exists()]
    if missing:
        raise ReplayError(f"data not found: {', '.join(missing)} (give the folder with --data)")
    calls = list(access_log(data / ACCESS_LOG))
    for trace in LLM_TRACES:
        calls += llm_trace(data / trace, prices)
    return calls


def make_plan(calls: Sequence[Call], end_ms: int, options: Options) -> Plan:
    placed = timeline.place(calls, end_ms, {"access-log": options.stretch})
    every = {c.source: options.llm_every for c in calls if c.source.startswith("llm-")}
    events = timeline.select(calls, placed, every, options.limit)
    source_of = {str(c.fields["event_id"]): c.source for c in calls}
    counts = Counter(source_of[str(e["event_id"])] for e in events)
    before = end_ms - end_ms % HOUR_MS  # only whole hours are judged
    figures = timeline.hours(events)
    flags = timeline.screen(figures, before)
    incident = None
    if not flags and events:
        burst, incident = _incident(events, before)
        with_burst = timeline.hours([*events, *burst])
        if burst and timeline.judge(with_burst, [burst[0]["timestamp"] // HOUR_MS * HOUR_MS]):
            events = sorted([*events, *burst], key=lambda e: int(e["timestamp"]))
            counts["synthetic-incident"] = len(burst)
            figures, flags = with_burst, timeline.screen(with_burst, before)
        else:
            incident = None
    judged = sorted({f.hour_ms for f in flags})[: options.judge_hours]
    expected = timeline.judge(figures, judged)
    history = (before - min(figures)) // HOUR_MS if figures else 0
    return Plan(events, end_ms, counts, judged, expected, incident, max(0, history))


def _incident(events: Sequence[dict[str, Any]], before_ms: int) -> tuple[list[dict[str, Any]], str]:
    """A 20-minute burst of 503s on the busiest endpoint of the last day, two hours before the end."""
    recent = Counter(str(e["endpoint"]) for e in events if int(e["timestamp"]) >= before_ms - 24 * HOUR_MS)
    if not recent:
        return [], ""
    endpoint = recent.most_common(1)[0][0]
    start = before_ms - 2 * HOUR_MS + 20 * 60_000
    burst = timeline.incident(endpoint, start, INCIDENT_MINUTES, INCIDENT_PER_MINUTE)
    when = datetime.fromtimestamp(start / 1000, UTC).strftime("%Y-%m-%d %H:%M")
    return burst, f"{len(burst)} calls answering 503 on {endpoint}, {when} UTC for {INCIDENT_MINUTES} minutes"


# the timeline's anchor, kept so that a rerun sends the same events


def anchor(state_dir: Path, project_id: str, options: Options, now_ms: int) -> int:
    """Where the replay ends: the start of the current hour at a project's first replay (every
    replayed hour is then over, and can be judged), then the same instant every time."""
    path = state_dir / ANCHOR_FILE
    settings = {"stretch": options.stretch, "prices": asdict(options.prices)}
    if path.exists():
        kept = json.loads(path.read_text())
        if kept.get("project_id") == project_id:
            if kept.get("settings") != settings:
                raise ReplayError(
                    f"this project was replayed with {kept.get('settings')}; the same calls with other "
                    f"timestamps or prices would conflict with those already sent (make dev-reset starts afresh)"
                )
            return int(kept["end_ms"])
    end_ms = now_ms - now_ms % HOUR_MS
    document = {"project_id": project_id, "end_ms": end_ms, "end": _iso(end_ms), "settings": settings}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return end_ms


def _iso(ms: int, unit: str = "minutes") -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec=unit).replace("+00:00", "Z")


def _hour(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H")


# the run


@dataclass
class Report:
    plan: Plan
    sent: Sent
    baseline: int
    counted: int
    latency: Latency  # of the summary while replaying
    idle_latency: Latency  # of the same summary before
    judged: list[dict[str, Any]]
    forecast: dict[str, Any]
    anomalies: list[dict[str, Any]]
    seconds: float
    notes: list[str] = field(default_factory=list)


def replay(options: Options, out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> Report:
    started = time.monotonic()
    found = demo.load(options.state_dir / "demo.json")
    if found is None:
        raise ReplayError(f"no demo project in {options.state_dir / 'demo.json'}: start the stack with make dev first")
    stack = Stack(options.url.rstrip("/"), found["api_key"], found["project_id"])
    if not stack.healthy():
        raise ReplayError(f"no offline stack answers at {stack.base_url}: start it with make dev (another terminal)")
    try:
        project = stack.project()
    except StackError as error:
        raise ReplayError(f"the demo key was refused ({error}): is {options.state_dir} the running stack's?") from None
    end_ms = anchor(options.state_dir, stack.project_id, options, int(time.time() * 1000))
    plan = make_plan(read_sources(options.data, options.prices), end_ms, options)
    if not plan.events:
        raise ReplayError("nothing to send")
    window = (plan.first_ms - plan.first_ms % HOUR_MS, end_ms - end_ms % HOUR_MS + HOUR_MS)
    retention = int(project.get("retention_days", 30))
    if plan.first_ms < time.time() * 1000 - retention * 86_400_000 + HOUR_MS:
        raise ReplayError(f"this project's replay (ending {_iso(end_ms)}) is older than its retention of "
                          f"{retention} days: make dev-reset, make dev, then make demo for a fresh one")  # fmt: skip
    _print_plan(plan, project, stack, out)

    watch = SummaryWatch(stack, *window, every=options.watch_every)
    baseline = int(watch.read().get("requests", -1))
    if baseline < 0:
        raise ReplayError("the summary of the demo project cannot be read")
    idle = Latency.of(watch.seconds)
    watch.seconds.clear()
    watch.start()
    try:
        rounds = timeline.rounds(plan.events, options.round_size)
        sent = send(rounds, stack, batch_size=options.batch_size, progress=Progress(len(plan.events), "events", err))
    finally:
        watch.stop()
    if sent.stopped:
        raise ReplayError(f"sending stopped: {sent.stopped}")
    latency = watch.latency()
    counted = int(watch.read().get("requests", 0))
    report = Report(plan, sent, baseline, counted, latency, idle, [], {}, [], 0.0)
    if plan.judged:
        report.judged = _judge(stack, options, plan, report, out)
    report.forecast = stack.make_forecast()
    report.anomalies = [a for a in stack.anomalies("30d") if window[0] <= _ms(a["hour"]) < window[1]]
    report.seconds = time.monotonic() - started
    _print_report(report, stack, out)
    return report


def _ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def _judge(stack: Stack, options: Options, plan: Plan, report: Report, out: TextIO) -> list[dict[str, Any]]:
    endpoints_file = options.state_dir / "endpoints.json"
    endpoints = json.loads(endpoints_file.read_text()) if endpoints_file.exists() else {}
    if endpoints.get("API_URL", "").rstrip("/") == stack.base_url:
        forgotten = forget_detectors(endpoints, stack.project_id)
        if forgotten:
            why = "a detector skips hours before the last it judged"
            report.notes.append(f"forgot the project's {forgotten} saved anomaly detectors first ({why}), so the "
                                "pipeline learned the replayed week")  # fmt: skip
    else:
        report.notes.append(f"could not reach the stack's store ({endpoints_file} names another stack): anomaly "
                            f"detectors that judged this project before keep their state")  # fmt: skip
    runs = []
    print(f"hourly pipeline, for the {len(plan.judged)} hours the detector flags (oldest first):", file=out, flush=True)
    for hour_ms in plan.judged:
        started = time.monotonic()
        try:
            result = stack.run_schedule("HourlyPipeline", {"hour": _hour(hour_ms)})
        except StackError as error:
            result = {"status": "FAILED", "error": str(error)}
        status = result.get("status", "?")
        print(f"  {_hour(hour_ms)}  {status}  {time.monotonic() - started:.0f} s", file=out, flush=True)
        runs.append({"hour": _hour(hour_ms), "status": status, "seconds": round(time.monotonic() - started, 1)})
    return runs


# the printout


def _print_plan(plan: Plan, project: dict[str, Any], stack: Stack, out: TextIO) -> None:
    days = (plan.end_ms - plan.first_ms) / 86_400_000
    print(f"replaying {len(plan.events):,} calls into project {project.get('name')} ({stack.project_id}) at "
          f"{stack.base_url}: {_iso(plan.first_ms)} .. {_iso(plan.end_ms)} ({days:.1f} days)", file=out)  # fmt: skip
    for source, count in sorted(plan.counts.items()):
        print(f"  {source:<20} {count:>7,}", file=out)
    if plan.incident:
        print(f"  the real data holds no anomaly the detector can see: adding a SYNTHETIC incident: {plan.incident}",
              file=out)  # fmt: skip
    out.flush()


def _print_report(report: Report, stack: Stack, out: TextIO) -> None:
    plan, sent = report.plan, report.sent
    rate = sent.settled / sent.seconds if sent.seconds else 0.0
    lines = [
        "",
        f"sent {sent.settled:,} events in {duration(sent.seconds)} ({rate:,.0f} events/s): accepted {sent.accepted:,}, "
        f"duplicates {sent.duplicates:,} (sent before), rejected {sent.rejected:,}, dropped {sent.dropped:,}",
    ]
    lines.append(
        f"  in rounds of whole hours, each counted by the stack and then finalized: {sent.finalized_hours} "
        f"hours finalized" + (f"; {sent.uncounted:,} events not counted in time" if sent.uncounted else "")
    )
    for code, count in sent.refused.items():
        lines.append(f"  refused {count:,} x {code}: {sent.examples.get(code, '')}")
    if sent.refused["CONFLICT"]:
        lines.append("  (a conflict is an event id sent before with another payload: make dev-reset starts afresh)")
    counted = report.counted - report.baseline
    check = "all counted" if counted >= sent.accepted else f"MISSING {sent.accepted - counted:,}"
    lines += [
        f"per source: {', '.join(f'{s} {c:,}' for s, c in sorted(plan.counts.items()))}",
        f"time range: {_iso(plan.first_ms)} .. {_iso(plan.end_ms)}",
        f"summary of that range: {report.counted:,} requests ({counted:,} new, {check})",
        f"summary of that range, time to answer: {report.latency} while replaying; {report.idle_latency.max:.2f} s "
        f"before",
    ]
    forecast = report.forecast
    if forecast.get("status") == "ready":
        month = forecast.get("month_end", {})
        cost = month.get("cost", {}).get("value")
        lines.append(f"forecast: ready as of {forecast.get('as_of')}, from {forecast.get('history_hours')} hours; "
                     f"month end {month.get('month')}: {month.get('requests', {}).get('value', 0):,.0f} requests, "
                     f"{forecast.get('currency', '')} {cost or 0:,.2f}")  # fmt: skip
    else:
        lines.append(f"forecast: {forecast.get('status')} (it needs a day of traffic)")
    if report.judged:
        failed = ", ".join(r["hour"] for r in report.judged if r["status"] != "SUCCEEDED")
        lines.append(f"pipeline judged {len(report.judged)} hours" + (f"; FAILED: {failed}" if failed else ""))
    elif not plan.expected:
        days = RANGE_DAYS / 2
        lines.append(f"pipeline not run: no hour to judge (the detector needs {days:g} days of hours before it "
                     f"flags one; this replay has {plan.history_hours} hours)")  # fmt: skip
    lines.append(f"anomalies recorded in that range: {len(report.anomalies)}")
    for found in sorted(report.anomalies, key=lambda a: (a["hour"], a["metric"])):
        metric = found["metric"]
        observed, expected = _figure(metric, found["observed"]), _figure(metric, found["expected"])
        lines.append(f"  {found['hour']}  {found['dimension']} {found.get('value') or ''}  {metric} {observed} "
                     f"(expected {expected})  {found.get('direction') or ''} {found['severity']}")  # fmt: skip
    if plan.incident:
        lines.append(f"SYNTHETIC incident added (consumer synthetic-incident): {plan.incident}")
    lines += [f"note: {note}" for note in report.notes]
    lines += [
        "synthetic fields: latency_ms of every call (the sources record none); LLM costs are the trace's tokens at "
        "the stated prices",
        f"done in {duration(report.seconds)}. Dashboard: {stack.base_url}/",
    ]
    print("\n".join(lines), file=out, flush=True)


def _figure(metric: str, value: float) -> str:
    if metric == "error_rate":
        return f"{value:.1%}"
    if metric == "latency_p95":
        return f"{value:,.0f} ms"
    return f"{value:,.0f}"
