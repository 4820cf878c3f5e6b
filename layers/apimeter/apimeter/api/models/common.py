"""What every resource's models share: the strict input base, instants, zones, prices, limits, the error envelope."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from apimeter.domain.plans import LIMIT_NAMES
from apimeter.domain.windows import EPOCH_MS_PATTERN

# A name (of an organization, project, key, budget) is shown as sent: no control characters, and at
# least one character that is not blank. Spelled out rather than ``\s``, which Python's, JSON
# Schema's and pydantic's regex engines read differently; the document states the same pattern.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
_BLANK = r"\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
NAME_PATTERN = rf"^[^{_CONTROL}]*[^{_BLANK}][^{_CONTROL}]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN)]


class _Input(BaseModel):
    # Strict: a number is a JSON number and a string a JSON string, as the document says (lax mode
    # took true for 1 and "5" for 5); unknown fields are refused.
    model_config = ConfigDict(extra="forbid", strict=True)


def _zones(schema: dict[str, Any]) -> None:
    schema["enum"] = sorted(available_timezones())  # read when the document is made, not at cold start


INSTANT = "An RFC 3339 date-time (e.g. 2026-11-29T10:00:00Z) or epoch milliseconds; before 1970 reads as 1970."


def _strings(schema: dict[str, Any]) -> list[dict[str, Any]]:
    """The string branch of a field's schema (of its optional form too, where it is one of anyOf)."""
    return [branch for branch in schema.get("anyOf", [schema]) if branch.get("type") == "string"]


def instant(schema: dict[str, Any]) -> None:
    """What ``windows.parse_instant`` reads: a ``date-time`` or the digits of epoch milliseconds."""
    for branch in _strings(schema):
        branch["anyOf"] = [{"format": "date-time"}, {"pattern": EPOCH_MS_PATTERN}]


Instant = Annotated[str, Field(min_length=1, max_length=64, json_schema_extra=instant)]


def date_time(schema: dict[str, Any]) -> None:
    """An RFC 3339 date-time (``windows.parse_date_time``)."""
    for branch in _strings(schema):
        branch["format"] = "date-time"


def _json_integer(value: Any) -> Any:
    """JSON Schema's integer: a number with no fraction (so 3.0 is 3), never a boolean or a string."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer as the document says one: strict (no true, no "5"), yet 3.0 is the integer 3. Bounds go
# before it, on the int (after it, pydantic writes them as "ge"/"le", which JSON Schema does not know).
JSON_INTEGER = BeforeValidator(_json_integer)
Whole = Annotated[int, JSON_INTEGER]

Zone = Annotated[str, Field(max_length=64, json_schema_extra=_zones, description="IANA time zone, e.g. Europe/Paris.")]

# DynamoDB keeps numbers from 1e-130 to 1e126: every number a caller sets is bounded, or rounded to
# what is kept, so that none fails on its way in (5e-324 did, with a 500).
TWELVE_PLACES = AfterValidator(lambda v: round(v, 12))
Price = Annotated[float, Field(ge=0, le=1000, description="Kept to 12 decimal places."), TWELVE_PLACES]


_Limit = Annotated[Annotated[int, Field(ge=0, le=10**12), JSON_INTEGER] | None, Field(None)]


class LimitsIn(_Input):
    """Overrides of a plan's limits, by name; a null one is left out."""

    key_per_minute: _Limit = None
    key_per_hour: _Limit = None
    key_per_day: _Limit = None
    project_per_minute: _Limit = None
    project_per_hour: _Limit = None
    project_per_day: _Limit = None
    events_per_month: _Limit = None
    distinct_endpoints: _Limit = None
    distinct_consumers: _Limit = None

    def given(self) -> dict[str, int]:
        return {name: value for name, value in self.model_dump().items() if value is not None}


if set(LimitsIn.model_fields) != set(LIMIT_NAMES):  # one list of limits, in the plans
    raise RuntimeError("LimitsIn must name every limit of apimeter.domain.plans.LIMIT_NAMES")


class ErrorOut(BaseModel):
    code: Literal[
        "VALIDATION_ERROR",
        "AUTHENTICATION_FAILED",
        "FORBIDDEN",
        "NOT_FOUND",
        "CONFLICT",
        "PAYLOAD_TOO_LARGE",
        "UNSUPPORTED_MEDIA_TYPE",
        "RATE_LIMIT_EXCEEDED",
        "INTERNAL_ERROR",
        "SERVICE_UNAVAILABLE",
    ]
    message: str
    details: Any = None
    request_id: str
    timestamp: str


class ErrorEnvelope(BaseModel):
    """Every error, from every route."""

    error: ErrorOut
