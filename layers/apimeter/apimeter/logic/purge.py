"""Deleting a project: refused at once, its data removed asynchronously.

``DELETE /v1/projects/{id}`` marks the project ``deleting`` (its keys stop working, it leaves every
listing) and queues a purge. The purge function deletes the raw events (day by day through the
events table's write shards, over the retention window; then the first receipts of untimed ones),
the rollups, the export files, the keys and counters, and last the project itself. It is idempotent
and resumable: when its time runs short it queues itself again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

from apimeter.dal import entities, events, files, queues, rollups
from apimeter.dal.dynamo import Item
from apimeter.domain.principal import Principal
from apimeter.domain.windows import now_iso
from apimeter.logic import rollup
from apimeter.settings import settings

SAFETY_SECONDS = 20.0


def request(principal: Principal, project_id: str) -> None:
    principal.require("projects.manage")
    entities.projects.get_project(principal.tenant_id, project_id)
    entities.projects.mark_project_deleting(principal.tenant_id, project_id, now_iso())
    queues.request_purge(principal.tenant_id, project_id)


def _days(retention_days: int) -> list[str]:
    """Every day that can hold one of the project's events: the retention window and tomorrow."""
    today = datetime.now(UTC).date()
    return [(today - timedelta(days=n)).isoformat() for n in range(-1, retention_days + 2)]


def purge(tenant_id: str, project_id: str, seconds_left: Callable[[], float]) -> bool:
    """Delete what is left of a deleting project; ``True`` when nothing is left."""
    project = entities.projects.find_project(tenant_id, project_id)
    if project is None:
        return True  # already purged
    if project.status != "deleting":
        return True  # not being deleted (or restored): leave it alone
    config = settings()
    retention = max(project.retention_days, config.default_retention_days)
    shards = rollup.event_shards(project_id, 2**62)  # every shard any event was ever written to
    for day in _days(retention):
        if not _emptied(partial(events.keys_of_day, project_id, day, shards), events.delete, seconds_left):
            return False
    if not _emptied(partial(events.receipt_keys, project_id, config.event_shards), events.delete_receipts,
                    seconds_left):  # fmt: skip
        return False
    for pk in rollups.partitions_of(project_id):
        while rollups.delete_partition(pk):
            if seconds_left() < SAFETY_SECONDS:
                return False
    rollups.delete_pending_of(project_id, _days(7))  # markers live a week (TTL)
    files.delete_prefix(f"exports/{tenant_id}/{project_id}/")
    entities.projects.purge_project_entities(tenant_id, project_id)
    return True


def _emptied(
    find: Callable[[], list[Item]], delete: Callable[[list[Item]], int], seconds_left: Callable[[], float]
) -> bool:
    """Deletes what ``find`` finds until it finds nothing (True) or time runs short (False)."""
    while keys := find():
        delete(keys)
        if seconds_left() < SAFETY_SECONDS:
            return False
    return True


def resume(tenant_id: str, project_id: str) -> None:
    queues.request_purge(tenant_id, project_id)
