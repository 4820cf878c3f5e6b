"""Budget alerts: each fires once per threshold and period, then reaches every channel of its budget.

Firing is one conditional put of the alert under its deterministic id (domain/budgets/alerts.alert_id):
the stream, the hourly pipeline, a retried batch or two concurrent evaluators may all find the
same threshold crossed, and only the first write fires. The alert is written with the channels it
still owes a delivery to and an outbox entry; each delivery is made at once and marked done, and
whatever failed is retried by the pipeline's notifications step until it succeeds, for up to three
days (then the delivery is marked dropped). Deliveries are therefore at least once while a receiver
is reachable, each carrying the alert's id so that receivers can ignore a repeat. A webhook whose
host resolves to a private or otherwise internal address is refused for good, with the reason kept in
the alert's history: retrying would only knock on the same door.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from apimeter.dal import entities, notifications
from apimeter.domain import webhooks
from apimeter.domain.budgets.alerts import Alert, payload
from apimeter.domain.budgets.holds import hold_of
from apimeter.domain.budgets.rules import Budget
from apimeter.domain.windows import now_iso, parse_instant
from apimeter.errors import NotFound
from apimeter.logic import live
from apimeter.observability import logger

GIVE_UP_MS = 3 * 86_400_000  # a delivery still failing this long after the alert fired is dropped
REFUSED = "refused: "  # how a refused delivery is recorded, its reason after the prefix
SNS = "sns"
EVENTBRIDGE = "eventbridge"
_WEBHOOK = "webhook"


def channels_of(budget: Budget) -> list[str]:
    found = [name for name, on in ((SNS, budget.channels.sns), (EVENTBRIDGE, budget.channels.eventbridge)) if on]
    return found + [f"{_WEBHOOK}{i}" for i in range(len(budget.channels.webhooks))]


def fire(budget: Budget, alerts: Sequence[Alert]) -> list[Alert]:
    """Put the budget's hold on its keys if the thresholds in ``alerts`` call for one, then keep and
    deliver the alerts that have not fired before; returns those."""
    hold = hold_of(budget, alerts)  # from every threshold crossed, so a hold once missed is set again
    if hold is not None:
        entities.holds.set_hold(budget.tenant_id, budget.project_id, budget.id, hold)
    fired = []
    for alert in alerts:
        if entities.alerts.record_alert(budget.tenant_id, alert.id, payload(alert), channels_of(budget)):
            logger.info("budget alert fired", extra={"alert_id": alert.id, "budget_id": budget.id})
            fired.append(alert)
            deliver(budget.tenant_id, alert.id, budget)
            live.publish_alert(budget.tenant_id, payload(alert))
    return fired


def deliver(tenant_id: str, alert_id: str, budget: Budget | None = None) -> list[str]:
    """Make an alert's outstanding deliveries; returns the channels still owed one."""
    found = entities.alerts.pending_alert(tenant_id, alert_id)
    if found is None:  # deleted with its budget or project
        entities.alerts.drop_outbox(tenant_id, alert_id)
        return []
    body, pending = found.body, found.pending
    if budget is None:
        try:
            budget = entities.budgets.get_budget(tenant_id, str(body["budget_id"]))
        except NotFound:
            budget = None  # deleted since: its channels are gone with it
    fired_at = parse_instant(str(body["fired_at"]), "fired_at") or 0
    stale = fired_at < time.time() * 1000 - GIVE_UP_MS
    still: list[str] = []
    for channel in pending:
        try:
            if budget is not None:
                _send(channel, body, budget)
            entities.alerts.delivered(tenant_id, alert_id, channel, now_iso() if budget else "dropped")
        except webhooks.Refused as exc:
            reason = str(exc)
            logger.warning("alert delivery refused", extra={"alert_id": alert_id, "channel": channel, "error": reason})
            entities.alerts.delivered(tenant_id, alert_id, channel, REFUSED + reason)
        except Exception as exc:  # any channel may fail; the others still go, this one is retried
            logger.warning(
                "alert delivery failed", extra={"alert_id": alert_id, "channel": channel, "error": repr(exc)}
            )
            if stale:  # days of failures: the receiver is gone, and the alert is history by now
                entities.alerts.delivered(tenant_id, alert_id, channel, "dropped")
            else:
                still.append(channel)
    return still


def _send(channel: str, body: dict[str, Any], budget: Budget) -> None:
    if channel == SNS:
        attributes = {"type": str(body["type"]), "project_id": str(body.get("project_id") or ""),
                      "budget_id": budget.id}  # fmt: skip
        notifications.publish(str(body["message"]), body, attributes)
    elif channel == EVENTBRIDGE:
        notifications.put_event("Budget alert", body, [])
    elif channel.startswith(_WEBHOOK):
        index = int(channel.removeprefix(_WEBHOOK))
        if index >= len(budget.channels.webhooks):
            return  # the budget lost this webhook since the alert fired
        hook = budget.channels.webhooks[index]
        raw = webhooks.encode(body)
        notifications.post(hook.url, raw, webhooks.headers(hook.secret, raw, int(time.time())))
    else:
        raise ValueError(f"unknown channel {channel!r}")


@dataclass(frozen=True, slots=True)
class Flushed:
    alerts: int
    undelivered: int  # channels still owed a delivery after this pass


def flush(seconds: float = 240.0) -> Flushed:
    """Retry outstanding deliveries for up to ``seconds`` (the pipeline's notifications step has
    300): what is left waits for the next run, counted as undelivered."""
    owed = entities.alerts.outbox()
    deadline = time.monotonic() + seconds
    undelivered = 0
    for index, (tenant_id, alert_id) in enumerate(owed):
        if time.monotonic() > deadline:
            undelivered += len(owed) - index
            break
        undelivered += len(deliver(tenant_id, alert_id))
    return Flushed(len(owed), undelivered)
