"""Exports of raw events: requested over the API, written to S3 by a queue-driven job.

The job streams the range oldest first and uploads the file in parts of ``PART_BYTES``; after each
part it records a checkpoint (the upload, how many parts, the last event written), so when its time
runs short it queues itself again and the next invocation resumes there. A file of any size is
therefore written with bounded memory and no single invocation's time limit. A small file is one
PutObject. ``GET`` hands out a presigned link once the file is ready.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from apimeter.dal import entities, events, files, queues
from apimeter.domain import exports
from apimeter.domain.exports import CONTENT_TYPES, FILE_DAYS, PART_BYTES, Export, ExportRequest
from apimeter.domain.ids import new_id
from apimeter.domain.principal import Principal
from apimeter.domain.windows import fit, now_iso, parse_instant
from apimeter.errors import NotFound
from apimeter.logic import projects, rollup
from apimeter.observability import logger

SAFETY_SECONDS = 60.0
LINK_SECONDS = 3600
MAX_ATTEMPTS = 3  # the export queue's maxReceiveCount: the last attempt marks the export failed


def create(principal: Principal, project_id: str, request: ExportRequest) -> Export:
    """Validate and queue an export of ``[from, to)``; its events are read when the job runs."""
    projects.get(principal, project_id, "analytics.read")
    end = parse_instant(request.end, "to") or 0
    asked = fit(parse_instant(request.start, "from"), end, default_end=end, default_ms=0,
                max_ms=exports.MAX_RANGE_DAYS * 86_400_000)  # fmt: skip
    start, end = asked.start_ms, asked.end_ms  # the export says the range it covers
    filters = dict(request.filters)
    if "method" in filters:
        filters["method"] = str(filters["method"]).upper()
    export = Export(
        id=new_id("exp"),
        tenant_id=principal.tenant_id,
        project_id=project_id,
        start_ms=start,
        end_ms=end,
        format=request.format,
        filters=filters,
        status="queued",
        created_at=now_iso(),
    )
    entities.exports.create_export(export, expires_at=int(time.time()) + FILE_DAYS * 86_400)
    queues.request_export(principal.tenant_id, project_id, export.id)
    return export


def get(principal: Principal, project_id: str, export_id: str) -> tuple[Export, str | None]:
    """An export and, once it is ready, a download link valid for an hour."""
    projects.get(principal, project_id, "analytics.read")
    export = entities.exports.get_export(principal.tenant_id, project_id, export_id)
    return export, _link(export)


def list_recent(principal: Principal, project_id: str, limit: int) -> list[tuple[Export, str | None]]:
    """The newest exports, each with its download link once ready (signing one is local: no call)."""
    projects.get(principal, project_id, "analytics.read")
    return [(export, _link(export)) for export in entities.exports.list_exports(principal.tenant_id, project_id, limit)]


def _link(export: Export) -> str | None:
    return files.download_link(export.object_key, export.file_name, LINK_SECONDS) if export.status == "ready" else None


def run(tenant_id: str, project_id: str, export_id: str, seconds_left: Callable[[], float]) -> bool:
    """Write (or go on writing) an export's file; ``True`` when it is finished."""
    try:
        export = entities.exports.get_export(tenant_id, project_id, export_id)
    except NotFound:
        return True  # its project was deleted meanwhile: nothing to write
    if export.status in ("ready", "failed"):
        return True  # a redelivered message
    if export.status == "queued":
        entities.exports.update_export(export, {"status": "running"})
    buffer = bytearray(exports.header(export.format) if export.parts == 0 else b"")
    rows, written, parts, upload_id = export.rows, export.bytes, export.parts, export.upload_id
    pending_rows = 0
    stream = events.oldest_first(
        project_id,
        export.start_ms,
        export.end_ms,
        shards=rollup.event_shards(project_id, export.end_ms),
        filters=export.filters,
        after=export.cursor,
    )
    for position, event in stream:
        buffer += exports.line(event, export.format)
        pending_rows += 1
        if len(buffer) < PART_BYTES:
            continue
        if upload_id is None:
            upload_id = files.start_upload(export.object_key, CONTENT_TYPES[export.format])
        parts += 1
        files.upload_part(export.object_key, upload_id, parts, bytes(buffer))
        rows, written = rows + pending_rows, written + len(buffer)
        checkpoint = {"upload_id": upload_id, "parts": parts, "cursor": position, "rows": rows, "bytes": written}
        entities.exports.update_export(export, checkpoint)
        buffer.clear()
        pending_rows = 0
        if seconds_left() < SAFETY_SECONDS:
            return False  # resumed from the checkpoint by the next message
    if upload_id is None:
        files.put(export.object_key, bytes(buffer), CONTENT_TYPES[export.format])
    else:
        if buffer:
            files.upload_part(export.object_key, upload_id, parts + 1, bytes(buffer))
            parts += 1
        files.complete_upload(export.object_key, upload_id)
    done = {"status": "ready", "rows": rows + pending_rows, "bytes": written + len(buffer), "parts": parts,
            "finished_at": now_iso()}  # fmt: skip
    entities.exports.update_export(export, done)
    return True


def resume(tenant_id: str, project_id: str, export_id: str) -> None:
    queues.request_export(tenant_id, project_id, export_id)


def fail(tenant_id: str, project_id: str, export_id: str, reason: str) -> None:
    """Give up on an export after its last attempt, and drop its partial upload."""
    try:
        export = entities.exports.get_export(tenant_id, project_id, export_id)
    except NotFound:
        return  # its project was deleted meanwhile
    if export.upload_id:
        try:
            files.abort_upload(export.object_key, export.upload_id)
        except Exception:  # the bucket's lifecycle rule aborts it later anyway
            logger.exception("could not abort the partial upload")
    entities.exports.update_export(export, {"status": "failed", "error": reason, "finished_at": now_iso()})
