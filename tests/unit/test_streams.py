from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from apimeter.dal import events, streams
from apimeter.dal.dynamo import deserialize
from apimeter.logic import spend
from tests.builders import sample


def test_every_attribute_type_decodes_as_boto3_does() -> None:
    item: dict[str, Any] = {
        "s": {"S": "text"},
        "n": {"N": "38.5"},
        "big": {"N": "12345678901234567890123456789012345678"},
        "b": {"B": b"\x00\x01"},
        "yes": {"BOOL": True},
        "none": {"NULL": True},
        "list": {"L": [{"S": "a"}, {"N": "1"}]},
        "map": {"M": {"inner": {"N": "-2"}}},
        "ss": {"SS": ["x", "y"]},
        "ns": {"NS": ["1", "2.5"]},
    }
    expected = {name: TypeDeserializer().deserialize(value) for name, value in item.items()}
    decoded = deserialize(item)
    assert decoded == expected
    assert [type(v) for v in decoded.values()] == [type(v) for v in expected.values()]


def test_an_insert_yields_its_new_item_with_decimal_numbers() -> None:
    record = sample("budget_watch")["Records"][0]
    row = streams.new_image(record)
    assert row is not None
    assert row["ts"] == Decimal("1763812798120")
    assert row["cost"] == Decimal("0.0004")
    assert events.from_row(row) == events.from_image(record["dynamodb"]["NewImage"])
    assert events.received_ms(row) == 1763812800012


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
