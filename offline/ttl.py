"""Expires items whose TTL attribute has passed, as DynamoDB does (moto stores TTL but never enforces it).

Deletions go through DeleteItem, so the stream carries REMOVE records as it does on AWS.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

log = logging.getLogger("offline.ttl")


def sweep(client: Any, tables: dict[str, str], now: float | None = None) -> int:
    """Delete every expired item of ``tables`` (name -> TTL attribute); returns how many."""
    cutoff = int(time.time() if now is None else now)
    deleted = 0
    for table, attribute in tables.items():
        keys = [k["AttributeName"] for k in client.describe_table(TableName=table)["Table"]["KeySchema"]]
        kwargs: dict[str, Any] = {
            "TableName": table,
            "FilterExpression": "#ttl < :now",
            "ExpressionAttributeNames": {"#ttl": attribute},
            "ExpressionAttributeValues": {":now": {"N": str(cutoff)}},
            "ProjectionExpression": ", ".join(f"#k{i}" for i in range(len(keys))),
        }
        kwargs["ExpressionAttributeNames"].update({f"#k{i}": k for i, k in enumerate(keys)})
        while True:
            page = client.scan(**kwargs)
            for item in page.get("Items", []):
                client.delete_item(TableName=table, Key=item)
                deleted += 1
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return deleted


class Sweeper:
    def __init__(self, client: Any, tables: dict[str, str], every_seconds: float) -> None:
        self._client, self._tables, self._every = client, tables, every_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ttl-sweeper", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                count = sweep(self._client, self._tables)
                if count:
                    log.info("expired %d items", count)
            except Exception:
                log.exception("TTL sweep failed")

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
