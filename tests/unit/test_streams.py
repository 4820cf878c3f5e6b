from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from apimeter.dal import events, streams
from apimeter.dal.dynamo import deserialize, serialize
from apimeter.domain.events import TrackedEvent
from apimeter.logic import spend
from tests.builders import sample

ITEM: dict[str, Any] = {
    "s": {"S": "text"},
    "n": {"N": "38.5"},
    "big": {"N": "12345678901234567890123456789012345678"},
    "tiny": {"N": "1E-130"},
    "b": {"B": b"\x00\x01"},
    "yes": {"BOOL": True},
    "none": {"NULL": True},
    "list": {"L": [{"S": "a"}, {"N": "1"}]},
    "map": {"M": {"inner": {"N": "-2"}}},
    "ss": {"SS": ["x", "y"]},
    "ns": {"NS": ["1", "2.5"]},
    "bs": {"BS": [b"a", b"b"]},
}


def test_every_attribute_type_decodes_as_boto3_does_with_binaries_as_bytes() -> None:
    expected = {name: TypeDeserializer().deserialize(value) for name, value in ITEM.items()}
    expected["b"], expected["bs"] = b"\x00\x01", {b"a", b"b"}  # boto3 wraps them in its Binary
    decoded = deserialize(ITEM)
    assert decoded == expected
    assert [type(v) for v in decoded.values()] == [type(v) for v in expected.values()]


def test_every_type_encodes_as_boto3_does_and_decodes_back() -> None:
    values = deserialize(ITEM) | {"int": 7, "float": 0.1, "bool": False, "tuple": ("a", 1), "bytes": bytearray(b"z")}
    values["nested"] = {"kept": None}  # None is NULL within a value
    encoded = serialize(values)
    as_boto3 = values | {"float": Decimal("0.1")}  # boto3 takes no floats
    boto3_encoded = {k: TypeSerializer().serialize(v) for k, v in as_boto3.items() if v is not None}
    boto3_encoded["ss"] = {"SS": sorted(boto3_encoded["ss"]["SS"])}
    assert {k: v for k, v in encoded.items() if k not in ("ns", "bs")} == {
        k: v for k, v in boto3_encoded.items() if k not in ("ns", "bs")
    }
    assert sorted(encoded["ns"]["NS"]) == sorted(boto3_encoded["ns"]["NS"])
    assert deserialize(encoded)["float"] == Decimal("0.1")
    assert deserialize(encoded)["ns"] == values["ns"]
    assert "none" not in encoded  # None values are left out of an item


@pytest.mark.parametrize("value", [float("nan"), Decimal("Infinity"), 10**40 + 1, Decimal("1E-200"), object(), set()])
def test_what_dynamodb_cannot_store_exactly_is_refused(value: Any) -> None:
    with pytest.raises((TypeError, ArithmeticError)):
        serialize({"x": value})


def test_an_insert_yields_its_new_item_with_decimal_numbers() -> None:
    record = sample("budget_watch")["Records"][0]
    row = streams.new_image(record)
    assert row is not None
    assert row["ts"] == Decimal("1763812798120")
    assert row["cost"] == Decimal("0.0004")
    assert events.from_row(row) == events.from_image(record["dynamodb"]["NewImage"])
    assert events.received_of(record["dynamodb"]["NewImage"]) == 1763812800012


def test_records_that_add_no_event_yield_nothing() -> None:
    record = sample("budget_watch")["Records"][0]
    for name in ("MODIFY", "REMOVE"):
        assert streams.new_image({**record, "eventName": name}) is None


def test_spend_and_aggregation_read_the_same_image() -> None:
    record = sample("budget_watch")["Records"][0]
    [charge] = spend.charges([record])
    event = events.from_row(streams.new_image(record) or {})
    assert (charge.project_id, charge.ts_ms, charge.cost) == (event.project_id, event.ts_ms, event.cost)
    no_image = copy.deepcopy(record)
    del no_image["dynamodb"]["NewImage"]
    assert spend.charges([no_image]) == []  # nothing to charge, and the batch goes on


def test_an_image_decodes_straight_to_the_event_it_was_written_from() -> None:
    event = TrackedEvent(
        project_id="prj_1",
        event_id="e-1",
        ts_ms=1_763_812_798_120,
        method="POST",
        endpoint="/users/{id}",
        status=201,
        fingerprint="fp",
        path="/users/7",
        latency_ms=17.81,
        request_bytes=12,
        response_bytes=345,
        consumer="acme",
        ip="10.0.0.1",
        user_agent="curl/8",
        cost=0.0004,
        units=2.5,
        properties={"plan": "pro", "n": 3},
        folded="ec",
    )  # every field set, each to its own value: a field decoded into another's place would show
    image = events.to_item(event, retention_days=30, shards=8, received_ms=1_763_812_800_012)
    assert events.from_image(image) == event == events.from_row(deserialize(image))
    assert events.received_of(image) == 1_763_812_800_012 == int(deserialize(image)["received"])


def test_attributes_written_otherwise_decode_as_the_general_way_does() -> None:
    image = sample("budget_watch")["Records"][0]["dynamodb"]["NewImage"]
    odd: dict[str, Any] = {
        **image,
        "status": {"N": "2E+2"},
        "request_bytes": {"N": "100.0"},
        "latency_ms": {"NULL": True},
        "consumer": {"NULL": True},
        "received": {"N": "12.0"},
    }
    assert events.from_image(odd) == events.from_row(deserialize(odd))
    assert (events.from_image(odd).status, events.from_image(odd).request_bytes) == (200, 100)
    assert events.received_of(odd) == 12
    assert events.received_of({k: v for k, v in odd.items() if k != "received"}) is None
