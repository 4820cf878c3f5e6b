"""Tracking: validate a request's events, write the new ones durably, answer what happened to each."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from apimeter.dal import entities, events, rollups
from apimeter.domain.events import IngestPolicy, Rejection, TrackedEvent, parse_body, screen
from apimeter.domain.principal import Principal
from apimeter.domain.shards import Schedule, grown, shards_at
from apimeter.logic import dimensions, limits
from apimeter.settings import settings

_POLICY_TTL_SECONDS = 60
_policies: dict[str, tuple[float, IngestPolicy, Schedule]] = {}


@dataclass(slots=True)
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def _policy(tenant_id: str, project_id: str) -> tuple[IngestPolicy, Schedule]:
    """Project settings change rarely: read once a minute per warm function, not per request (a
    change of retention, IP privacy or pricing applies within that minute), with the shard schedule
    of its events (whose steps take effect later than that minute: domain/shards.py)."""
    cached = _policies.get(project_id)
    now = time.monotonic()
    if cached and cached[0] > now:
        return cached[1], cached[2]
    project = entities.projects.get_project(tenant_id, project_id)
    policy = IngestPolicy(
        project.retention_days, settings().max_future_skew_seconds, project.ip_privacy, project.ip_salt, project.pricing
    )
    schedule = rollups.shard_schedule(project_id)
    _policies[project_id] = (now + _POLICY_TTL_SECONDS, policy, schedule)
    return policy, schedule


def _grow_shards(principal: Principal, project_id: str, schedule: Schedule, now_ms: int) -> None:
    """Spread the project's events over more write shards once it sends faster than they take."""
    rate = limits.project_rate(principal)
    config = settings()
    lead_ms = (_POLICY_TTL_SECONDS + config.max_future_skew_seconds + 60) * 1000
    step = None if rate is None else grown(schedule, config.event_shards, rate, now_ms, lead_ms)
    if step is not None:
        rollups.grow_shards(project_id, step)
        _policies.pop(project_id, None)  # read the new schedule on the next request


def track(principal: Principal, body: bytes | str) -> IngestResult:
    project_id = principal.require_key_scope("track")
    items, _ = parse_body(body)
    limits.charge(principal, len(items))  # a batch counts as its events
    policy, schedule = _policy(principal.tenant_id, project_id)
    now_ms = int(time.time() * 1000)
    screened = screen(project_id, items, policy, now_ms)
    result = IngestResult(duplicates=screened.duplicates, rejected=list(screened.rejected))
    unique = _timed(screened.unique, policy, result)
    if unique:
        limits.charge_events(principal, project_id, len(unique))
        dimensions.fold(project_id, [event for _, event in unique], limits.resolved(principal))
    config = settings()
    stored = [
        events.to_item(
            event,
            retention_days=policy.retention_days,
            shards=shards_at(schedule, event.ts_ms, config.event_shards),
            received_ms=now_ms,
            tenant_id=principal.tenant_id,
        )
        for _, event in unique
    ]
    for (index, event), outcome in zip(unique, events.put_new(stored), strict=True):
        if outcome == "accepted":
            result.accepted += 1
        elif outcome == "duplicate":
            result.duplicates += 1
        else:
            message = f"event_id {event.event_id!r} was already accepted with a different payload"
            result.rejected.append(Rejection(index, "CONFLICT", message))
    result.rejected.sort(key=lambda r: r.index)
    _grow_shards(principal, project_id, schedule, now_ms)
    return result


def _timed(
    unique: list[tuple[int, TrackedEvent]], policy: IngestPolicy, result: IngestResult
) -> list[tuple[int, TrackedEvent]]:
    """The events with their times: an event sent without a timestamp takes its first copy's
    (a resend of one whose first copy had another payload is a conflict)."""
    untimed = [(index, event) for index, event in unique if event.untimed]
    if not untimed:
        return unique
    first = events.first_received([event for _, event in untimed], policy.retention_days, settings().event_shards)
    times = dict(zip((index for index, _ in untimed), first, strict=True))
    timed = []
    for index, event in unique:
        if index not in times:
            timed.append((index, event))
        elif (ts_ms := times[index]) is None:
            message = f"event_id {event.event_id!r} was already accepted with a different payload"
            result.rejected.append(Rejection(index, "CONFLICT", message))
        else:
            event.ts_ms = ts_ms
            timed.append((index, event))
    return timed
