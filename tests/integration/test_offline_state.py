"""The offline stack's TTL sweeper and its save/restore of data across restarts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from apimeter.dal.dynamo import deserialize, serialize
from offline import resources, state, ttl
from offline.moto import expired_keys

SK = {"S": "0000000000000#e"}


@pytest.mark.parametrize("finder", ["scan", "moto's memory"])
def test_sweeper_deletes_only_expired_items(aws: dict[str, Any], finder: str) -> None:
    stack = aws["stack"]
    events, rollups = stack.physical_name("EventsTable"), stack.physical_name("RollupsTable")
    client = aws["dynamodb"]
    client.put_item(TableName=events, Item={"pk": {"S": "old"}, "sk": SK, "expires_at": {"N": "100"}})
    client.put_item(TableName=events, Item={"pk": {"S": "new"}, "sk": SK, "expires_at": {"N": "9999999999"}})
    client.put_item(TableName=events, Item={"pk": {"S": "forever"}, "sk": SK})
    if finder != "scan":  # moto's Scan cannot compare a string with the cutoff; DynamoDB's TTL ignores it
        client.put_item(TableName=events, Item={"pk": {"S": "text"}, "sk": SK, "expires_at": {"S": "100"}})
    for sk, expires in (("a", "999"), ("b", "1000"), ("c", "5")):
        client.put_item(TableName=rollups, Item={"pk": {"S": "p"}, "sk": {"S": sk}, "expires_at": {"N": expires}})
    find = expired_keys if finder != "scan" else None
    assert ttl.sweep(client, resources.ttl_attributes(stack), now=1000, find=find) == 3
    assert {i["pk"]["S"] for i in client.scan(TableName=events)["Items"]} == {"new", "forever"} | (
        {"text"} if find else set()
    )
    assert [i["sk"]["S"] for i in client.scan(TableName=rollups)["Items"]] == ["b"]


def test_sweeper_keeps_an_item_whose_expiry_moved_after_it_was_found(aws: dict[str, Any]) -> None:
    stack = aws["stack"]
    table = stack.physical_name("EventsTable")
    client = aws["dynamodb"]
    client.put_item(TableName=table, Item={"pk": {"S": "renewed"}, "sk": SK, "expires_at": {"N": "100"}})
    found = expired_keys(table, "expires_at", 1000)
    client.put_item(TableName=table, Item={"pk": {"S": "renewed"}, "sk": SK, "expires_at": {"N": "5000"}})
    assert ttl.sweep(client, {table: "expires_at"}, now=1000, find=lambda *_: found) == 0
    renewed = client.get_item(TableName=table, Key={"pk": {"S": "renewed"}, "sk": SK})["Item"]
    assert renewed["expires_at"] == {"N": "5000"}


def test_save_and_restore_round_trip(aws: dict[str, Any], tmp_path: Path) -> None:
    stack = aws["stack"]
    client = aws["dynamodb"]
    table = stack.physical_name("RollupsTable")
    for i in range(59):  # more than one BatchWriteItem
        client.put_item(TableName=table, Item={"pk": {"S": "p"}, "sk": {"S": f"{i:03d}"}, "n": {"N": str(i)}})
    binary = {"pk": {"S": "p"}, "sk": {"S": "state"}, "b": {"B": b"\x00\xffzlib"}, "bs": {"BS": [b"a", b"\x01"]}}
    client.put_item(TableName=table, Item=binary)  # detector states and forecast paths are binary
    tables = [table]
    assert state.save(tmp_path, client, tables, {"jwt": "secret"}) == 60
    client.delete_table(TableName=table)
    client.create_table(**resources.table_request(stack, "RollupsTable"))
    assert state.restore(tmp_path, client, tables) == 60
    assert boto3.client("dynamodb").scan(TableName=table)["Count"] == 60
    restored = client.get_item(TableName=table, Key={"pk": {"S": "p"}, "sk": {"S": "state"}})["Item"]
    assert (restored["b"]["B"], sorted(restored["bs"]["BS"])) == (b"\x00\xffzlib", [b"\x01", b"a"])
    assert state.saved_secrets(tmp_path) == {"jwt": "secret"}
    assert state.saved_secrets(tmp_path / "none") == {}


def test_events_saved_with_the_old_keys_are_restored_with_the_new(aws: dict[str, Any], tmp_path: Path) -> None:
    stack, client = aws["stack"], aws["dynamodb"]
    table = stack.physical_name("EventsTable")
    old = {"pk": "prj#e1", "tpk": "prj#2026-11-29#3", "tsk": "1795900000000#e1", "event_id": "e1", "ts": 1795900000000}
    (tmp_path / f"{table}.jsonl").write_text(json.dumps(serialize(old)) + "\n")

    assert state.restore(tmp_path, client, [table]) == 1
    (item,) = client.scan(TableName=table)["Items"]
    assert deserialize(item) == {"pk": "prj#2026-11-29#3", "sk": "1795900000000#e1", "event_id": "e1",
                                 "ts": 1795900000000}  # fmt: skip


def test_export_files_survive_a_restart(aws: dict[str, Any], tmp_path: Path) -> None:
    bucket = aws["stack"].physical_name("ExportsBucket")
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="exports/t/p/e1.csv", Body=b"a,b\n1,2\n")
    assert state.save_files(tmp_path, s3, [bucket]) == 1
    s3.delete_object(Bucket=bucket, Key="exports/t/p/e1.csv")
    assert state.restore_files(tmp_path, s3, [bucket]) == 1
    assert s3.get_object(Bucket=bucket, Key="exports/t/p/e1.csv")["Body"].read() == b"a,b\n1,2\n"
    assert state.restore_files(tmp_path / "none", s3, [bucket]) == 0
