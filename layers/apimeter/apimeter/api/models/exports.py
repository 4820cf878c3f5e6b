"""Export models: what to export, and the export's progress and link."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from apimeter.api.models.common import INSTANT, JSON_INTEGER, Instant, _Input
from apimeter.domain.exports import Export
from apimeter.domain.windows import iso_ms


class ExportFiltersIn(_Input):
    endpoint: str | None = Field(None, max_length=512, description="Route template, e.g. /users/{id}")
    method: str | None = Field(None, max_length=16)
    status: Annotated[int, Field(ge=100, le=599), JSON_INTEGER] | None = None
    consumer: str | None = Field(None, max_length=256)


class ExportIn(_Input):
    start: Instant = Field(..., alias="from", description=f"{INSTANT} 400 days at most before 'to'.")
    end: Instant = Field(..., alias="to", description=f"Exclusive. {INSTANT}")
    format: Literal["csv", "jsonl"] = "csv"
    filters: ExportFiltersIn | None = None


class ExportOut(BaseModel):
    id: str
    status: Literal["queued", "running", "ready", "failed"]
    start: str = Field(..., alias="from")
    end: str = Field(..., alias="to")
    format: Literal["csv", "jsonl"]
    filters: dict[str, str | int]
    rows: int = Field(..., description="Events written so far.")
    bytes: int = Field(..., description="Bytes written so far.")
    created_at: str
    finished_at: str | None = None
    error: str | None = None
    download_url: str | None = Field(None, description="Presigned link, once ready; valid for an hour.")

    @classmethod
    def of(cls, export: Export, link: str | None = None) -> ExportOut:
        return cls.model_validate(
            {
                "id": export.id,
                "status": export.status,
                "from": iso_ms(export.start_ms),
                "to": iso_ms(export.end_ms),
                "format": export.format,
                "filters": export.filters,
                "rows": export.rows,
                "bytes": export.bytes,
                "created_at": export.created_at,
                "finished_at": export.finished_at,
                "error": export.error,
                "download_url": link,
            }
        )


class ExportListOut(BaseModel):
    exports: list[ExportOut]
