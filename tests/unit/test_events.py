from __future__ import annotations

import json

import pytest

from apimeter.domain.accounts import Pricing
from apimeter.domain.events import MAX_BATCH, IngestPolicy, parse_body, screen, validate_event
from apimeter.errors import ValidationFailed

NOW = 1_763_812_800_000  # 2025-11-22T12:00:00Z
POLICY = IngestPolicy(retention_days=30, max_future_skew_seconds=900)


def valid(**fields: object) -> dict[str, object]:
    event: dict[str, object] = {"method": "get", "path": "/users/42?x=1#frag", "status": 200, "latency_ms": 12.5}
    event.update(fields)
    return event


def test_normalizes_method_path_and_defaults() -> None:
    event = validate_event("prj", valid(), POLICY, NOW)
    assert event.method == "GET"
    assert event.path == "/users/42"
    assert event.endpoint == "/users/{id}"  # no template sent: the path's template stands in
    assert event.ts_ms == NOW
    assert event.event_id  # generated


def test_endpoint_template_wins_over_path() -> None:
    assert validate_event("prj", valid(endpoint="/users/{id}"), POLICY, NOW).endpoint == "/users/{id}"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"status": 99}, "status"),
        ({"status": 600}, "status"),
        ({"method": "FETCH"}, "method"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"ip": "999.1.1.1"}, "ip"),
        ({"unknown": 1}, "unknown"),
        ({"timestamp": 1.5}, "timestamp"),
        ({"timestamp": "2025-11-22T12:00:00"}, "UTC offset"),
        ({"timestamp": NOW + 3_600_000}, "future"),
        ({"timestamp": NOW - 31 * 86_400_000}, "retention"),
        ({"event_id": "has space"}, "event_id"),
        ({"properties": {f"k{i}": i for i in range(40)}}, "properties"),
        ({"path": None}, "endpoint or path"),
    ],
)
def test_rejects_with_a_message_naming_the_problem(fields: dict[str, object], message: str) -> None:
    raw = valid(**fields)
    if fields.get("path", "") is None:
        raw.pop("path")
    with pytest.raises(ValidationFailed, match=message):
        validate_event("prj", raw, POLICY, NOW)


def test_iso_and_epoch_of_the_same_instant_fingerprint_alike() -> None:
    a = validate_event("prj", valid(event_id="e1", timestamp="2025-11-22T11:59:00Z"), POLICY, NOW)
    b = validate_event("prj", valid(event_id="e1", timestamp=NOW - 60_000), POLICY, NOW)
    assert a.ts_ms == b.ts_ms
    assert a.fingerprint == b.fingerprint


def test_fingerprint_ignores_the_default_timestamp_but_not_a_changed_field() -> None:
    first = validate_event("prj", valid(event_id="e1"), POLICY, NOW)
    later = validate_event("prj", valid(event_id="e1"), POLICY, NOW + 5000)
    changed = validate_event("prj", valid(event_id="e1", status=500), POLICY, NOW)
    assert first.fingerprint == later.fingerprint
    assert first.fingerprint != changed.fingerprint


def test_parse_body_single_and_batch() -> None:
    assert parse_body(json.dumps(valid())) == ([valid()], False)
    assert parse_body(json.dumps({"events": [valid(), valid()]}))[1] is True


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[1, 2]",
        '{"events": []}',
        '{"events": {}}',
        json.dumps({"events": [{}] * (MAX_BATCH + 1)}),
        '{"events": [{}], "extra": 1}',
    ],
)
def test_parse_body_rejects_whole_requests(body: str) -> None:
    with pytest.raises(ValidationFailed):
        parse_body(body)


def test_screen_keeps_valid_items_and_rejects_bad_ones_by_index() -> None:
    items = [valid(event_id="a"), {"method": "GET"}, valid(event_id="a"), valid(event_id="a", status=500), "x"]
    screened = screen("prj", items, POLICY, NOW)
    assert [index for index, _ in screened.unique] == [0]
    assert screened.duplicates == 1
    assert [(r.index, r.code) for r in screened.rejected] == [
        (1, "VALIDATION_ERROR"),
        (3, "CONFLICT"),
        (4, "VALIDATION_ERROR"),
    ]


def test_pricing_costs_an_event_without_a_cost_by_its_route_and_bytes() -> None:
    pricing = Pricing(
        per_request=0.001,
        per_gb_out=0.09,
        per_endpoint=(("POST /v1/generate*", 0.02), ("* /v1/generate*", 0.01)),
    )
    policy = IngestPolicy(retention_days=30, max_future_skew_seconds=900, pricing=pricing)
    now = 1_700_000_000_000

    def cost(**fields: object) -> float | None:
        return validate_event(
            "prj", {"method": "GET", "endpoint": "/v1/items", "status": 200} | fields, policy, now
        ).cost

    assert cost() == pytest.approx(0.001)
    assert cost(method="POST", endpoint="/v1/generate/{model}") == pytest.approx(0.02)  # the first match wins
    assert cost(method="GET", endpoint="/v1/generate") == pytest.approx(0.01)
    assert cost(response_bytes=2_000_000_000) == pytest.approx(0.001 + 0.18)
    assert cost(cost=0.5) == 0.5  # a cost sent with the event is kept as sent
    assert cost(cost=0) == 0
    free = IngestPolicy(retention_days=30, max_future_skew_seconds=900)
    assert validate_event("prj", {"method": "GET", "endpoint": "/", "status": 200}, free, now).cost is None
