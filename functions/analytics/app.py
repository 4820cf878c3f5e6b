"""Analytics of a project, read from rollups."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import unquote

from aws_lambda_powertools.event_handler.openapi.params import Query

from apimeter.api.models.analytics import (
    BreakdownOut,
    ConsumersOut,
    ConsumerUsageOut,
    DailyOut,
    EndpointsOut,
    EventsPageOut,
    SummaryOut,
    TimeseriesOut,
)
from apimeter.api.models.common import INSTANT, instant
from apimeter.api.resolver import USER, USER_OR_KEY, build_resolver, handler, principal
from apimeter.domain.rollups import CONSUMER, ENDPOINT, StatusClass
from apimeter.domain.windows import Granularity, WindowName
from apimeter.logic import analytics
from apimeter.observability import MetricUnit, metrics
from apimeter.settings import require

require("ENTITIES_TABLE", "EVENTS_TABLE", "ROLLUPS_TABLE")

app = build_resolver()


Window = Annotated[WindowName | None, Query(description="Default 24h, unless from/to")]


def _instant(name: str, description: str) -> Query:
    # Powertools types json_schema_extra as a dict, but hands it to pydantic, which also takes a
    # function of the schema: the only way to shape the string branch of an optional parameter.
    extra: Any = instant
    return Query(
        alias=name, min_length=1, max_length=64, json_schema_extra=extra, description=f"{description} {INSTANT}"
    )


From = Annotated[str | None, _instant("from", "Custom range start; default 24 h before 'to'.")]
To = Annotated[str | None, _instant("to", "Custom range end (exclusive); default now.")]
SeriesFrom = Annotated[str | None, _instant("from", "Default: the last 60 minutes, 24 hours or 30 days.")]
SeriesTo = Annotated[str | None, _instant("to", "Exclusive; default now. At most 1,500 buckets end here.")]
Step = Annotated[Granularity, Query()]
Limit = Annotated[int, Query(ge=1, le=1000, description="How many rows")]
_ONE_METRIC = "|".join(analytics.SERIES_METRICS)
_LIST_OF_METRICS = f"^ *({_ONE_METRIC}) *(, *({_ONE_METRIC}) *)*$"
Metrics = Annotated[
    str | None,
    Query(
        alias="metrics",
        max_length=200,
        pattern=_LIST_OF_METRICS,
        description=f"Comma-separated, of: {', '.join(analytics.SERIES_METRICS)}. "
        "Default requests,errors,latency (requests,errors with status_class).",
    ),
]
Sort = Annotated[Literal["requests", "errors", "latency_p95", "error_rate"], Query()]


def _read(items_read: int) -> None:
    metrics.add_metric(name="RollupItemsRead", unit=MetricUnit.Count, value=items_read)


def _summary(
    project_id: str, window: str | None, start: str | None, end: str | None, compare: bool = True
) -> analytics.Summary:
    result = analytics.summary(principal(app), project_id, window, start, end, compare)
    _read(result.items_read)
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
    return BreakdownOut.of(result, result.status_code_shares, with_classes=True)


@app.get("/v1/projects/<project_id>/metrics/methods", security=USER_OR_KEY, tags=["analytics"], summary="By method")
def methods(project_id: str, window: Window = None, start: From = None, end: To = None) -> BreakdownOut:
    result = _summary(project_id, window, start, end, compare=False)
    return BreakdownOut.of(result, result.method_shares, with_classes=False)


@app.get("/v1/usage", security=USER, tags=["analytics"], summary="Totals across every project of the organization")
def usage(window: Window = None, start: From = None, end: To = None) -> SummaryOut:
    result = analytics.usage(principal(app), window, start, end)
    _read(result.items_read)
    return SummaryOut.of(result)


@app.get(
    "/v1/projects/<project_id>/metrics/endpoints",
    security=USER_OR_KEY,
    tags=["analytics"],
    summary="Top endpoints: requests, errors, error rate and latency percentiles",
)
def endpoints(
    project_id: str, window: Window = None, start: From = None, end: To = None, limit: Limit = 20,
    sort: Sort = "requests",
) -> EndpointsOut:  # fmt: skip
    return EndpointsOut.of(_ranking(project_id, ENDPOINT, window, start, end, limit, sort), sort)


@app.get(
    "/v1/projects/<project_id>/metrics/consumers",
    security=USER_OR_KEY,
    tags=["analytics"],
    summary="Top consumers",
)
def consumers(
    project_id: str, window: Window = None, start: From = None, end: To = None, limit: Limit = 20,
    sort: Sort = "requests",
) -> ConsumersOut:  # fmt: skip
    return ConsumersOut.of(_ranking(project_id, CONSUMER, window, start, end, limit, sort), sort)


def _ranking(
    project_id: str, dimension: str, window: str | None, start: str | None, end: str | None, limit: int, sort: str
) -> analytics.Ranking:
    ranking = analytics.ranking(
        principal(app), project_id, dimension, window=window, start=start, end=end, limit=limit, sort=sort
    )
    _read(ranking.items_read)
    return ranking


@app.get(
    "/v1/projects/<project_id>/consumers/<consumer>/usage",
    security=USER_OR_KEY,
    tags=["analytics"],
    summary="One consumer's usage over a window, with the change against the previous one",
)
def consumer_usage(
    project_id: str, consumer: str, window: Window = None, start: From = None, end: To = None
) -> ConsumerUsageOut:
    name = unquote(consumer)
    result = analytics.consumer_usage(principal(app), project_id, name, window, start, end)
    _read(result.items_read)
    figures = SummaryOut.of(result, with_consumers=False).model_dump(by_alias=True)
    return ConsumerUsageOut.model_validate({**figures, "consumer": name})


@app.get(
    "/v1/projects/<project_id>/metrics/daily",
    security=USER_OR_KEY,
    tags=["analytics"],
    summary="Usage per UTC day and consumer",
)
def daily(
    project_id: str,
    days: Annotated[int, Query(ge=1, le=analytics.MAX_DAYS, description="Days up to today")] = 7,
    limit: Annotated[int, Query(ge=1, le=1000, description="Consumers listed per day")] = 20,
) -> DailyOut:
    found, items_read = analytics.daily(principal(app), project_id, days, limit)
    _read(items_read)
    return DailyOut.of(found)


@app.get(
    "/v1/projects/<project_id>/metrics/timeseries",
    security=USER_OR_KEY,
    tags=["analytics"],
    summary="Figures per bucket",
)
def timeseries(
    project_id: str,
    granularity: Step = "hour",
    start: SeriesFrom = None,
    end: SeriesTo = None,
    endpoint: Annotated[str | None, Query(max_length=512, description="Route template, e.g. /users/{id}")] = None,
    method: Annotated[str | None, Query(max_length=16)] = None,
    status_class: Annotated[StatusClass | None, Query(description="Counts of that class only")] = None,
    selected: Metrics = None,
) -> TimeseriesOut:
    filters = {"endpoint": endpoint, "method": method.upper() if method else None, "status_class": status_class}
    return _series(project_id, granularity, start, end, filters, selected)


@app.get(
    "/v1/projects/<project_id>/consumers/<consumer>/timeseries",
    security=USER_OR_KEY,
    tags=["analytics"],
    summary="One consumer's figures per bucket",
)
def consumer_timeseries(
    project_id: str,
    consumer: str,
    granularity: Step = "hour",
    start: SeriesFrom = None,
    end: SeriesTo = None,
    status_class: Annotated[StatusClass | None, Query(description="Counts of that class only")] = None,
    selected: Metrics = None,
) -> TimeseriesOut:
    filters = {"consumer": unquote(consumer), "status_class": status_class}
    return _series(project_id, granularity, start, end, filters, selected)


def _series(
    project_id: str, granularity: Granularity, start: str | None, end: str | None, filters: dict[str, str | None],
    selected: str | None,
) -> TimeseriesOut:  # fmt: skip
    default = "requests,errors" if filters.get("status_class") else "requests,errors,latency"
    chosen = tuple(dict.fromkeys(m.strip() for m in (selected or default).split(",") if m.strip()))
    wanted = analytics.SeriesFilter(**filters)
    series = analytics.timeseries(principal(app), project_id, granularity, start, end, wanted, chosen)
    _read(series.items_read)
    return TimeseriesOut.of(series, {k: v for k, v in filters.items() if v is not None})


@app.get(
    "/v1/projects/<project_id>/events", security=USER_OR_KEY, tags=["analytics"], summary="Raw events, newest first"
)
def list_events(
    project_id: str,
    start: From = None,
    end: To = None,
    endpoint: Annotated[str | None, Query(max_length=512)] = None,
    method: Annotated[str | None, Query(max_length=16)] = None,
    status: Annotated[int | None, Query(ge=100, le=599)] = None,
    consumer: Annotated[str | None, Query(max_length=256)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[
        str | None, Query(pattern=analytics.CURSOR_PATTERN, description="next_cursor of the page before")
    ] = None,
) -> EventsPageOut:
    filters = {"endpoint": endpoint, "method": method.upper() if method else None, "status": status,
               "consumer": consumer}  # fmt: skip
    page = analytics.list_events(
        principal(app), project_id, start=start, end=end, filters=filters, limit=limit, cursor=cursor
    )
    metrics.add_metric(name="EventItemsRead", unit=MetricUnit.Count, value=page.items_read)
    return EventsPageOut.of(page)


lambda_handler = handler(app)
