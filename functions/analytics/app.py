"""Analytics of a project, read from rollups."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from apimeter.api.models import (
    BreakdownOut,
    EventOut,
    EventsPageOut,
    PointLatencyOut,
    PointOut,
    SummaryOut,
    TimeseriesOut,
)
from apimeter.api.resolver import USER, USER_OR_KEY, build_resolver, handler, principal
from apimeter.domain.windows import iso
from apimeter.logic import analytics
from apimeter.observability import MetricUnit, metrics

app = build_resolver()


Window = Annotated[Literal["1h", "24h", "7d", "30d"] | None, Query(description="Default 24h, unless from/to")]
From = Annotated[str | None, Query(alias="from", description="Custom range start: ISO 8601 or epoch ms")]
To = Annotated[str | None, Query(alias="to", description="Custom range end (exclusive); default now")]


def _summary(
    project_id: str, window: str | None, start: str | None, end: str | None, compare: bool = True
) -> analytics.Summary:
    result = analytics.summary(principal(app), project_id, window, start, end, compare)
    metrics.add_metric(name="RollupItemsRead", unit=MetricUnit.Count, value=result.items_read)
    return result


@app.get(
    "/v1/projects/<project_id>/metrics/summary",
    security=USER_OR_KEY,
    tags=["analytics"],
    summary="Totals over a window, with the change against the previous one",
)
def summary(project_id: str, window: Window = None, start: From = None, end: To = None) -> SummaryOut:
    return SummaryOut.of(_summary(project_id, window, start, end))


@app.get(
    "/v1/projects/<project_id>/metrics/status-codes",
    security=USER_OR_KEY,
    tags=["analytics"],
    summary="Requests by status code and class",
)
def status_codes(project_id: str, window: Window = None, start: From = None, end: To = None) -> BreakdownOut:
    result = _summary(project_id, window, start, end, compare=False)
    return BreakdownOut.of(result, {str(c): n for c, n in result.totals.status_codes.items()}, with_classes=True)


@app.get("/v1/projects/<project_id>/metrics/methods", security=USER_OR_KEY, tags=["analytics"], summary="By method")
def methods(project_id: str, window: Window = None, start: From = None, end: To = None) -> BreakdownOut:
    result = _summary(project_id, window, start, end, compare=False)
    return BreakdownOut.of(result, result.totals.methods, with_classes=False)


@app.get("/v1/usage", security=USER, tags=["analytics"], summary="Totals across every project of the organization")
def usage(window: Window = None, start: From = None, end: To = None) -> SummaryOut:
    result = analytics.usage(principal(app), window, start, end)
    metrics.add_metric(name="RollupItemsRead", unit=MetricUnit.Count, value=result.items_read)
    return SummaryOut.of(result)


@app.get(
    "/v1/projects/<project_id>/metrics/timeseries",
    security=USER_OR_KEY,
    tags=["analytics"],
    summary="Figures per bucket",
)
def timeseries(
    project_id: str,
    granularity: Annotated[Literal["minute", "hour", "day"], Query()] = "hour",
    start: Annotated[str | None, Query(alias="from", description="ISO 8601 or epoch ms")] = None,
    end: Annotated[str | None, Query(alias="to", description="ISO 8601 or epoch ms; default now")] = None,
) -> TimeseriesOut:
    series = analytics.timeseries(principal(app), project_id, granularity, start, end)
    metrics.add_metric(name="RollupItemsRead", unit=MetricUnit.Count, value=series.items_read)
    points = []
    for ts, totals in series.points:
        latency = totals.latency()
        points.append(
            PointOut(
                ts=iso(ts),
                requests=totals.requests,
                errors=totals.errors,
                latency_ms=PointLatencyOut(p50=latency["p50"], p95=latency["p95"], p99=latency["p99"]),
            )
        )
    return TimeseriesOut.model_validate(
        {"granularity": granularity, "from": iso(series.span.start_ms), "to": iso(series.span.end_ms), "points": points}
    )


@app.get(
    "/v1/projects/<project_id>/events", security=USER_OR_KEY, tags=["analytics"], summary="Raw events, newest first"
)
def list_events(
    project_id: str,
    start: Annotated[
        str | None, Query(alias="from", description="ISO 8601 or epoch ms; default 24 h before 'to'")
    ] = None,
    end: Annotated[str | None, Query(alias="to", description="ISO 8601 or epoch ms (exclusive); default now")] = None,
    endpoint: Annotated[str | None, Query(max_length=512)] = None,
    method: Annotated[str | None, Query(max_length=16)] = None,
    status: Annotated[int | None, Query(ge=100, le=599)] = None,
    consumer: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> EventsPageOut:
    filters = {"endpoint": endpoint, "method": method.upper() if method else None, "status": status,
               "consumer": consumer}  # fmt: skip
    page = analytics.list_events(
        principal(app), project_id, start=start, end=end, filters=filters, limit=limit, cursor=cursor
    )
    metrics.add_metric(name="EventItemsRead", unit=MetricUnit.Count, value=page.items_read)
    return EventsPageOut(events=[EventOut.of(e) for e in page.events], next_cursor=page.next_cursor)


lambda_handler = handler(app)
