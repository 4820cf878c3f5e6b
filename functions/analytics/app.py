"""Analytics of a project, read from rollups."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler.openapi.params import Query

from apimeter.api.models import EventOut, EventsPageOut, PointLatencyOut, PointOut, SummaryOut, TimeseriesOut
from apimeter.api.resolver import USER_OR_KEY, build_resolver, handler, principal
from apimeter.domain.windows import iso
from apimeter.logic import analytics
from apimeter.observability import MetricUnit, metrics

app = build_resolver()


@app.get(
    "/v1/projects/<project_id>/metrics/summary",
    security=USER_OR_KEY,
    tags=["analytics"],
    summary="Totals over a window",
)
def summary(project_id: str, window: Annotated[Literal["1h", "24h", "7d", "30d"], Query()] = "24h") -> SummaryOut:
    result = analytics.summary(principal(app), project_id, window)
    metrics.add_metric(name="RollupItemsRead", unit=MetricUnit.Count, value=result.items_read)
    return SummaryOut.of(result.window, result.span, result.totals)


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
