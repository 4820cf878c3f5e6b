"""The cost model's meter (tools/cost/meter.py) on in-process moto: a known sequence of real calls
gives known capacity units, read from the items before and after each write."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from offline import inprocess
from tools.cost.meter import Meter, tables_of_moto

BY: Any = [{"AttributeName": "tpk", "KeyType": "HASH"}, {"AttributeName": "tsk", "KeyType": "RANGE"}]


@pytest.fixture
def metered() -> Iterator[tuple[Any, Meter]]:
    meter = Meter()
    with inprocess.moto(around=meter.around):
        dynamodb: Any = boto3.client("dynamodb")
        dynamodb.create_table(
            TableName="events",
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("pk", "tpk", "tsk")],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[{"IndexName": "by_time", "Projection": {"ProjectionType": "ALL"}, "KeySchema": BY}],
            BillingMode="PAY_PER_REQUEST",
        )
        meter.watch(tables_of_moto({"events": "Events"}))
        yield dynamodb, meter


def _item(pk: str, pad: int, indexed: bool = True) -> dict[str, Any]:
    item = {"pk": {"S": pk}, "body": {"S": "x" * pad}}
    return item | ({"tpk": {"S": "d"}, "tsk": {"S": pk}} if indexed else {})


def test_a_known_sequence_of_writes_costs_known_units(metered: tuple[Any, Meter]) -> None:
    dynamodb, meter = metered
    with meter.invocation("F"):
        dynamodb.put_item(TableName="events", Item=_item("a", 100))  # 1 + index 1
        dynamodb.put_item(TableName="events", Item=_item("b", 1500, indexed=False))  # 2, no index
        dynamodb.update_item(  # b grows to ~2.5 KB: 3 (the larger of before and after), joins the index: 3
            TableName="events", Key={"pk": {"S": "b"}},
            UpdateExpression="SET body = :p, tpk = :d, tsk = :b",
            ExpressionAttributeValues={":p": {"S": "y" * 2500}, ":d": {"S": "d"}, ":b": {"S": "b"}},
        )  # fmt: skip
        with pytest.raises(ClientError):  # b exists: the failed condition costs its size, 3
            dynamodb.put_item(TableName="events", Item=_item("b", 10), ConditionExpression="attribute_not_exists(pk)")
        dynamodb.transact_write_items(TransactItems=[  # twice the unit each: 2 + 2, no index entry
            {"Put": {"TableName": "events", "Item": _item("c", 10, indexed=False)}},
            {"Put": {"TableName": "events", "Item": _item("d", 10, indexed=False)}},
        ])  # fmt: skip
        dynamodb.delete_item(TableName="events", Key={"pk": {"S": "a"}})  # 1, and its index entry 1

    units = meter.ledger.units
    assert units[("F", "Events", "", "write")] == 1 + 2 + 3 + 3 + 4 + 1
    assert units[("F", "Events", "by_time", "write")] == 1 + 3 + 1
    assert meter.invocations["F"].count == 1


def test_reads_cost_per_4_kb_halved_when_eventually_consistent(metered: tuple[Any, Meter]) -> None:
    dynamodb, meter = metered
    for pk in ("a", "b", "c"):
        dynamodb.put_item(TableName="events", Item=_item(pk, 2000))
    meter.reset()
    dynamodb.get_item(TableName="events", Key={"pk": {"S": "a"}})  # 2 KB, eventually consistent: 0.5
    dynamodb.get_item(TableName="events", Key={"pk": {"S": "z"}}, ConsistentRead=True)  # a miss: 1
    dynamodb.query(  # three items of ~2 KB, summed then rounded: 2 blocks, halved: 1
        TableName="events", IndexName="by_time", KeyConditionExpression="tpk = :d",
        ExpressionAttributeValues={":d": {"S": "d"}}, ProjectionExpression="pk",
    )  # fmt: skip

    assert meter.ledger.units[("-", "Events", "", "read")] == 1.5
    assert meter.ledger.units[("-", "Events", "by_time", "read")] == 1.0
    assert meter.requests["dynamodb Query"] == 1
