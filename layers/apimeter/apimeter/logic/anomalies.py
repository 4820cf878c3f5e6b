"""Anomalies in a project's finished hours: request rate, error rate and p95 latency of the project,
of its busiest endpoints and of its busiest consumers.

Each series has its own streaming detector (domain/anomaly.py); the hourly pipeline feeds it the
hour that just finished and saves what it learned. A detector that has seen an hour ignores it the
second time, and an anomaly is one conditional write under an id made of the series, the metric and
the hour, so re-running an hour finds nothing new. New anomalies also go to the alerts bus.

Feedback steers the detectors: "false" makes that series' detector less sensitive, "real" and
"planned" take the hour out of the baseline that the same hour next week is judged against.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from apimeter.dal import notifications, rollups
from apimeter.domain import anomaly
from apimeter.domain.anomaly import METRICS, Detector, Verdict
from apimeter.domain.principal import Principal
from apimeter.domain.rollups import CONSUMER, ENDPOINT, PROJECT_TOTAL, RollupKey, Totals
from apimeter.domain.windows import WINDOWS_MS, Run, bucket_key, bucket_ms, iso, now_iso
from apimeter.errors import NotFound, ValidationFailed
from apimeter.logic import live, projects
from apimeter.observability import logger

HOUR_MS = 3_600_000
BUSIEST = 10  # endpoints and consumers whose series are watched, by requests in the hour
TRACKED = 3 * BUSIEST  # series kept per dimension: once busy, a value stays watched (its silence is news)
HISTORY_DAYS = 21  # what a project's first judgement learns from: three weeks of its hours
MIN_REQUESTS = 20  # below this an hour's error rate and p95 are noise, not a signal
DIMENSION_NAMES = {PROJECT_TOTAL: "project", ENDPOINT: "endpoint", CONSUMER: "consumer"}


@dataclass(frozen=True, slots=True)
class Detected:
    series: int
    anomalies: int


def detect(project_id: str, hour_start_ms: int) -> Detected:
    """Judge one finished hour of a project's series; returns how many series and anomalies."""
    hour = bucket_key(hour_start_ms, "hour")
    figures = _figures(project_id, hour)
    saved = rollups.detector_states(project_id)
    watched = _watched(figures, saved)
    states: dict[tuple[str, str], dict[str, Any]] = {}
    found = 0
    for series in watched:
        detectors = {m: Detector.restore(s) for m, s in saved.get(series, {}).items()}
        if not detectors and series == (PROJECT_TOTAL, ""):
            detectors = _learned_from_history(project_id, hour_start_ms)
        totals = figures.get(series, Totals())
        for metric in METRICS:
            detector = detectors.setdefault(metric, Detector(3600))
            value = _value(totals, metric)
            if value is None or (detector.last is not None and detector.last >= hour_start_ms // HOUR_MS):
                continue  # no signal this hour, or judged already
            verdict = detector.update(hour_start_ms / 1000, value)
            if verdict.severity and _keep(project_id, hour, series, metric, value, verdict):
                found += 1
        states[series] = {m: d.state() for m, d in detectors.items()}
    rollups.save_detector_states(project_id, states)
    return Detected(len(watched), found)


def _learned_from_history(project_id: str, hour_start_ms: int) -> dict[str, Detector]:
    """Detectors for a project's own series that have already learned the hours before
    ``hour_start_ms`` (up to ``HISTORY_DAYS``): a project judged for the first time (new to the
    pipeline, or backfilled) is judged against its past from its first run, at the price of one read
    of its hour totals."""
    first = hour_start_ms - HISTORY_DAYS * 24 * HOUR_MS
    hours = rollups.hourly(project_id, first, hour_start_ms)
    detectors = {metric: Detector(3600) for metric in METRICS}
    start = next((i for i, item in enumerate(hours) if item), len(hours))  # from the project's first hour
    for index in range(start, len(hours)):
        totals = _totals(hours[index])
        for metric, detector in detectors.items():
            value = _value(totals, metric)
            if value is not None:
                detector.update((first + index * HOUR_MS) / 1000, value)
    return detectors


def _figures(project_id: str, hour: str) -> dict[tuple[str, str], Totals]:
    """The hour's totals of the project and of each endpoint and consumer in it."""
    figures: dict[tuple[str, str], Totals] = {}
    for item in rollups.get_many([RollupKey(project_id, "hour", PROJECT_TOTAL, hour)]).items:
        figures[(PROJECT_TOTAL, "")] = _totals(item)
    one = Run("hour", hour, hour, 1)
    for dimension in (ENDPOINT, CONSUMER):
        for item in rollups.read_runs(project_id, [one], dimension).items:
            figures[(dimension, rollups.value_of(item)[1])] = _totals(item)
    return figures


def _totals(item: dict[str, Any]) -> Totals:
    totals = Totals()
    totals.add_item(item)
    return totals


def _watched(figures: dict[tuple[str, str], Totals], saved: dict[tuple[str, str], Any]) -> list[tuple[str, str]]:
    """The project's series, the busiest endpoints and consumers of the hour, and those watched
    before (up to ``TRACKED`` per dimension, the busiest first)."""
    chosen = [(PROJECT_TOTAL, "")]
    for dimension in (ENDPOINT, CONSUMER):
        busy = sorted((k for k in figures if k[0] == dimension), key=lambda k: -figures[k].requests)
        known = [k for k in saved if k[0] == dimension and k not in busy[:BUSIEST]]
        chosen += (busy[:BUSIEST] + known)[:TRACKED]
    return chosen


def _value(totals: Totals, metric: str) -> float | None:
    if metric == "requests":
        return float(totals.requests)
    if totals.requests < MIN_REQUESTS:
        return None
    if metric == "error_rate":
        return totals.error_rate
    return totals.latency().get("p95")


def _keep(project_id: str, hour: str, series: tuple[str, str], metric: str, value: float, verdict: Verdict) -> bool:
    dimension, name = series
    anomaly_id = anomaly.anomaly_id(hour, dimension, name, metric)
    record = {
        "id": anomaly_id,
        "hour": iso(bucket_ms(hour, "hour")),
        "dimension": DIMENSION_NAMES[dimension],
        "value": name or None,
        "metric": metric,
        "observed": round(value, 6),
        "expected": round(verdict.expected, 6),
        "lower": round(verdict.lower, 6),
        "upper": round(verdict.upper, 6),
        "direction": verdict.direction,
        "severity": verdict.severity,
        "score": round(verdict.score, 4),
        "detected_at": now_iso(),
    }
    if not rollups.record_anomaly(project_id, hour, anomaly_id, record):
        return False
    try:
        notifications.put_event(
            "Anomaly detected", {"type": "anomaly.detected", "project_id": project_id, **record}, []
        )
    except Exception:  # the record is kept and listed; the event is a courtesy that may be lost
        logger.exception("anomaly event not sent", extra={"anomaly_id": anomaly_id})
    live.publish_anomaly(project_id, record)
    return True


# over the API


def recent(principal: Principal, project_id: str, window: str = "7d") -> list[dict[str, Any]]:
    projects.get(principal, project_id, "analytics.read")
    if window not in WINDOWS_MS:
        raise ValidationFailed(f"window must be one of {', '.join(WINDOWS_MS)}")
    now = int(time.time() * 1000)
    first = bucket_key(now - WINDOWS_MS[window], "hour")
    return rollups.anomalies_between(project_id, first, bucket_key(now, "hour"))


def give_feedback(principal: Principal, project_id: str, anomaly_id: str, feedback: str) -> dict[str, Any]:
    """Record a user's verdict on an anomaly and teach the series' detector from it."""
    principal.require("projects.manage")  # people judge anomalies; API keys only read them
    projects.get(principal, project_id)
    hour = anomaly.hour_of(anomaly_id)
    found = rollups.anomaly(project_id, hour, anomaly_id) if hour else None
    if found is None or hour is None:
        raise NotFound("anomaly not found")
    rollups.set_feedback(project_id, hour, anomaly_id, feedback, now_iso())
    dimension = next(d for d, name in DIMENSION_NAMES.items() if name == found["dimension"])
    series = (dimension, found.get("value") or "")
    saved = rollups.detector_states(project_id).get(series)
    if saved and found["metric"] in saved:
        detector = Detector.restore(saved[found["metric"]])
        anomaly.after_feedback(detector, feedback, bucket_ms(hour, "hour") / 1000, found["observed"], found["expected"])
        rollups.save_detector_states(project_id, {series: saved | {found["metric"]: detector.state()}})
    return found | {"feedback": feedback}
