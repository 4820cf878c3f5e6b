"""moto's DynamoDB reads made proportional to what they read (offline/moto.py) answer exactly as
moto does: queries on a table's key and on an index, both orders, ranges, pages, after puts and
deletes, on the template's own tables."""

from __future__ import annotations

import inspect
import operator
from collections.abc import Callable
from typing import Any

import pytest

from offline.moto import install_shortcuts


def _keys(items: list[dict[str, Any]], *names: str) -> list[tuple[str, ...]]:
    return [tuple(item[name]["S"] for name in names) for item in items]


def _query_all(client: Any, **kwargs: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    while True:
        page = client.query(**kwargs)
        items += page["Items"]
        if "LastEvaluatedKey" not in page:
            return items
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def test_queries_on_a_tables_key_read_their_partition_and_answer_as_before(aws: dict[str, Any]) -> None:
    from moto.dynamodb.models.table import Table

    install_shortcuts()
    assert Table.query.__name__ == "partition_query"  # the shortcuts are what is tested here
    client, table = aws["dynamodb"], aws["stack"].physical_name("RollupsTable")
    for partition in ("a", "b", "c"):
        for n in (5, 1, 3, 2, 4):
            client.put_item(TableName=table, Item={"pk": {"S": partition}, "sk": {"S": f"{n:02d}"}})

    def query(partition: str, condition: str = "", values: dict[str, Any] | None = None, **kwargs: Any) -> list[Any]:
        values = {":p": {"S": partition}, **(values or {})}
        found = _query_all(client, TableName=table, KeyConditionExpression="pk = :p" + condition,
                           ExpressionAttributeValues=values, **kwargs)  # fmt: skip
        return _keys(found, "pk", "sk")

    assert query("b") == [("b", f"{n:02d}") for n in range(1, 6)]
    assert query("b", ScanIndexForward=False, Limit=2) == [("b", f"{n:02d}") for n in range(5, 0, -1)]
    assert query("c", " AND sk BETWEEN :x AND :y", {":x": {"S": "02"}, ":y": {"S": "04"}}) == [
        ("c", "02"), ("c", "03"), ("c", "04")]  # fmt: skip
    assert query("c", " AND sk > :x", {":x": {"S": "03"}}, Limit=1) == [("c", "04"), ("c", "05")]  # paged in range
    assert query("c", " AND begins_with(sk, :x)", {":x": {"S": "0"}}, ScanIndexForward=False, Limit=2) == [
        ("c", f"{n:02d}") for n in range(5, 0, -1)]  # fmt: skip
    assert client.get_item(TableName=table, Key={"pk": {"S": "z"}, "sk": {"S": "1"}}).get("Item") is None
    assert query("z") == []
    client.delete_item(TableName=table, Key={"pk": {"S": "a"}, "sk": {"S": "03"}})
    client.put_item(TableName=table, Item={"pk": {"S": "a"}, "sk": {"S": "00"}})
    assert query("a") == [("a", n) for n in ("00", "01", "02", "04", "05")]
    assert len(client.scan(TableName=table)["Items"]) == 15


def test_index_queries_see_every_put_and_delete(aws: dict[str, Any]) -> None:
    install_shortcuts()
    client, table = aws["dynamodb"], "indexed"
    keys: Any = [{"AttributeName": "tpk", "KeyType": "HASH"}, {"AttributeName": "tsk", "KeyType": "RANGE"}]
    client.create_table(  # a table with a global secondary index, as moto serves it
        TableName=table,
        AttributeDefinitions=[{"AttributeName": name, "AttributeType": "S"} for name in ("pk", "tpk", "tsk")],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": "by_time", "KeySchema": keys, "Projection": {"ProjectionType": "ALL"}}],
        BillingMode="PAY_PER_REQUEST",
    )

    def put(event: str, day: str, at: str) -> None:
        client.put_item(TableName=table, Item={"pk": {"S": f"prj#{event}"}, "tpk": {"S": f"prj#{day}#0"},
                                               "tsk": {"S": f"{at}#{event}"}})  # fmt: skip

    def by_time(day: str) -> list[tuple[str, ...]]:
        found = _query_all(client, TableName=table, IndexName="by_time", KeyConditionExpression="tpk = :t",
                           ExpressionAttributeValues={":t": {"S": f"prj#{day}#0"}}, Limit=2)  # fmt: skip
        return _keys(found, "tsk")

    for n, at in enumerate(("10:02", "10:00", "10:01")):
        put(f"e{n}", "d1", at)
    put("e9", "d2", "09:00")
    assert by_time("d1") == [("10:00#e1",), ("10:01#e2",), ("10:02#e0",)]
    put("e3", "d1", "09:59")
    client.delete_item(TableName=table, Key={"pk": {"S": "prj#e2"}})
    assert by_time("d1") == [("09:59#e3",), ("10:00#e1",), ("10:02#e0",)]
    assert by_time("d2") == [("09:00#e9",)]
    assert by_time("d3") == []


def test_updates_add_and_refuse_as_moto_does(aws: dict[str, Any]) -> None:
    import botocore.exceptions

    install_shortcuts()
    client, table = aws["dynamodb"], aws["stack"].physical_name("RollupsTable")
    key = {"pk": {"S": "p"}, "sk": {"S": "s"}}
    names = {"#s": "codes", "#n": "n", "#e": "expires_at"}
    for codes, n, expires in ((["1", "2"], "2", "9"), (["2", "3"], "3", "10")):  # the same text, parsed once
        client.update_item(TableName=table, Key=key, UpdateExpression="ADD #s :s, #n :n SET #e = if_not_exists(#e, :e)",
                           ExpressionAttributeNames=names, ExpressionAttributeValues={":s": {"NS": codes},
                           ":n": {"N": n}, ":e": {"N": expires}})  # fmt: skip
    item = client.get_item(TableName=table, Key=key)["Item"]
    assert (sorted(item["codes"]["NS"]), item["n"], item["expires_at"]) == (["1", "2", "3"], {"N": "5"}, {"N": "9"})
    refused = []
    for expression in ("ADD #n :n ADD #e :n", "SET #n = :n SET #e = :n", "ADD #n :n SET #e = :n ADD #s :n"):
        used = {name: value for name, value in names.items() if name in expression}
        with pytest.raises(botocore.exceptions.ClientError) as raised:
            client.update_item(TableName=table, Key=key, UpdateExpression=expression, ExpressionAttributeNames=used,
                               ExpressionAttributeValues={":n": {"N": "1"}})  # fmt: skip
        refused.append(raised.value.response["Error"]["Message"].split("UpdateExpression: ")[1])
    assert refused == [f'The "{kind}" section can only be used once in an update expression;'
                       for kind in ("ADD", "SET", "ADD")]  # fmt: skip
    with pytest.raises(botocore.exceptions.ClientError, match="ConditionalCheckFailed"):
        client.update_item(TableName=table, Key=key, UpdateExpression="ADD #n :n",
                           ConditionExpression="attribute_not_exists(#n)", ExpressionAttributeNames={"#n": "n"},
                           ExpressionAttributeValues={":n": {"N": "1"}})  # fmt: skip


@pytest.mark.parametrize("kind", ["S", "N", "B"])
def test_key_conditions_of_every_operator_find_what_moto_finds(aws: dict[str, Any], kind: str) -> None:
    install_shortcuts()
    client = aws["dynamodb"]
    table = f"ranges-{kind}"
    client.create_table(
        TableName=table,
        BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": kind},
        ],
    )
    numbers = ["-10", "-2.5", "0", "1", "10", "100", "11", "2", "20"]
    raw = numbers if kind == "N" else ["0", "a", "ab", "abc", "b", "b0", "ba", "c"]
    as_sent: dict[str, Callable[[str], str | bytes]] = {"S": str, "N": str, "B": str.encode}
    as_ordered: dict[str, Callable[[str], Any]] = {"S": str, "N": float, "B": str.encode}  # as DynamoDB orders them
    value, order = as_sent[kind], as_ordered[kind]
    present = set(raw[1:])
    for sk in present:
        client.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {kind: value(sk)}})
    tests: dict[str, Callable[[Any, Any], bool]] = {
        "sk = :v0": operator.eq, "sk < :v0": operator.lt, "sk <= :v0": operator.le, "sk > :v0": operator.gt,
        "sk >= :v0": operator.ge, "sk BETWEEN :v0 AND :v1": lambda v, low: low <= v <= order(raw[-2]),
    }  # fmt: skip
    if kind != "N":
        tests["begins_with(sk, :v0)"] = lambda v, prefix: v.startswith(prefix)
    for probe in raw:
        for condition, test in tests.items():
            values = {":p": {"S": "p"}, ":v0": {kind: value(probe)}, ":v1": {kind: value(raw[-2])}}
            used = {name: v for name, v in values.items() if name in condition or name == ":p"}
            found = _query_all(client, TableName=table, KeyConditionExpression="pk = :p AND " + condition,
                               ExpressionAttributeValues=used, Limit=3)  # fmt: skip
            expected = [value(sk) for sk in sorted(present, key=order) if test(order(sk), order(probe))]
            assert [item["sk"][kind] for item in found] == expected, (condition, probe)
        client.delete_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {kind: value(probe)}})  # the next
        present.discard(probe)  # probe's answers see the deletion


def test_items_of_every_type_are_answered_as_moto_serializes_them(
    aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from moto.core.serialize import BaseJSONSerializer, JSONSerializer, XFormedAttributePicker
    from moto.core.utils import get_service_model
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.utilities import dynamo_to_dict

    install_shortcuts()
    client, table = aws["dynamodb"], aws["stack"].physical_name("RollupsTable")
    item: dict[str, Any] = {
        "pk": {"S": "p"}, "sk": {"S": "every type"}, "empty": {"S": ""}, "n": {"N": "-1.50"}, "b": {"B": b"\x00\xff"},
        "ss": {"SS": ["x", "y"]}, "ns": {"NS": ["1", "2.5"]}, "bs": {"BS": [b"a", b"\x01"]}, "null": {"NULL": True},
        "yes": {"BOOL": True}, "no": {"BOOL": False},
        "m": {"M": {"S": {"S": "a key named as a type"}, "l": {"L": [{"N": "1"}, {"M": {"deep": {"BS": [b"z"]}}}]}}},
        "l": {"L": [{"S": "s"}, {"NULL": True}, {"L": []}, {"M": {}}]},
    }  # fmt: skip
    client.put_item(TableName=table, Item=item)
    key = {"pk": {"S": "p"}, "sk": {"S": "every type"}}
    assert client.get_item(TableName=table, Key=key)["Item"] == item
    found = client.query(
        TableName=table, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "p"}}
    )
    assert found["Items"] == [item]

    shortcut = BaseJSONSerializer._serialize_type_structure
    operation = get_service_model("dynamodb").operation_model("Query")
    answer = dynamo_to_dict({"Items": [{name: DynamoType(value) for name, value in item.items()}], "Count": 1})
    bodies = []
    for structure in (inspect.unwrap(shortcut), shortcut):  # moto's own, then the shortcut
        with monkeypatch.context() as patched:
            patched.setattr(BaseJSONSerializer, "_serialize_type_structure", structure)
            serializer = JSONSerializer(operation_model=operation, value_picker=XFormedAttributePicker())
            bodies.append(serializer.serialize(answer)["body"])
    assert bodies[0] == bodies[1]
    assert '"every type"' in bodies[0]


def test_a_transaction_repeated_with_its_token_is_answered_as_the_first(aws: dict[str, Any]) -> None:
    import botocore.exceptions

    install_shortcuts()
    client, table = aws["dynamodb"], aws["stack"].physical_name("EntitiesTable")

    def put_new(sk: str) -> Any:
        item = {"pk": {"S": "T"}, "sk": {"S": sk}}
        return {"Put": {"TableName": table, "Item": item, "ConditionExpression": "attribute_not_exists(pk)"}}

    client.transact_write_items(TransactItems=[put_new("a"), put_new("b")], ClientRequestToken="t1")
    # the SDK's retry of a transaction whose answer was lost: answered as the first, nothing written again
    client.transact_write_items(TransactItems=[put_new("a"), put_new("b")], ClientRequestToken="t1")
    with pytest.raises(botocore.exceptions.ClientError, match="TransactionCanceled"):  # a new request
        client.transact_write_items(TransactItems=[put_new("a"), put_new("b")], ClientRequestToken="t2")
    with pytest.raises(botocore.exceptions.ClientError, match="IdempotentParameterMismatch"):
        client.transact_write_items(TransactItems=[put_new("c")], ClientRequestToken="t1")
    assert len(client.query(TableName=table, KeyConditionExpression="pk = :t",
                            ExpressionAttributeValues={":t": {"S": "T"}})["Items"]) == 2  # fmt: skip
