"""The rollups table: additive counters per project, granularity, dimension and bucket.

Keys:
  pk = <project_id>#<granularity>#<dimension>     e.g. prj_01j...#hour#*
  sk = <bucket>                                    e.g. 2026-11-22T11 (UTC ISO prefix, sorts as time)
  expires_at: TTL on minute buckets only; hour and day buckets are kept
A read queries one partition per granularity with ``sk BETWEEN``; it never scans.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from apimeter.dal.dynamo import client, delete_keys, deserialize, serialize
from apimeter.domain.rollups import PROJECT_TOTAL, Deltas, RollupKey
from apimeter.domain.windows import GRANULARITIES, Granularity, Run
from apimeter.settings import settings

# UpdateExpression is limited to 4 KB; a bucket with many distinct sketch bins is split.
_MAX_ADDS_PER_UPDATE = 120


def _table() -> str:
    return settings().require("rollups_table")


def partition(project_id: str, granularity: Granularity, dimension: str) -> str:
    return f"{project_id}#{granularity}#{dimension}"


def updates(deltas: Deltas, *, minute_expires_at: int) -> list[dict[str, Any]]:
    """The UpdateItem requests that add ``deltas`` to their buckets (pure: no call is made)."""
    requests = []
    table = _table()
    for key, values in sorted(deltas.items()):
        names = sorted(values)
        for start in range(0, len(names), _MAX_ADDS_PER_UPDATE):
            chunk = {n: values[n] for n in names[start : start + _MAX_ADDS_PER_UPDATE]}
            expires = minute_expires_at if key.granularity == "minute" else None
            requests.append(_add_request(table, key, chunk, expires))
    return requests


def apply(deltas: Deltas, *, minute_expires_at: int) -> int:
    """Add every delta to its bucket; returns the number of UpdateItem calls made."""
    requests = updates(deltas, minute_expires_at=minute_expires_at)
    for request in requests:
        client().update_item(**request)
    return len(requests)


def _add_request(table: str, key: RollupKey, values: dict[str, Any], expires_at: int | None) -> dict[str, Any]:
    names = {f"#a{i}": name for i, name in enumerate(values)}
    attribute_values = serialize({f":a{i}": value for i, value in enumerate(values.values())})
    expression = "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(values)))
    if expires_at is not None:
        names["#exp"] = "expires_at"
        attribute_values[":exp"] = {"N": str(expires_at)}
        expression += " SET #exp = if_not_exists(#exp, :exp)"
    return {
        "TableName": table,
        "Key": {"pk": {"S": partition(key.project_id, key.granularity, key.dimension)}, "sk": {"S": key.bucket}},
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": attribute_values,
    }


def partitions_of(project_id: str) -> list[str]:
    """Every rollup partition of a project (one per granularity and dimension)."""
    return [partition(project_id, g, PROJECT_TOTAL) for g in GRANULARITIES]


def delete_partition(pk: str, limit: int = 1000) -> int:
    """Delete up to ``limit`` items of one partition; returns how many."""
    response = client().query(
        TableName=_table(),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": pk}},
        ProjectionExpression="pk, sk",
        Limit=limit,
    )
    return delete_keys(_table(), response.get("Items", []))


@dataclass(slots=True)
class ReadResult:
    """Items read, and how many, so that read cost is observable (and tested)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    items_read: int = 0
    queries: int = 0


def read_runs(project_id: str, runs: Iterable[Run], dimension: str = "*") -> ReadResult:
    result = ReadResult()
    for run in runs:
        _query(result, partition(project_id, run.granularity, dimension), run.first, run.last)
    return result


def _query(result: ReadResult, pk: str, first: str, last: str) -> None:
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":first": {"S": first}, ":last": {"S": last}},
    }
    while True:
        response = client().query(**kwargs)
        result.queries += 1
        page = response.get("Items", [])
        result.items_read += len(page)
        result.items.extend(deserialize(item) for item in page)
        if "LastEvaluatedKey" not in response:
            return
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
