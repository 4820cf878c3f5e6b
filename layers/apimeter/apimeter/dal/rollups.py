"""The rollups table: additive counters per project, granularity, dimension and bucket.

Keys:
  pk = <project_id>#<granularity>#<dimension>     e.g. prj_01j...#hour#*  (* totals, e endpoints, c consumers)
  sk = <bucket>                                    e.g. 2026-11-22T11 (UTC ISO prefix, sorts as time)
       <bucket>#<value> in the e and c partitions  e.g. 2026-11-22T11#GET /users/{id}
                                                   (bucket-major: one range read gives every
                                                   endpoint of a window, one GetItem one endpoint
                                                   in one bucket)
  expires_at: TTL on minute buckets only; hour and day buckets are kept
  final, run, computed_at: set when a bucket was recomputed from raw events (then the stream no
                           longer adds to it; a late event marks it pending instead)
  PENDING#<marking day>#<shard> / <project>#<hour bucket>: hours to (re)compute, with a version
  DIMS#<project>#<e|c> / v#<value>: the endpoints and consumers a project's rollups keep apart;
                         / count: how many (capped; the rest are folded into "other" at ingest)
  SHARDS#<project> / schedule: how many write shards the project's events spread over, by time (steps, top)
  <project>#detectors / <dimension>#<value>: the anomaly detectors' learned state of one series
                         (zlib-compressed JSON, a detector per metric)
  <project>#anomalies / <hour>#<anomaly id>: an anomaly found in a finished hour, written once
A read queries one partition per granularity with ``sk BETWEEN`` or gets items by key; it never scans.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from botocore.exceptions import ClientError

from apimeter.dal.dynamo import (
    as_json,
    batch_get,
    batch_write,
    client,
    delete_keys,
    deserialize,
    error_code,
    put_if,
    serialize,
    side_by_side,
    update_if,
)
from apimeter.domain.rollups import DIMENSIONS, Deltas, RollupKey
from apimeter.domain.shards import Schedule, Step
from apimeter.domain.windows import GRANULARITIES, STEP_MS, Granularity, Run, bucket_key, run_buckets
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


PENDING_SHARDS = 16


def apply(deltas: Deltas, *, minute_expires_at: int, now_ms: int) -> int:
    """Add every delta to its bucket and mark the hours touched pending; returns the writes made.

    Hour and day buckets take the addition only while not final: a refused addition is a late
    event for a finalized bucket, and marking its hour pending again makes the next rollup run
    recompute it from raw events. Redelivered records therefore never change a final figure.
    """
    # The hours are marked first: a batch whose additions keep failing until it runs out of retries
    # (and goes to the on-failure queue) has still marked them, so the next run recomputes them from
    # the raw events, which hold the batch's events already. A run between the mark and the
    # additions finalizes them with those events counted, and then refuses the additions.
    touched = {(k.project_id, k.bucket) for k in deltas if k.granularity == "hour" and not k.value}
    for project_id, hour in sorted(touched):
        mark_pending(project_id, hour, now_ms)
    requests = updates(deltas, minute_expires_at=minute_expires_at)
    # Additions commute, so they go side by side; the first error other than a refusal propagates
    # (the batch is retried from its first record, and finalization corrects what was counted twice).
    side_by_side(_add, requests)
    return len(requests) + len(touched)


def _add(request: dict[str, Any]) -> None:
    update_if(**request)  # refused by a final bucket: its hour is marked pending, like every hour touched


def _pending_key(project_id: str, hour: str, now_ms: int) -> dict[str, Any]:
    day = bucket_key(now_ms, "day")
    shard = zlib.crc32(project_id.encode()) % PENDING_SHARDS
    return {"pk": {"S": f"PENDING#{day}#{shard}"}, "sk": {"S": f"{project_id}#{hour}"}}


def mark_pending(project_id: str, hour: str, now_ms: int) -> None:
    """Note that an hour of a project needs (re)computing; every mark bumps its version."""
    client().update_item(
        TableName=_table(),
        Key=_pending_key(project_id, hour, now_ms),
        UpdateExpression="ADD version :one SET expires_at = if_not_exists(expires_at, :exp)",
        ExpressionAttributeValues={":one": {"N": "1"}, ":exp": {"N": str(now_ms // 1000 + 7 * 86_400)}},
    )


@dataclass(frozen=True, slots=True)
class Pending:
    project_id: str
    hour: str
    version: int
    key: dict[str, Any]


def pending(marking_days: list[str]) -> list[Pending]:
    """Every pending (project, hour) marked on ``marking_days``."""
    found = []
    for day in marking_days:
        for shard in range(PENDING_SHARDS):
            kwargs: dict[str, Any] = {
                "TableName": _table(),
                "KeyConditionExpression": "pk = :pk",
                "ExpressionAttributeValues": {":pk": {"S": f"PENDING#{day}#{shard}"}},
            }
            while True:
                response = client().query(**kwargs)
                for item in response.get("Items", []):
                    project_id, hour = item["sk"]["S"].rsplit("#", 1)
                    key = {"pk": item["pk"], "sk": item["sk"]}
                    found.append(Pending(project_id, hour, int(item["version"]["N"]), key))
                if "LastEvaluatedKey" not in response:
                    break
                kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return found


def delete_pending_of(project_id: str, marking_days: list[str]) -> int:
    """Remove every pending marker of a project (it is being deleted)."""
    shard = zlib.crc32(project_id.encode()) % PENDING_SHARDS
    keys: list[dict[str, Any]] = []
    for day in marking_days:
        response = client().query(
            TableName=_table(),
            KeyConditionExpression="pk = :pk AND begins_with(sk, :project)",
            ExpressionAttributeValues={":pk": {"S": f"PENDING#{day}#{shard}"}, ":project": {"S": f"{project_id}#"}},
            ProjectionExpression="pk, sk",
        )
        keys.extend(response.get("Items", []))
    return delete_keys(_table(), keys)


def clear_pending(marker: Pending) -> bool:
    """Remove a marker unless it was marked again meanwhile (then the next run takes it)."""
    try:
        client().delete_item(
            TableName=_table(),
            Key=marker.key,
            ConditionExpression="version = :seen",
            ExpressionAttributeValues={":seen": {"N": str(marker.version)}},
        )
    except ClientError as exc:
        if error_code(exc) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def replace_all(buckets: dict[RollupKey, dict[str, Any]], *, run: str, computed_at: str) -> int:
    """Write buckets recomputed from raw events: each whole, final, with the run that made it (25 per
    BatchWriteItem); returns how many were written."""
    requests = [{"PutRequest": {"Item": _final_item(k, v, run, computed_at)}} for k, v in sorted(buckets.items())]
    return batch_write(_table(), requests)


def _final_item(key: RollupKey, values: dict[str, Any], run: str, computed_at: str) -> dict[str, Any]:
    item = {**values, "final": True, "run": run, "computed_at": computed_at}
    item = {k: v for k, v in item.items() if not (isinstance(v, set) and not v)}  # no empty sets in DynamoDB
    return {**_key(key), **serialize(item)}


def _key(key: RollupKey) -> dict[str, Any]:
    return {"pk": {"S": partition(key.project_id, key.granularity, key.dimension)}, "sk": {"S": key.sk}}


def get_many(keys: list[RollupKey]) -> ReadResult:
    """Buckets by key (BatchGetItem, 100 at a time); missing buckets are simply absent."""
    fetched = batch_get(_table(), [_key(k) for k in dict.fromkeys(keys)])
    return ReadResult([deserialize(item) for item in fetched.items], len(fetched.items), fetched.calls)


def bucket(key: RollupKey) -> dict[str, Any] | None:
    """One bucket as it is now (a strongly consistent read: every acknowledged addition is in it)."""
    item = client().get_item(TableName=_table(), Key=_key(key), ConsistentRead=True).get("Item")
    return deserialize(item) if item else None


def _add_request(table: str, key: RollupKey, values: dict[str, Any], expires_at: int | None) -> dict[str, Any]:
    names = {f"#a{i}": name for i, name in enumerate(values)}
    attribute_values = {f":a{i}": _number_or_set(value) for i, value in enumerate(values.values())}
    expression = "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(values)))
    request: dict[str, Any] = {
        "TableName": table,
        "Key": _key(key),
        "UpdateExpression": expression,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": attribute_values,
    }
    if expires_at is not None:
        names["#exp"] = "expires_at"
        attribute_values[":exp"] = {"N": str(expires_at)}
        request["UpdateExpression"] += " SET #exp = if_not_exists(#exp, :exp)"
    else:
        names["#final"] = "final"
        request["ConditionExpression"] = "attribute_not_exists(#final)"  # final buckets change only by recompute
    return request


def _number_or_set(value: Any) -> dict[str, Any]:
    """A counter (int or Decimal) or a set of codes as an attribute value (the aggregation hot path)."""
    if isinstance(value, set):
        return {"NS": [str(v) for v in sorted(value)]}
    return {"N": str(value)}


def partitions_of(project_id: str) -> list[str]:
    """Every rollup partition of a project (one per granularity and dimension, its registry, what
    anomaly detection keeps, and its events' shard schedule)."""
    rollups = [partition(project_id, g, d) for g in GRANULARITIES for d in DIMENSIONS]
    detection = [f"{project_id}#detectors", f"{project_id}#anomalies"]
    return (
        rollups
        + [_registry(project_id, d) for d in DIMENSIONS[1:]]
        + detection
        + [_schedule_key(project_id)["pk"]["S"]]
    )


def _schedule_key(project_id: str) -> dict[str, Any]:
    return {"pk": {"S": f"SHARDS#{project_id}"}, "sk": {"S": "schedule"}}


def shard_schedule(project_id: str) -> Schedule:
    """The project's events' shard schedule (domain/shards.py); empty while it has only the default."""
    item = client().get_item(TableName=_table(), Key=_schedule_key(project_id), ConsistentRead=True).get("Item")
    if not item:
        return ()
    steps = (Step(int(s["M"]["since"]["N"]), int(s["M"]["shards"]["N"])) for s in item["steps"]["L"])
    return tuple(sorted(steps, key=lambda step: step.since_ms))


def grow_shards(project_id: str, step: Step) -> bool:
    """Add a step, unless one of at least as many shards is there already (another writer grew it)."""
    value = {"M": {"since": {"N": str(step.since_ms)}, "shards": {"N": str(step.shards)}}}
    return update_if(
        TableName=_table(),
        Key=_schedule_key(project_id),
        UpdateExpression="SET steps = list_append(if_not_exists(steps, :none), :step), #top = :n",
        ConditionExpression="attribute_not_exists(#top) OR #top < :n",
        ExpressionAttributeNames={"#top": "top"},
        ExpressionAttributeValues={":none": {"L": []}, ":step": {"L": [value]}, ":n": {"N": str(step.shards)}},
    )


def _registry(project_id: str, dimension: str) -> str:
    return f"DIMS#{project_id}#{dimension}"


def registered(project_id: str, dimension: str, values: Iterable[str]) -> set[str]:
    """Which of ``values`` the project's rollups already keep apart (BatchGetItem, 100 at a time)."""
    keys = [_value_key(project_id, dimension, v) for v in sorted(set(values))]
    return {item["sk"]["S"][2:] for item in batch_get(_table(), keys, projection="sk").items}


def register(project_id: str, dimension: str, value: str, cap: int) -> bool:
    """Keep ``value`` apart if the project has fewer than ``cap`` values; ``False`` when it is full.

    A slot is taken first (a conditional ADD on the count, so concurrent ingests never take more
    than ``cap``), then the value is written; if another ingest wrote it meanwhile, the slot is
    given back. No transaction: it would serialize on the count item just the same, and costs
    twice the writes.
    """
    if not _take_slots(project_id, dimension, 1, cap):
        return value in registered(project_id, dimension, [value])  # full, unless it is already kept
    if not put_if(_table(), _value_key(project_id, dimension, value)):
        _give_back_slots(project_id, dimension, 1)  # registered meanwhile by another ingest
    return True


def register_all(project_id: str, dimension: str, values: list[str], cap: int) -> bool:
    """Keep every one of ``values`` apart if the project has room for all of them; ``False`` (and
    nothing written) when it has not, and then the caller registers them one by one.

    The slots are taken in one conditional ADD, then the values are written side by side, each
    only if new; the slots of values another ingest wrote meanwhile are given back in one ADD. New
    values cost one write each and one more for the lot, not two each.
    """
    if len(values) > cap or not _take_slots(project_id, dimension, len(values), cap):
        return False
    written = side_by_side(lambda value: put_if(_table(), _value_key(project_id, dimension, value)), values)
    taken = sum(1 for new in written if not new)
    if taken:
        _give_back_slots(project_id, dimension, taken)
    return True


def _value_key(project_id: str, dimension: str, value: str) -> dict[str, Any]:
    return {"pk": {"S": _registry(project_id, dimension)}, "sk": {"S": f"v#{value}"}}


def _count_key(project_id: str, dimension: str) -> dict[str, Any]:
    return {"pk": {"S": _registry(project_id, dimension)}, "sk": {"S": "count"}}


def _take_slots(project_id: str, dimension: str, slots: int, cap: int) -> bool:
    """Add ``slots`` to the project's count of values kept apart, unless that would pass ``cap``."""
    return update_if(
        TableName=_table(),
        Key=_count_key(project_id, dimension),
        UpdateExpression="ADD #n :k",
        ConditionExpression="attribute_not_exists(#n) OR #n <= :room",
        ExpressionAttributeNames={"#n": "values"},
        ExpressionAttributeValues={":k": {"N": str(slots)}, ":room": {"N": str(cap - slots)}},
    )


def _give_back_slots(project_id: str, dimension: str, slots: int) -> None:
    client().update_item(
        TableName=_table(),
        Key=_count_key(project_id, dimension),
        UpdateExpression="ADD #n :minus",
        ExpressionAttributeNames={"#n": "values"},
        ExpressionAttributeValues={":minus": {"N": str(-slots)}},
    )


def delete_items(items: list[dict[str, Any]]) -> int:
    """Delete read items (as ``read_runs`` returns them) by their keys."""
    return delete_keys(_table(), [{"pk": {"S": item["pk"]}, "sk": {"S": item["sk"]}} for item in items])


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
    """Every bucket of ``runs``; in a dimension partition, every value of every bucket."""
    result = ReadResult()
    for run in runs:
        last = run.last if dimension == "*" else run.last + _AFTER_VALUES
        _query(result, partition(project_id, run.granularity, dimension), run.first, last)
    return result


def hourly(project_id: str, first_ms: int, end_ms: int) -> list[dict[str, Any]]:
    """A project's hour totals from ``first_ms`` up to ``end_ms`` (hour boundaries), one per hour,
    oldest first; an hour without an item is ``{}``."""
    step = STEP_MS["hour"]
    run = Run("hour", bucket_key(first_ms, "hour"), bucket_key(end_ms - step, "hour"), (end_ms - first_ms) // step)
    found = {item["sk"]: item for item in read_runs(project_id, [run]).items}
    return [found.get(bucket, {}) for bucket in run_buckets(run)]


_AFTER_VALUES = "$"  # sorts right after "#": "<bucket>$" bounds every "<bucket>#<value>"


def value_of(item: dict[str, Any]) -> tuple[str, str]:
    """(bucket, value) of a dimension item."""
    bucket, _, value = str(item["sk"]).partition("#")
    return bucket, value


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


# anomaly detection


def detector_states(project_id: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(dimension, value) -> the saved detectors of that series, by metric."""
    result = ReadResult()
    _query(result, f"{project_id}#detectors", "#", "~")  # every "<dimension>#<value>": * e c sort inside
    states = {}
    for item in result.items:
        dimension, _, value = str(item["sk"]).partition("#")
        states[(dimension, value)] = orjson.loads(zlib.decompress(bytes(item["state"])))
    return states


def save_detector_states(project_id: str, states: dict[tuple[str, str], dict[str, Any]]) -> int:
    requests = [
        {"PutRequest": {"Item": serialize({"pk": f"{project_id}#detectors", "sk": f"{dimension}#{value}",
                                           "state": zlib.compress(orjson.dumps(state))})}}
        for (dimension, value), state in states.items()
    ]  # fmt: skip
    return batch_write(_table(), requests)


def record_anomaly(project_id: str, hour: str, anomaly_id: str, record: dict[str, Any]) -> bool:
    """Keep an anomaly the first time it is found; False when a run already did."""
    return put_if(_table(), serialize({"pk": f"{project_id}#anomalies", "sk": f"{hour}#{anomaly_id}", **record}))


def anomalies_between(project_id: str, first_hour: str, last_hour: str) -> list[dict[str, Any]]:
    result = ReadResult()
    _query(result, f"{project_id}#anomalies", first_hour, last_hour + _AFTER_VALUES)
    return [as_json(item) for item in reversed(result.items)]  # newest first


def anomaly(project_id: str, hour: str, anomaly_id: str) -> dict[str, Any] | None:
    response = client().get_item(
        TableName=_table(), Key={"pk": {"S": f"{project_id}#anomalies"}, "sk": {"S": f"{hour}#{anomaly_id}"}}
    )
    return as_json(deserialize(response["Item"])) if "Item" in response else None


def set_feedback(project_id: str, hour: str, anomaly_id: str, feedback: str, at: str) -> None:
    client().update_item(
        TableName=_table(),
        Key={"pk": {"S": f"{project_id}#anomalies"}, "sk": {"S": f"{hour}#{anomaly_id}"}},
        UpdateExpression="SET feedback = :feedback, feedback_at = :at",
        ConditionExpression="attribute_exists(pk)",
        ExpressionAttributeValues={":feedback": {"S": feedback}, ":at": {"S": at}},
    )
