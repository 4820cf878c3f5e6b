"""API input and output models. Output models are declared on routes, so the OpenAPI document is complete."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from zoneinfo import available_timezones

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from apimeter.domain.accounts import EMAIL_PATTERN, ApiKey, Pricing, Project, Tenant, User
from apimeter.domain.budgets.rules import WEBHOOK_URL_PATTERN, Budget, Threshold
from apimeter.domain.distinct import RELATIVE_STANDARD_ERROR
from apimeter.domain.events import Rejection, TrackedEvent, public
from apimeter.domain.exports import Export
from apimeter.domain.passwords import MIN_PASSWORD_LENGTH
from apimeter.domain.permissions import Role
from apimeter.domain.plans import LIMIT_NAMES, Plan
from apimeter.domain.rollups import Totals
from apimeter.domain.windows import EPOCH_MS_PATTERN, iso, iso_ms
from apimeter.logic.accounts import Session
from apimeter.logic.analytics import Day, EventsPage, Ranking, Series, Summary
from apimeter.logic.ingest import IngestResult

# inputs


class _Input(BaseModel):
    # Strict: a number is a JSON number and a string a JSON string, as the document says (lax mode
    # took true for 1 and "5" for 5); unknown fields are refused.
    model_config = ConfigDict(extra="forbid", strict=True)


def _zones(schema: dict[str, Any]) -> None:
    schema["enum"] = sorted(available_timezones())  # read when the document is made, not at cold start


INSTANT = "An RFC 3339 date-time (e.g. 2026-11-29T10:00:00Z) or epoch milliseconds; before 1970 reads as 1970."


def instant(schema: dict[str, Any]) -> None:
    """What ``windows.parse_instant`` reads: a ``date-time`` or the digits of epoch milliseconds."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string":
            branch["anyOf"] = [{"format": "date-time"}, {"pattern": EPOCH_MS_PATTERN}]


Instant = Annotated[str, Field(min_length=1, max_length=64, json_schema_extra=instant)]


def _date_time(schema: dict[str, Any]) -> None:
    """An RFC 3339 date-time (``windows.parse_date_time``)."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "string":
            branch["format"] = "date-time"


def _json_integer(value: Any) -> Any:
    """JSON Schema's integer: a number with no fraction (so 3.0 is 3), never a boolean or a string."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# An integer as the document says one: strict (no true, no "5"), yet 3.0 is the integer 3.
Whole = Annotated[int, BeforeValidator(_json_integer)]

Zone = Annotated[str, Field(max_length=64, json_schema_extra=_zones, description="IANA time zone, e.g. Europe/Paris.")]

# DynamoDB keeps numbers from 1e-130 to 1e126: every number a caller sets is bounded, or rounded to
# what is kept, so that none fails on its way in (5e-324 did, with a 500).
_TWELVE_PLACES = AfterValidator(lambda v: round(v, 12))
Price = Annotated[float, Field(ge=0, le=1000, description="Kept to 12 decimal places."), _TWELVE_PLACES]


class RegisterIn(_Input):
    email: str = Field(..., max_length=320, pattern=EMAIL_PATTERN)
    password: str = Field(..., min_length=MIN_PASSWORD_LENGTH, max_length=256)
    organization: str = Field(..., min_length=1, max_length=200)


class LoginIn(_Input):
    email: str = Field(..., min_length=1, max_length=320)
    password: str = Field(..., min_length=1, max_length=256)


class EndpointPrice(_Input):
    pattern: str = Field(
        ..., min_length=1, max_length=520, description='"METHOD /route/{template}", with * and ? wildcards'
    )
    per_request: Price


class PricingIn(_Input):
    currency: str = Field("USD", pattern=r"^[A-Z]{3}$")
    per_request: Annotated[Price, Field(description="Price of a call no endpoint pattern matches.")] = 0.0
    per_gb_out: Annotated[
        float,
        Field(ge=0, le=10_000, description="Price per GB of response bytes, kept to 12 decimal places."),
        _TWELVE_PLACES,
    ] = 0.0
    per_endpoint: list[EndpointPrice] = Field(
        default_factory=list, max_length=100, description="Per-request prices by route; the first match wins."
    )


_Limit = Annotated[Whole | None, Field(None, ge=0, le=10**12)]


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


class ProjectPatch(_Input):
    name: str | None = Field(None, min_length=1, max_length=200)
    retention_days: Whole | None = Field(None, ge=1, le=3650, description="How long raw events are kept.")
    ip_privacy: Literal["full", "hashed", "none"] | None = Field(
        None, description="Keep callers' IPs as sent, as a keyed hash (per project), or not at all."
    )
    timezone: Zone | None = None
    pricing: PricingIn | None = None
    limits: LimitsIn | None = Field(None, description="Lower the plan's limits for this project (not above them).")


class ExportFiltersIn(_Input):
    endpoint: str | None = Field(None, max_length=512, description="Route template, e.g. /users/{id}")
    method: str | None = Field(None, max_length=16)
    status: Whole | None = Field(None, ge=100, le=599)
    consumer: str | None = Field(None, max_length=256)


class ExportIn(_Input):
    start: Instant = Field(..., alias="from", description=f"{INSTANT} 400 days at most before 'to'.")
    end: Instant = Field(..., alias="to", description=f"Exclusive. {INSTANT}")
    format: Literal["csv", "jsonl"] = "csv"
    filters: ExportFiltersIn | None = None


class RecomputeIn(_Input):
    start: Instant = Field(..., alias="from", description=f"{INSTANT} Moved up to retention's start.")
    end: Instant = Field(..., alias="to", description=f"Exclusive; moved back to now. {INSTANT}")


class RecomputeOut(BaseModel):
    hours: int = Field(..., description="Hours marked; the next rollup run (within 15 minutes) recomputes them.")
    start: str = Field(..., alias="from", description="The range marked: within retention, 31 days at most.")
    end: str = Field(..., alias="to", description="Up to now at most.")


class RefreshIn(_Input):
    refresh_token: str = Field(..., min_length=10, max_length=200)


class ProjectIn(_Input):
    name: str = Field(..., min_length=1, max_length=200)


class KeyIn(_Input):
    name: str = Field(..., min_length=1, max_length=200)
    scopes: list[Literal["track", "read"]] = Field(default=["track"], min_length=1)
    expires_at: str | None = Field(
        None,
        max_length=64,
        json_schema_extra=_date_time,
        description="When the key stops working (RFC 3339); default never. A time already past makes a key "
        "that is refused from the start.",
    )


class RotateIn(_Input):
    grace_seconds: Whole = Field(86_400, ge=0, le=7 * 86_400, description="How long the old secret keeps working.")


class UserIn(_Input):
    email: str = Field(..., max_length=320, pattern=EMAIL_PATTERN)
    role: Role
    password: str = Field(..., min_length=MIN_PASSWORD_LENGTH, max_length=256, description="Initial password.")


class RoleIn(_Input):
    role: Role


class TenantIn(_Input):
    name: str = Field(..., min_length=1, max_length=200)
    plan: Plan = "free"
    owner_email: str = Field(..., max_length=320, pattern=EMAIL_PATTERN)
    owner_password: str = Field(..., min_length=MIN_PASSWORD_LENGTH, max_length=256)


class TenantPatch(_Input):
    name: str | None = Field(None, min_length=1, max_length=200)
    plan: Plan | None = None
    status: Literal["active", "suspended"] | None = None
    limits: LimitsIn | None = Field(None, description="Overrides of the plan's limits, by name.")


# outputs


class TenantOut(BaseModel):
    id: str
    name: str
    plan: str
    status: str
    created_at: str
    limits: dict[str, int] = Field(default_factory=dict, description="Overrides of the plan's limits.")

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        return cls(
            id=tenant.id,
            name=tenant.name,
            plan=tenant.plan,
            status=tenant.status,
            created_at=tenant.created_at,
            limits={k: int(v) for k, v in tenant.limits.items()},
        )


class TenantListOut(BaseModel):
    tenants: list[TenantOut]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for the next page.")


class NewTenantOut(BaseModel):
    tenant: TenantOut
    owner: UserOut


class UserOut(BaseModel):
    id: str
    email: str
    role: str
    tenant_id: str
    created_at: str

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, email=user.email, role=user.role, tenant_id=user.tenant_id, created_at=user.created_at)


class UserListOut(BaseModel):
    users: list[UserOut]


class RoleRuleOut(BaseModel):
    action: str
    roles: list[str]


class RolesOut(BaseModel):
    roles: list[str]
    permissions: list[RoleRuleOut]


class SessionOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int = Field(..., description="Seconds until the access token expires.")
    user: UserOut
    tenant: TenantOut

    @classmethod
    def of(cls, session: Session) -> SessionOut:
        return cls(
            access_token=session.access_token,
            refresh_token=session.refresh_token,
            expires_in=session.expires_in,
            user=UserOut.of(session.user),
            tenant=TenantOut.of(session.tenant),
        )


class KeyTokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - a scheme name, not a secret
    expires_in: int
    project_id: str
    scopes: list[str]


class MeOut(BaseModel):
    user: UserOut
    tenant: TenantOut


class PricingOut(BaseModel):
    currency: str
    per_request: float
    per_gb_out: float
    per_endpoint: list[EndpointPrice]

    @classmethod
    def of(cls, pricing: Pricing) -> PricingOut:
        return cls(
            currency=pricing.currency,
            per_request=pricing.per_request,
            per_gb_out=pricing.per_gb_out,
            per_endpoint=[EndpointPrice(pattern=p, per_request=price) for p, price in pricing.per_endpoint],
        )


class ProjectOut(BaseModel):
    id: str
    name: str
    retention_days: int
    created_at: str
    ip_privacy: str
    timezone: str
    pricing: PricingOut
    limits: dict[str, int]

    @classmethod
    def of(cls, project: Project) -> ProjectOut:
        return cls(
            id=project.id,
            name=project.name,
            retention_days=project.retention_days,
            created_at=project.created_at,
            ip_privacy=project.ip_privacy,
            timezone=project.timezone,
            pricing=PricingOut.of(project.pricing),
            limits=project.limits,
        )


class ProjectListOut(BaseModel):
    projects: list[ProjectOut]


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


class RejectionOut(BaseModel):
    index: int
    code: Literal["VALIDATION_ERROR", "CONFLICT"]
    message: str

    @classmethod
    def of(cls, rejection: Rejection) -> RejectionOut:
        return cls.model_validate({"index": rejection.index, "code": rejection.code, "message": rejection.message})


class IngestOut(BaseModel):
    accepted: int = Field(..., description="Events written now.")
    duplicates: int = Field(..., description="Exact replays of events already accepted; nothing changed.")
    rejected: list[RejectionOut]

    @classmethod
    def of(cls, result: IngestResult) -> IngestOut:
        return cls(
            accepted=result.accepted,
            duplicates=result.duplicates,
            rejected=[RejectionOut.of(r) for r in result.rejected],
        )


class EventOut(BaseModel):
    event_id: str
    timestamp: str
    method: str
    endpoint: str
    path: str | None = None
    status: int
    latency_ms: float | None = None
    request_bytes: int | None = None
    response_bytes: int | None = None
    consumer: str | None = None
    ip: str | None = None
    user_agent: str | None = None
    cost: float | None = None
    units: float | None = None
    properties: dict[str, str | int | float | bool | None] | None = None

    @classmethod
    def of(cls, event: TrackedEvent) -> EventOut:
        return cls(**public(event))


class EventsPageOut(BaseModel):
    events: list[EventOut]
    next_cursor: str | None = Field(None, description="Pass as ?cursor= for older events; null at the end.")
    start: str = Field(..., alias="from", description="Searched from: 'from', or the oldest time retention keeps.")
    end: str = Field(..., alias="to")

    @classmethod
    def of(cls, page: EventsPage) -> EventsPageOut:
        return cls.model_validate({"events": [EventOut.of(e) for e in page.events], "next_cursor": page.next_cursor,
                                   "from": iso_ms(page.span.start_ms), "to": iso_ms(page.span.end_ms)})  # fmt: skip


class QuotaOut(BaseModel):
    period: str = Field(..., description="The UTC month, YYYY-MM.")
    limit: int
    used: int
    remaining: int
    resets_at: int = Field(..., description="Epoch seconds when the next period starts.")


class LatencyOut(BaseModel):
    """Latency in milliseconds. Percentiles, min and max come from a sketch and are within 1 % of the
    exact values; avg is exact."""

    avg: float | None = None
    min: float | None = None
    p50: float | None = None
    p75: float | None = None
    p90: float | None = None
    p95: float | None = None
    p99: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, totals: Totals) -> LatencyOut:
        low, high = totals.latency_bounds()
        return cls.model_validate({**totals.latency(), "min": low, "max": high})


class PreviousOut(BaseModel):
    requests: int
    errors: int
    error_rate: float
    cost: float
    latency_p95_ms: float | None
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    throughput_rps: float = 0.0
    bytes_in: int = 0
    bytes_out: int = 0
    units: float = 0.0
    unique_consumers: int | None = None


class ChangeOut(BaseModel):
    """Relative change against the previous window (0.25 = +25 %); null when that was zero."""

    requests: float | None
    errors: float | None
    cost: float | None
    latency_p95: float | None
    error_rate: float = Field(..., description="Absolute difference of the error rates.")
    latency_p50: float | None = None
    latency_p99: float | None = None
    throughput: float | None = None
    bytes_in: float | None = None
    bytes_out: float | None = None
    units: float | None = None
    unique_consumers: float | None = None


def _relative(now: float | None, before: float | None) -> float | None:
    if now is None or not before:
        return None
    return round((now - before) / before, 6)


class SummaryOut(BaseModel):
    window: str
    start: str = Field(..., alias="from")
    end: str = Field(..., alias="to")
    requests: int
    errors: int = Field(..., description="Responses with status 400 or above.")
    error_rate: float
    throughput_rps: float = Field(..., description="Requests per second over the window.")
    status_classes: dict[str, int]
    status_codes: dict[str, int] = Field(..., description="The ten most frequent status codes.")
    latency_ms: LatencyOut
    bytes_in: int
    bytes_out: int
    cost: float
    units: float
    unique_consumers: int | None = Field(
        None, description="Distinct consumers (HyperLogLog estimate; see unique_consumers_error)."
    )
    unique_consumers_error: float | None = Field(None, description="Relative standard error of unique_consumers.")
    previous: PreviousOut = Field(..., description="The window of the same length just before.")
    change: ChangeOut

    @classmethod
    def of(cls, summary: Summary, with_consumers: bool = True) -> SummaryOut:
        totals, before, span = summary.totals, summary.previous, summary.span
        latency, latency_before = totals.latency(), before.latency()
        seconds = max(span.end_ms - span.start_ms, 1) / 1000  # an empty range (to before from) answers zeros
        top_codes = sorted(totals.status_codes.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
        return cls.model_validate(
            {
                "window": summary.window,
                "from": iso(span.start_ms),
                "to": iso(span.end_ms),
                "requests": totals.requests,
                "errors": totals.errors,
                "error_rate": totals.error_rate,
                "throughput_rps": round(totals.requests / seconds, 6),
                "status_classes": totals.status_classes,
                "status_codes": {str(code): count for code, count in top_codes},
                "latency_ms": LatencyOut.of(totals),
                "bytes_in": totals.bytes_in,
                "bytes_out": totals.bytes_out,
                "cost": float(totals.cost),
                "units": float(totals.units),
                "unique_consumers": totals.unique_consumers if with_consumers else None,
                "unique_consumers_error": RELATIVE_STANDARD_ERROR if with_consumers else None,
                "previous": {
                    "requests": before.requests,
                    "errors": before.errors,
                    "error_rate": before.error_rate,
                    "cost": float(before.cost),
                    "latency_p95_ms": latency_before["p95"],
                    "latency_p50_ms": latency_before["p50"],
                    "latency_p99_ms": latency_before["p99"],
                    "throughput_rps": round(before.requests / seconds, 6),
                    "bytes_in": before.bytes_in,
                    "bytes_out": before.bytes_out,
                    "units": float(before.units),
                    "unique_consumers": before.unique_consumers if with_consumers else None,
                },
                "change": {
                    "requests": _relative(totals.requests, before.requests),
                    "errors": _relative(totals.errors, before.errors),
                    "cost": _relative(float(totals.cost), float(before.cost)),
                    "latency_p95": _relative(latency["p95"], latency_before["p95"]),
                    "error_rate": round(totals.error_rate - before.error_rate, 6),
                    "latency_p50": _relative(latency["p50"], latency_before["p50"]),
                    "latency_p99": _relative(latency["p99"], latency_before["p99"]),
                    "throughput": _relative(totals.requests, before.requests),  # windows of equal length
                    "bytes_in": _relative(totals.bytes_in, before.bytes_in),
                    "bytes_out": _relative(totals.bytes_out, before.bytes_out),
                    "units": _relative(float(totals.units), float(before.units)),
                    "unique_consumers": (
                        _relative(totals.unique_consumers, before.unique_consumers) if with_consumers else None
                    ),
                },
            }
        )


class ShareOut(BaseModel):
    key: str = Field(..., description="The status code or method.")
    count: int
    share: float = Field(..., description="Fraction of the window's requests.")


class BreakdownOut(BaseModel):
    window: str
    start: str = Field(..., alias="from")
    end: str = Field(..., alias="to")
    requests: int
    status_classes: dict[str, int] | None = None
    items: list[ShareOut]

    @classmethod
    def of(cls, summary: Summary, counts: dict[str, int], with_classes: bool) -> BreakdownOut:
        total = summary.totals.requests
        items = [
            {"key": key, "count": count, "share": round(count / total, 6) if total else 0.0}
            for key, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        ]
        return cls.model_validate(
            {
                "window": summary.window,
                "from": iso(summary.span.start_ms),
                "to": iso(summary.span.end_ms),
                "requests": total,
                "status_classes": summary.totals.status_classes if with_classes else None,
                "items": items,
            }
        )


class PointLatencyOut(BaseModel):
    avg: float | None = None
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None


class PointOut(BaseModel):
    """One bucket; the figures not selected with ``metrics`` are null."""

    ts: str = Field(..., description="Start of the bucket (UTC).")
    requests: int | None = None
    errors: int | None = None
    error_rate: float | None = None
    latency_ms: PointLatencyOut | None = None
    bytes_in: int | None = None
    bytes_out: int | None = None
    cost: float | None = None
    units: float | None = None
    unique_consumers: int | None = None

    @classmethod
    def of(cls, ts: int, totals: Totals, metrics: tuple[str, ...], status_class: str | None) -> PointOut:
        point: dict[str, Any] = {"ts": iso(ts)}
        if status_class is not None:  # counts of one status class only
            count = totals.status_classes[status_class]
            point["requests"] = count if "requests" in metrics else None
            point["errors"] = (count if status_class in ("4xx", "5xx") else 0) if "errors" in metrics else None
            return cls.model_validate(point)
        figures: dict[str, dict[str, Any]] = {
            "requests": {"requests": totals.requests},
            "errors": {"errors": totals.errors},
            "error_rate": {"error_rate": totals.error_rate},
            "bytes": {"bytes_in": totals.bytes_in, "bytes_out": totals.bytes_out},
            "cost": {"cost": float(totals.cost)},
            "units": {"units": float(totals.units)},
        }
        for metric in metrics:
            if metric == "latency":
                latency = totals.latency()
                point["latency_ms"] = {k: latency[k] for k in ("avg", "p50", "p95", "p99")}
            elif metric == "unique_consumers":
                point["unique_consumers"] = totals.unique_consumers
            else:
                point.update(figures[metric])
        return cls.model_validate(point)


class TimeseriesOut(BaseModel):
    granularity: Literal["minute", "hour", "day"]
    start: str = Field(..., alias="from")
    end: str = Field(..., alias="to")
    metrics: list[str] = Field(
        ...,
        description="The metrics answered: those asked that the filters keep (by status class only requests and "
        "errors; unique_consumers for the whole project only). The others are null in every point.",
    )
    filters: dict[str, str] = Field(..., description="The filters applied.")
    points: list[PointOut]

    @classmethod
    def of(cls, series: Series, filters: dict[str, str]) -> TimeseriesOut:
        status_class = filters.get("status_class")
        return cls.model_validate(
            {
                "granularity": series.granularity,
                "from": iso(series.span.start_ms),
                "to": iso(series.span.end_ms),
                "metrics": list(series.metrics),
                "filters": filters,
                "points": [PointOut.of(ts, totals, series.metrics, status_class) for ts, totals in series.points],
            }
        )


class FiguresOut(BaseModel):
    """An endpoint's or a consumer's figures over a window."""

    requests: int
    share: float = Field(..., description="Fraction of the ranked values' requests.")
    errors: int
    error_rate: float
    status_classes: dict[str, int]
    latency_ms: LatencyOut
    bytes_in: int
    bytes_out: int
    cost: float
    units: float

    @staticmethod
    def figures(totals: Totals, total_requests: int) -> dict[str, Any]:
        return {
            "requests": totals.requests,
            "share": round(totals.requests / total_requests, 6) if total_requests else 0.0,
            "errors": totals.errors,
            "error_rate": totals.error_rate,
            "status_classes": totals.status_classes,
            "latency_ms": LatencyOut.of(totals),
            "bytes_in": totals.bytes_in,
            "bytes_out": totals.bytes_out,
            "cost": float(totals.cost),
            "units": float(totals.units),
        }


class EndpointRowOut(FiguresOut):
    method: str | None = Field(..., description="Null for the folded 'other' endpoints.")
    endpoint: str = Field(..., description="Route template, or 'other' past the project's endpoint cap.")


class ConsumerRowOut(FiguresOut):
    consumer: str = Field(..., description="Consumer, or 'other' past the project's consumer cap.")


class _RankingOut(BaseModel):
    window: str
    start: str = Field(..., alias="from")
    end: str = Field(..., alias="to")
    sort: str
    distinct: int = Field(..., description="How many values the window has.")

    @staticmethod
    def head(ranking: Ranking, sort: str) -> dict[str, Any]:
        return {
            "window": ranking.window,
            "from": iso(ranking.span.start_ms),
            "to": iso(ranking.span.end_ms),
            "sort": sort,
            "distinct": ranking.distinct,
        }


class EndpointsOut(_RankingOut):
    items: list[EndpointRowOut]

    @classmethod
    def of(cls, ranking: Ranking, sort: str) -> EndpointsOut:
        total = sum(t.requests for _, t in ranking.rows)
        items = []
        for name, totals in ranking.rows:
            method, _, endpoint = name.partition(" ")
            row = {"method": method, "endpoint": endpoint} if endpoint else {"method": None, "endpoint": name}
            items.append({**row, **FiguresOut.figures(totals, total)})
        return cls.model_validate({**cls.head(ranking, sort), "items": items})


class ConsumersOut(_RankingOut):
    items: list[ConsumerRowOut]

    @classmethod
    def of(cls, ranking: Ranking, sort: str) -> ConsumersOut:
        total = sum(t.requests for _, t in ranking.rows)
        items = [{"consumer": name, **FiguresOut.figures(totals, total)} for name, totals in ranking.rows]
        return cls.model_validate({**cls.head(ranking, sort), "items": items})


class ConsumerUsageOut(SummaryOut):
    consumer: str


class DayUsageOut(BaseModel):
    requests: int
    errors: int
    cost: float
    units: float
    bytes_out: int

    @staticmethod
    def figures(totals: Totals) -> dict[str, Any]:
        return {
            "requests": totals.requests,
            "errors": totals.errors,
            "cost": float(totals.cost),
            "units": float(totals.units),
            "bytes_out": totals.bytes_out,
        }


class DayConsumerOut(DayUsageOut):
    consumer: str


class DayOut(DayUsageOut):
    date: str = Field(..., description="UTC day.")
    consumers_count: int = Field(..., description="Distinct consumers that day (exact below the consumer cap).")
    consumers: list[DayConsumerOut] = Field(..., description="The day's top consumers by requests.")
    other_consumers: DayUsageOut = Field(..., description="Every consumer of the day not listed, summed.")


class DailyOut(BaseModel):
    days: list[DayOut]

    @classmethod
    def of(cls, days: list[Day]) -> DailyOut:
        return cls.model_validate(
            {
                "days": [
                    {
                        "date": day.day,
                        **DayUsageOut.figures(day.totals),
                        "consumers_count": day.distinct_consumers,
                        "consumers": [{"consumer": c, **DayUsageOut.figures(t)} for c, t in day.consumers],
                        "other_consumers": DayUsageOut.figures(day.rest),
                    }
                    for day in days
                ]
            }
        )


class ErrorOut(BaseModel):
    code: Literal[
        "VALIDATION_ERROR",
        "AUTHENTICATION_FAILED",
        "FORBIDDEN",
        "NOT_FOUND",
        "CONFLICT",
        "PAYLOAD_TOO_LARGE",
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


class HealthOut(BaseModel):
    status: Literal["ok"] = "ok"
    version: str
    stage: str


class ReadyOut(BaseModel):
    status: Literal["ready"] = "ready"
    checks: dict[str, str] = Field(..., description='Each dependency checked (tables, secrets): "ok".')


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


class RangeOut(BaseModel):
    value: float = Field(..., description="Point forecast (the model's median path).")
    lower80: float
    upper80: float
    lower95: float
    upper95: float


class ForecastStepOut(BaseModel):
    start: str = Field(..., description="UTC hour (hourly) or the project's local date (daily).")
    requests: RangeOut
    cost: RangeOut


class MonthEndOut(BaseModel):
    month: str = Field(..., description="The project's local month.")
    actual_requests: float = Field(..., description="So far this month, up to the forecast's hour.")
    actual_cost: float
    requests: RangeOut = Field(..., description="Projected total for the month: actual plus forecast of the rest.")
    cost: RangeOut


class ForecastOut(BaseModel):
    project_id: str
    status: Literal["ready", "insufficient_history"] = Field(
        ..., description="insufficient_history until the project has a day of traffic."
    )
    as_of: str = Field(..., description="Start of the first forecast hour.")
    computed_at: str
    timezone: str
    currency: str
    history_hours: int | None = Field(None, description="Hours of history the model learned from (at most 672).")
    season_hours: int | None = Field(None, description="168: weekly season; 24: daily; 1: none yet.")
    hourly: list[ForecastStepOut] = Field(default_factory=list, description="The next 48 hours.")
    daily: list[ForecastStepOut] = Field(default_factory=list, description="Today (actual + rest) and 6 more days.")
    month_end: MonthEndOut | None = None


class _ActualThresholdIn(_Input):
    percent: float = Field(..., ge=0.001, le=1000, description="Of the budget's amount, e.g. 80.")
    on: Literal["actual"] = Field("actual", description="Actual spend so far (the default), or the forecast.")
    probability: float = Field(0.8, ge=0.5, le=0.975, description="Read for forecast thresholds only.")


class NotifyThresholdIn(_ActualThresholdIn):
    """Notify, or throttle the budget's keys, when actual spend reaches ``percent``."""

    action: Literal["notify", "throttle"] = "notify"


class SuspendThresholdIn(_ActualThresholdIn):
    """Suspend the budget's keys when actual spend reaches ``percent``: 100 % or more."""

    percent: float = Field(..., ge=100, le=1000, description="Of the budget's amount, at least 100.")
    action: Literal["suspend"]


class ForecastThresholdIn(_Input):
    """Notify when the forecast makes reaching ``percent`` by the period's end at least ``probability`` likely."""

    percent: float = Field(..., ge=0.001, le=1000, description="Of the budget's amount, e.g. 100.")
    on: Literal["forecast"]
    probability: float = Field(0.8, ge=0.5, le=0.975, description="How likely the forecast must make the crossing.")
    action: Literal["notify"] = "notify"


# Thresholds at the same percent and basis merge into the strongest action; crossing several acts as
# the strongest of them, so the order of actions across percents is free.
ThresholdIn = NotifyThresholdIn | SuspendThresholdIn | ForecastThresholdIn


class WebhookIn(_Input):
    url: str = Field(
        ...,
        max_length=2048,
        json_schema_extra={"pattern": WEBHOOK_URL_PATTERN},  # a look-ahead: checked by the budget's rules
        description="https, naming its host (http only to localhost); no credentials.",
    )
    secret: str | None = Field(
        None, min_length=16, max_length=256, description="Signs deliveries; generated when left out."
    )


class ChannelsIn(_Input):
    sns: bool = Field(False, description="Publish to the alerts SNS topic.")
    eventbridge: bool = Field(False, description="Put an event on the alerts EventBridge bus.")
    webhooks: list[WebhookIn] = Field(default_factory=list, max_length=5)


class TenantBudgetIn(_Input):
    """A budget over every project of the organization; it acts on all of their keys."""

    name: str = Field(..., min_length=1, max_length=100)
    amount: float = Field(..., ge=1e-6, le=1e12, description="In the budget's currency, or requests.")
    period: Literal["daily", "weekly", "monthly"]
    metric: Literal["cost", "requests"] = "cost"
    timezone: Zone | None = Field(None, description="Default: the project's (UTC tenant-wide).")
    currency: str | None = Field(None, pattern=r"^[A-Z]{3}$", description="Default: the project's pricing currency.")
    thresholds: list[ThresholdIn] = Field(..., min_length=1, max_length=10)
    channels: ChannelsIn = Field(default_factory=ChannelsIn)


class BudgetIn(TenantBudgetIn):
    key_id: str | None = Field(None, max_length=64, description="The key throttle/suspend act on; default: all.")


class TenantBudgetPatch(_Input):
    name: str | None = Field(None, min_length=1, max_length=100)
    amount: float | None = Field(None, ge=1e-6, le=1e12)
    period: Literal["daily", "weekly", "monthly"] | None = None
    metric: Literal["cost", "requests"] | None = None
    timezone: Zone | None = None
    thresholds: list[ThresholdIn] | None = Field(None, min_length=1, max_length=10)
    channels: ChannelsIn | None = None


class BudgetPatch(TenantBudgetPatch):
    key_id: str | None = Field(None, max_length=64)


class WebhookOut(BaseModel):
    url: str
    secret: str | None = Field(None, description="Shown when the budget is created or its webhooks change.")
    secret_hint: str = Field(..., description="The secret's last four characters.")


class ChannelsOut(BaseModel):
    sns: bool
    eventbridge: bool
    webhooks: list[WebhookOut]


class ThresholdOut(BaseModel):
    percent: float
    on: Literal["actual", "forecast"]
    probability: float | None
    action: Literal["notify", "throttle", "suspend"]


class BudgetOut(BaseModel):
    id: str
    project_id: str | None = Field(..., description="null for a tenant-wide budget.")
    name: str
    amount: float
    currency: str
    period: Literal["daily", "weekly", "monthly"]
    metric: Literal["cost", "requests"]
    timezone: str
    thresholds: list[ThresholdOut]
    channels: ChannelsOut
    key_id: str | None
    created_at: str

    @classmethod
    def of(cls, budget: Budget, show_secrets: bool = False) -> BudgetOut:
        return cls(
            id=budget.id,
            project_id=budget.project_id,
            name=budget.name,
            amount=budget.amount,
            currency=budget.currency,
            period=budget.period,
            metric=budget.metric,
            timezone=budget.timezone,
            thresholds=[
                ThresholdOut(
                    percent=t.percent,
                    on=t.on,
                    probability=t.probability if t.on == "forecast" else None,
                    action=t.action,
                )
                for t in budget.thresholds
            ],
            channels=ChannelsOut(
                sns=budget.channels.sns,
                eventbridge=budget.channels.eventbridge,
                webhooks=[
                    WebhookOut(url=w.url, secret=w.secret if show_secrets else None, secret_hint=w.secret[-4:])
                    for w in budget.channels.webhooks
                ],
            ),
            key_id=budget.key_id,
            created_at=budget.created_at,
        )


def _forecast_only(threshold: Threshold) -> float | None:
    return threshold.probability if threshold.on == "forecast" else None


class BudgetListOut(BaseModel):
    budgets: list[BudgetOut]


class AlertOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    type: Literal["budget.threshold_reached", "budget.threshold_forecast"]
    budget_id: str
    period: dict[str, str]
    metric: str
    amount: float
    value: float = Field(..., description="Spend when it fired (actual), or the projected total (forecast).")
    percent_reached: float
    by: str | None = Field(None, description="Forecast alerts: the local date the threshold is reached by.")
    fired_at: str
    message: str
    deliveries: dict[str, Literal["delivered", "pending", "dropped", "refused"]] = Field(
        ...,
        description="Per channel: delivered, pending (being retried), dropped (failing for days), or refused "
        "(a webhook whose host resolves to a private, loopback, link-local or otherwise internal address).",
    )
    delivery_errors: dict[str, str] = Field(default_factory=dict, description="Why each refused channel was refused.")


class AlertListOut(BaseModel):
    alerts: list[AlertOut]


class AnomalyOut(BaseModel):
    id: str
    hour: str = Field(..., description="Start of the finished hour it was found in.")
    dimension: Literal["project", "endpoint", "consumer"]
    value: str | None = Field(None, description="The endpoint or consumer; null for the project.")
    metric: Literal["requests", "error_rate", "latency_p95"]
    observed: float
    expected: float
    lower: float = Field(..., description="The expected band the observed value left.")
    upper: float
    direction: Literal["up", "down"] | None = None
    severity: Literal["low", "medium", "high"]
    score: float = Field(..., description="Anomaly likelihood in [0, 1].")
    detected_at: str
    feedback: Literal["real", "false", "planned"] | None = None


class AnomalyListOut(BaseModel):
    anomalies: list[AnomalyOut]


class FeedbackIn(_Input):
    feedback: Literal["real", "false", "planned"] = Field(
        ..., description="false: this series' detector gets less sensitive; real/planned: the hour leaves its baseline."
    )
