"""The one error envelope: ``{"error": {"code", "message", "details", "request_id", "timestamp"}}``."""

from __future__ import annotations

import json
from typing import Any

from apimeter.domain.windows import now_iso


def error_body(code: str, message: str, request_id: str, details: Any = None) -> str:
    error = {
        "code": code,
        "message": message,
        "details": details,
        "request_id": request_id,
        "timestamp": now_iso(),
    }
    return json.dumps({"error": error}, default=str)


def error_response(
    status: int, code: str, message: str, request_id: str, details: Any = None, headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """A complete payload-2.0 response, for errors raised before the resolver runs."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": error_body(code, message, request_id, details),
        "isBase64Encoded": False,
    }
