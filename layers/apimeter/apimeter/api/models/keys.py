"""API key models; a secret appears only in the answer that creates or rotates it."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from apimeter.api.models.common import Name, Whole, _Input, date_time
from apimeter.domain.accounts import ApiKey


class KeyIn(_Input):
    name: Name = Field(..., min_length=1, max_length=200)
    scopes: list[Literal["track", "read"]] = Field(default=["track"], min_length=1)
    expires_at: str | None = Field(
        None,
        max_length=64,
        json_schema_extra=date_time,
        description="When the key stops working (RFC 3339); default never. A time already past makes a key "
        "that is refused from the start.",
    )


class RotateIn(_Input):
    grace_seconds: Whole = Field(86_400, ge=0, le=7 * 86_400, description="How long the old secret keeps working.")


class KeyOut(BaseModel):
    id: str
    project_id: str
    name: str
    prefix: str = Field(..., description="Public part of the key, to tell keys apart.")
    scopes: list[str]
    status: Literal["active", "revoked"]
    created_at: str
    revoked_at: str | None = None
    expires_at: str | None = None
    last_used_at: str | None = Field(None, description="Updated at most every AuthCacheSeconds per authorizer.")

    @classmethod
    def of(cls, key: ApiKey) -> KeyOut:
        return cls(
            id=key.id,
            project_id=key.project_id,
            name=key.name,
            prefix=key.prefix,
            scopes=list(key.scopes),
            status=key.status,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
            expires_at=key.expires_at,
            last_used_at=key.last_used_at,
        )


class NewKeyOut(KeyOut):
    key: str = Field(..., description="The secret key. Shown only in this response; store it now.")


class RotatedKeyOut(NewKeyOut):
    previous_valid_until: str = Field(..., description="When the previous secret stops working.")


class KeyListOut(BaseModel):
    keys: list[KeyOut]
