"""Saves the stack's data on a clean stop and restores it on start, so a restart loses nothing.

Tables are written as DynamoDB JSON lines, one file per table, and secrets as one JSON file (a new
JWT key or pepper would invalidate every token and API key). Files are written beside and renamed,
so a crash while saving leaves the previous state whole.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

_SECRETS = "secrets.json"


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
                    out.write(json.dumps(item, separators=(",", ":")) + "\n")
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


def restore(directory: Path, client: Any, tables: list[str]) -> int:
    count = 0
    for table in tables:
        source = directory / f"{table}.jsonl"
        if not source.exists():
            continue
        batch: list[dict[str, Any]] = []
        with source.open() as lines:
            for line in lines:
                batch.append({"PutRequest": {"Item": json.loads(line)}})
                if len(batch) == 25:
                    client.batch_write_item(RequestItems={table: batch})
                    count += len(batch)
                    batch = []
        if batch:
            client.batch_write_item(RequestItems={table: batch})
            count += len(batch)
    return count
