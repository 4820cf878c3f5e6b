"""Expires items whose TTL attribute has passed, as DynamoDB does (moto stores TTL but never enforces it).

Deletions go through DeleteItem, so the stream carries REMOVE records as it does on AWS, and only
while the item is still expired (as DynamoDB checks too): an item whose TTL was pushed back since it
was found stays. The expired items are found by a Scan, or, on the offline stack, by reading moto's
memory (``offline.moto.AtomicMotoServer.expired``): moto's Scan copies every item of the table, and
a demo week's 50,000 items took 3 s of every 30 s of moto's one-at-a-time service, in turns of up to
340 ms that an API request waited behind.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

# (table, TTL attribute, cutoff in epoch seconds) -> the keys of the items whose TTL is below it
Finder = Callable[[str, str, int], list[dict[str, Any]]]

log = logging.getLogger("offline.ttl")


def sweep(client: Any, tables: dict[str, str], now: float | None = None, find: Finder | None = None) -> int:
    """Delete every expired item of ``tables`` (name -> TTL attribute); returns how many."""
    cutoff = int(time.time() if now is None else now)
    find = find or _scanner(client)
    deleted = 0
    for table, attribute in tables.items():
        for key in find(table, attribute, cutoff):
            try:
                client.delete_item(TableName=table, Key=key, ConditionExpression="#ttl < :now",
                                   ExpressionAttributeNames={"#ttl": attribute},
                                   ExpressionAttributeValues={":now": {"N": str(cutoff)}})  # fmt: skip
            except ClientError as error:
                if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                    raise
                continue
            deleted += 1
    return deleted


def _scanner(client: Any) -> Finder:
    def scan(table: str, attribute: str, cutoff: int) -> list[dict[str, Any]]:
        keys = [k["AttributeName"] for k in client.describe_table(TableName=table)["Table"]["KeySchema"]]
        kwargs: dict[str, Any] = {
            "TableName": table,
            "FilterExpression": "#ttl < :now",
            "ExpressionAttributeNames": {"#ttl": attribute, **{f"#k{i}": k for i, k in enumerate(keys)}},
            "ExpressionAttributeValues": {":now": {"N": str(cutoff)}},
            "ProjectionExpression": ", ".join(f"#k{i}" for i in range(len(keys))),
        }
        found: list[dict[str, Any]] = []
        while True:
            page = client.scan(**kwargs)
            found += page.get("Items", [])
            if "LastEvaluatedKey" not in page:
                return found
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    return scan


class Sweeper:
    def __init__(self, client: Any, tables: dict[str, str], every_seconds: float, find: Finder | None = None) -> None:
        self._client, self._tables, self._every, self._find = client, tables, every_seconds, find
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ttl-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                count = sweep(self._client, self._tables, find=self._find)
                if count:
                    log.info("expired %d items", count)
            except Exception:
                log.exception("TTL sweep failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
