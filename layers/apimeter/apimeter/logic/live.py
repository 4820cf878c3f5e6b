"""The live WebSocket API: who may connect, what they subscribe to, and what they are pushed.

A connection is authorized once, at ``$connect`` (the gateway's REQUEST authorizer); its principal
is kept with it, and every subscription is checked against that principal exactly as the HTTP API
checks a read of the project: a project of another tenant, or of another key, is NOT_FOUND.

Pushes never fail the work that caused them: the figures are already counted, the alert and the
anomaly already recorded. A push that fails is logged and dropped (a client that reconnects reads
the HTTP API to catch up), and a connection the gateway no longer knows is forgotten.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from apimeter.dal import connections, entities, rollups, sockets
from apimeter.domain import live
from apimeter.domain.events import TrackedEvent
from apimeter.domain.permissions import Action, allowed
from apimeter.domain.principal import Principal
from apimeter.domain.rollups import PROJECT_TOTAL, RollupKey, merge
from apimeter.domain.windows import bucket_key, bucket_start
from apimeter.errors import ApimeterError, AuthenticationFailed
from apimeter.logic import projects
from apimeter.observability import logger

READ: Action = "analytics.read"


def _now_ms() -> int:
    return int(time.time() * 1000)


# connections and subscriptions


def require_reader(principal: Principal) -> None:
    """Only credentials that may read analytics open a live connection."""
    if principal.kind == "api_key" and "read" not in principal.scopes:
        raise AuthenticationFailed("this token lacks the 'read' scope")
    if principal.kind == "user" and not allowed(principal.role, READ):
        raise AuthenticationFailed(f"the {principal.role} role may not read analytics")


def connect(principal: Principal, connection_id: str) -> None:
    now = _now_ms()
    connections.open_connection(connection_id, principal.to_context(), now, now // 1000 + live.CONNECTION_SECONDS)


def disconnect(connection_id: str) -> int:
    return connections.close_connection(connection_id)


def _connection(connection_id: str) -> connections.Connection:
    found = connections.get_connection(connection_id)
    if found is None:
        raise AuthenticationFailed("this connection has expired; connect again")
    return found


def subscribe(connection_id: str, project_id: str) -> dict[str, Any]:
    """The answer to a subscription: ``subscribed``, or an ``error`` and nothing delivered."""
    try:
        connection = _connection(connection_id)
        projects.get(Principal.from_context(connection.principal), project_id, READ)
        if not connections.add_subscription(connection, project_id, live.MAX_SUBSCRIPTIONS):
            return live.error_message(
                "VALIDATION_ERROR", f"a connection watches at most {live.MAX_SUBSCRIPTIONS} projects", project_id
            )
    except ApimeterError as exc:
        return live.error_message(exc.code, exc.message, project_id)
    return {"type": "subscribed", "project_id": project_id}


def unsubscribe(connection_id: str, project_id: str) -> dict[str, Any]:
    connections.remove_subscription(connection_id, project_id)
    return {"type": "unsubscribed", "project_id": project_id}


# pushes


@dataclass(frozen=True, slots=True)
class Pushed:
    messages: int = 0  # messages delivered to sockets
    gone: int = 0  # connections found closed, and forgotten

    def __add__(self, other: Pushed) -> Pushed:
        return Pushed(self.messages + other.messages, self.gone + other.gone)


@lru_cache(maxsize=1)
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=16, thread_name_prefix="live-projects")


def _send(watchers: Sequence[str], message: dict[str, Any]) -> Pushed:
    if not watchers:
        return Pushed()
    delivery = sockets.post(watchers, live.encode(message))
    for connection_id in delivery.gone:
        connections.close_connection(connection_id)
    return Pushed(delivery.sent, len(delivery.gone))


def publish_minutes(events: Iterable[TrackedEvent]) -> Pushed:
    """After a stream batch is applied: each touched project's latest minute, to its subscribers."""
    touched: dict[str, set[str]] = {}
    for event in events:
        touched.setdefault(event.project_id, set()).add(bucket_key(bucket_start(event.ts_ms, "minute"), "minute"))
    if not touched:
        return Pushed()
    outcomes = list(_pool().map(lambda item: _publish_minutes_of(*item), touched.items()))
    return sum(outcomes, Pushed())


def _publish_minutes_of(project_id: str, minutes: set[str]) -> Pushed:
    try:
        watchers = connections.subscribers(project_id)
        if not watchers:
            return Pushed()
        seen = connections.note_minutes(project_id, minutes)
        slot = live.slot_to_claim(seen, _now_ms())
        if slot is None or not connections.claim_slot(project_id, seen, slot):
            return Pushed()  # the push already claimed reads these figures after they were written
        wait = (slot - _now_ms()) / 1000
        if wait > 0:
            time.sleep(wait)
            watchers = connections.subscribers(project_id)
        taken = connections.take_minutes(project_id)
        if not taken:
            return Pushed()
        minute = max(taken)  # live means now: a late event's older minute is left to the HTTP API
        found = rollups.bucket(RollupKey(project_id, "minute", PROJECT_TOTAL, minute))
        if found is None:
            return Pushed()
        return _send(watchers, live.minute_message(project_id, minute, merge([found])))
    except Exception:
        logger.exception("live figures not pushed", extra={"project_id": project_id})
        return Pushed()


def publish_alert(tenant_id: str, alert: dict[str, Any]) -> Pushed:
    """A budget alert as it fires: to the subscribers of its project, or, for a tenant-wide budget,
    to every connection subscribed to any project of the tenant (once each)."""
    try:
        project_id = alert.get("project_id")
        scope = [project_id] if project_id else [p.id for p in entities.projects.list_projects(tenant_id)]
        watchers = list(dict.fromkeys(c for p in scope for c in connections.subscribers(str(p))))
        return _send(watchers, live.alert_message(alert))
    except Exception:
        logger.exception("live alert not pushed", extra={"alert_id": alert.get("id")})
        return Pushed()


def publish_anomaly(project_id: str, anomaly: dict[str, Any]) -> Pushed:
    try:
        return _send(connections.subscribers(project_id), live.anomaly_message(project_id, anomaly))
    except Exception:
        logger.exception("live anomaly not pushed", extra={"anomaly_id": anomaly.get("id")})
        return Pushed()
