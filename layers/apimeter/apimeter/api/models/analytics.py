"""Analytics answers, mapped field by field from the use case's results (which compute the figures)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any, Literal

from pydantic import BaseModel, Field

from apimeter.domain.distinct import RELATIVE_STANDARD_ERROR
from apimeter.domain.events import TrackedEvent, public
from apimeter.domain.rollups import Totals
from apimeter.domain.windows import iso, iso_ms
from apimeter.logic.analytics import Day, EventsPage, Ranking, Series, Share, Summary


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
        latency_before = before.latency()
        change = asdict(summary.change())
        return cls.model_validate(
            {
                "window": summary.window,
                "from": iso(span.start_ms),
                "to": iso(span.end_ms),
                "requests": totals.requests,
                "errors": totals.errors,
                "error_rate": totals.error_rate,
                "throughput_rps": summary.throughput_rps,
                "status_classes": totals.status_classes,
                "status_codes": summary.top_status_codes,
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
                    "throughput_rps": summary.previous_throughput_rps,
                    "bytes_in": before.bytes_in,
                    "bytes_out": before.bytes_out,
                    "units": float(before.units),
                    "unique_consumers": before.unique_consumers if with_consumers else None,
                },
                "change": {**change, "unique_consumers": change["unique_consumers"] if with_consumers else None},
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
    def of(cls, summary: Summary, shares: list[Share], with_classes: bool) -> BreakdownOut:
        return cls.model_validate(
            {
                "window": summary.window,
                "from": iso(summary.span.start_ms),
                "to": iso(summary.span.end_ms),
                "requests": summary.totals.requests,
                "status_classes": summary.totals.status_classes if with_classes else None,
                "items": [asdict(share) for share in shares],
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
    def figures(totals: Totals, share: float) -> dict[str, Any]:
        return {
            "requests": totals.requests,
            "share": share,
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
        items = []
        for name, totals, share in ranking.shared():
            method, _, endpoint = name.partition(" ")
            row = {"method": method, "endpoint": endpoint} if endpoint else {"method": None, "endpoint": name}
            items.append({**row, **FiguresOut.figures(totals, share)})
        return cls.model_validate({**cls.head(ranking, sort), "items": items})


class ConsumersOut(_RankingOut):
    items: list[ConsumerRowOut]

    @classmethod
    def of(cls, ranking: Ranking, sort: str) -> ConsumersOut:
        items = [{"consumer": name, **FiguresOut.figures(totals, share)} for name, totals, share in ranking.shared()]
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
