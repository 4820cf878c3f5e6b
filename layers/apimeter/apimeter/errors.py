"""Domain errors. Each maps to one code of the API's error envelope (see apimeter.api.envelope)."""

from __future__ import annotations

from typing import Any


class ApimeterError(Exception):
    """Base of every error the API turns into an envelope."""

    code = "INTERNAL_ERROR"
    status = 500

    def __init__(self, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(ApimeterError):
    code = "VALIDATION_ERROR"
    status = 400


class AuthenticationFailed(ApimeterError):
    code = "AUTHENTICATION_FAILED"
    status = 401


class Forbidden(ApimeterError):
    code = "FORBIDDEN"
    status = 403


class NotFound(ApimeterError):
    code = "NOT_FOUND"
    status = 404


class Conflict(ApimeterError):
    code = "CONFLICT"
    status = 409


class PayloadTooLarge(ApimeterError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413


class UnsupportedMediaType(ApimeterError):
    code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415


class RateLimited(ApimeterError):
    code = "RATE_LIMIT_EXCEEDED"
    status = 429


class ServiceUnavailable(ApimeterError):
    """A dependency of the stack (a table, a secret) does not answer; retrying later may succeed."""

    code = "SERVICE_UNAVAILABLE"
    status = 503


class ConfigurationError(RuntimeError):
    """A setting is missing or invalid; raised at cold start with the setting's name."""
