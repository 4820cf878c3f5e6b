"""The offline stack's TTL sweeper and its save/restore of data across restarts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3

from offline import resources, state, ttl


def test_sweeper_deletes_only_expired_items(aws: dict[str, Any]) -> None:
    stack = aws["stack"]
    table = stack.physical_name("EventsTable")
    client = aws["dynamodb"]
    client.put_item(TableName=table, Item={"pk": {"S": "old"}, "expires_at": {"N": "100"}})
    client.put_item(TableName=table, Item={"pk": {"S": "new"}, "expires_at": {"N": "9999999999"}})
    client.put_item(TableName=table, Item={"pk": {"S": "forever"}})
    assert ttl.sweep(client, resources.ttl_attributes(stack), now=1000) == 1
    left = {i["pk"]["S"] for i in client.scan(TableName=table)["Items"]}
    assert left == {"new", "forever"}


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


def test_export_files_survive_a_restart(aws: dict[str, Any], tmp_path: Path) -> None:
    bucket = aws["stack"].physical_name("ExportsBucket")
    s3 = boto3.client("s3")
    s3.put_object(Bucket=bucket, Key="exports/t/p/e1.csv", Body=b"a,b\n1,2\n")
    assert state.save_files(tmp_path, s3, [bucket]) == 1
    s3.delete_object(Bucket=bucket, Key="exports/t/p/e1.csv")
    assert state.restore_files(tmp_path, s3, [bucket]) == 1
    assert s3.get_object(Bucket=bucket, Key="exports/t/p/e1.csv")["Body"].read() == b"a,b\n1,2\n"
    assert state.restore_files(tmp_path / "none", s3, [bucket]) == 0
