"""Saves the stack's data on a clean stop and restores it on start, so a restart loses nothing.

Tables are written as DynamoDB JSON lines, one file per table, and secrets as one JSON file (a new
JWT key or pepper would invalidate every token and API key). Files are written beside and renamed,
so a crash while saving leaves the previous state whole.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

_SECRETS = "secrets.json"
_BYTES = "$base64"  # binary attribute values (B, BS) as JSON


def _encode_bytes(value: Any) -> dict[str, str]:
    if isinstance(value, bytes):
        return {_BYTES: base64.b64encode(value).decode()}
    raise TypeError(f"cannot save {type(value).__name__}")


def _decode_bytes(found: dict[str, Any]) -> Any:
    return base64.b64decode(found[_BYTES]) if set(found) == {_BYTES} else found


def save(directory: Path, client: Any, tables: list[str], secrets: dict[str, str]) -> int:
    directory.mkdir(parents=True, exist_ok=True)
    count = 0
    for table in tables:
        target = directory / f"{table}.jsonl"
        partial = target.with_suffix(".partial")
        with partial.open("w") as out:
            kwargs: dict[str, Any] = {"TableName": table}
            while True:
                page = client.scan(**kwargs)
                for item in page.get("Items", []):
                    out.write(json.dumps(item, separators=(",", ":"), default=_encode_bytes) + "\n")
                    count += 1
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        os.replace(partial, target)
    secrets_file = directory / _SECRETS
    partial = secrets_file.with_suffix(".partial")
    partial.write_text(json.dumps(secrets))
    partial.chmod(0o600)
    os.replace(partial, secrets_file)
    return count


def saved_secrets(directory: Path) -> dict[str, str]:
    path = directory / _SECRETS
    return dict(json.loads(path.read_text())) if path.exists() else {}


def _upgraded(item: dict[str, Any]) -> dict[str, Any]:
    """An item as the current keys have it. Events saved before the events table lost its by_time
    index were keyed pk = <project>#<event_id>, with the time order in tpk/tsk; the time order is
    now the table's own key."""
    if "tpk" in item and "tsk" in item and "sk" not in item:
        upgraded = {name: value for name, value in item.items() if name not in ("tpk", "tsk")}
        return upgraded | {"pk": item["tpk"], "sk": item["tsk"]}
    return item


def restore(directory: Path, client: Any, tables: list[str]) -> int:
    count = 0
    for table in tables:
        source = directory / f"{table}.jsonl"
        if not source.exists():
            continue
        batch: list[dict[str, Any]] = []
        with source.open() as lines:
            for line in lines:
                batch.append({"PutRequest": {"Item": _upgraded(json.loads(line, object_hook=_decode_bytes))}})
                if len(batch) == 25:
                    client.batch_write_item(RequestItems={table: batch})
                    count += len(batch)
                    batch = []
        if batch:
            client.batch_write_item(RequestItems={table: batch})
            count += len(batch)
    return count


_FILES = "s3"


def save_files(directory: Path, client: Any, buckets: list[str]) -> int:
    """Copy every object of ``buckets`` (export files) under ``directory/s3/<bucket>/``."""
    count = 0
    for bucket in buckets:
        root = directory / _FILES / bucket
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for item in page.get("Contents", []):
                target = root / item["Key"]
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = target.with_name(target.name + ".partial")
                partial.write_bytes(client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read())
                os.replace(partial, target)
                count += 1
    return count


def restore_files(directory: Path, client: Any, buckets: list[str]) -> int:
    count = 0
    for bucket in buckets:
        root = directory / _FILES / bucket
        for path in sorted(root.rglob("*")) if root.exists() else []:
            if path.is_file() and not path.name.endswith(".partial"):
                client.put_object(Bucket=bucket, Key=path.relative_to(root).as_posix(), Body=path.read_bytes())
                count += 1
    return count
