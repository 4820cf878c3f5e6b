"""The rollups table: additive counters per project, granularity, dimension and bucket.

Keys:
  pk = <project_id>#<granularity>#*               e.g. prj_01j...#hour#*: a project's totals
  sk = <bucket>                                    e.g. 2026-11-22T11 (UTC ISO prefix, sorts as time)
  expires_at: TTL on minute buckets only; hour and day buckets are kept
  final, run, computed_at: set when a bucket was recomputed from raw events (then the stream no
                           longer adds to it; a late event marks it pending instead)
  Endpoints (e) and consumers (c) are packed (domain/packs.py): every value of a bucket in one item
  (or a few, ``chunks`` of them, all of one ``run``), written whole by finalization:
  <project_id>#<granularity>#<e|c>#packs / <bucket>#<chunk>     (minute packs expire like minutes)
  and, until their hour is final, by the stream: one slice per batch, minute and dimension, put
  whole under the batch's first sequence number, so a redelivered batch rewrites its own slice:
  <project_id>#<e|c>#slices#<shard> / <minute>#<batch>#<chunk>  (shard: of the batch, 0-7)
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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import orjson

from apimeter.dal.dynamo import (
    as_json,
    batch_get,
    batch_write,
    client,
    delete_if,
    delete_keys,
    deserialize,
    put_if,
    serialize,
    side_by_side,
    update_if,
)
from apimeter.domain import packs
from apimeter.domain.ids import new_id
from apimeter.domain.rollups import DIMENSIONS, PROJECT_TOTAL, Deltas, RollupKey, Value
from apimeter.domain.shards import Schedule, Step
from apimeter.domain.windows import (
    GRANULARITIES,
    STEP_MS,
    Granularity,
    Run,
    bucket_key,
    children,
    run_buckets,
    runs_of,
)
from apimeter.settings import settings

# UpdateExpression is limited to 4 KB; a bucket with many distinct sketch bins is split.
_MAX_ADDS_PER_UPDATE = 120


def _table() -> str:
    return settings().require("rollups_table")


def partition(project_id: str, granularity: Granularity, dimension: str) -> str:
    return f"{project_id}#{granularity}#{dimension}"


def updates(deltas: Deltas, *, minute_expires_at: int) -> list[dict[str, Any]]:
    """The UpdateItem requests that add the totals of ``deltas`` to their buckets (pure: no call is
    made; endpoints and consumers go in slices, ``slices``)."""
    requests = []
    table = _table()
    # The totals are picked before sorting: the endpoints' and consumers' keys, most of a batch's,
    # would be sorted only to be passed over.
    totals = [(key, values) for key, values in deltas.items() if key.dimension == PROJECT_TOTAL]
    for key, values in sorted(totals):
        names = sorted(values)
        for start in range(0, len(names), _MAX_ADDS_PER_UPDATE):
            chunk = {n: values[n] for n in names[start : start + _MAX_ADDS_PER_UPDATE]}
            expires = minute_expires_at if key.granularity == "minute" else None
            requests.append(_add_request(table, key, chunk, expires))
    return requests


PENDING_SHARDS = 16


SLICE_SHARDS = 8  # a busy project's slices spread over this many partitions (a few KB per batch each)


def slices(deltas: Deltas, *, batch: str, minute_expires_at: int) -> list[dict[str, Any]]:
    """The PutItem requests of a batch's minute slices: per project, minute and dimension, every
    value's counters packed (pure: no call is made)."""
    grouped = _by_bucket(deltas)
    for _, granularity, _, _ in grouped:
        if granularity != "minute":
            raise ValueError(f"endpoints and consumers are added by the minute, not by the {granularity}")
    shard = zlib.crc32(batch.encode()) % SLICE_SHARDS
    table, write = _table(), new_id("w")
    return [
        {"TableName": table, "Item": item}
        for (project_id, _, dimension, minute), values in sorted(grouped.items())
        for item in _pack_items(
            _slices_partition(project_id, dimension, shard), f"{minute}#{batch}", values, write, minute_expires_at
        )
    ]


def _by_bucket(
    buckets: Mapping[RollupKey, dict[str, Value]],
) -> dict[tuple[str, Granularity, str, str], dict[str, dict[str, Value]]]:
    """The endpoints' and consumers' values of ``buckets`` as packs are made of them: by (project,
    granularity, dimension, bucket), ``{value: counters}``."""
    grouped: dict[tuple[str, Granularity, str, str], dict[str, dict[str, Value]]] = {}
    for key, values in buckets.items():
        if key.dimension != PROJECT_TOTAL:
            grouped.setdefault((key.project_id, key.granularity, key.dimension, key.bucket), {})[key.value] = values
    return grouped


def _slices_partition(project_id: str, dimension: str, shard: int) -> str:
    return f"{project_id}#{dimension}#slices#{shard}"


def _pack_items(pk: str, prefix: str, values: dict[str, dict[str, Value]], write: str,
                expires_at: int | None) -> list[dict[str, Any]]:  # fmt: skip
    blobs = packs.chunked(values)
    items = []
    for n, blob in enumerate(blobs):
        item = {"pk": {"S": pk}, "sk": {"S": f"{prefix}#{n:03d}"}, "p": {"B": blob}, "run": {"S": write}}
        if n == 0:
            item["chunks"] = {"N": str(len(blobs))}
        if expires_at is not None:
            item["expires_at"] = {"N": str(expires_at)}
        items.append(item)
    return items


def apply(deltas: Deltas, *, batch: str, minute_expires_at: int, now_ms: int) -> int:
    """Add every delta of a stream batch (``batch``: its first record's sequence number) and mark
    the hours touched pending; returns the writes made.

    Totals are added to their buckets. Hour and day buckets take the addition only while not
    final: a refused addition is a late event for a finalized bucket, and marking its hour pending
    again makes the next rollup run recompute it from raw events. Redelivered records therefore
    never change a final figure. Endpoints and consumers are put in the batch's slices, whole: a
    batch retried from the same record puts the same slices again.
    """
    # The hours are marked first: a batch whose additions keep failing until it runs out of retries
    # (and goes to the on-failure queue) has still marked them, so the next run recomputes them from
    # the raw events, which hold the batch's events already. A run between the mark and the
    # additions finalizes them with those events counted, and then refuses the additions.
    touched = {(k.project_id, k.bucket) for k in deltas if k.granularity == "hour" and not k.value}
    for project_id, hour in sorted(touched):
        mark_pending(project_id, hour, now_ms)
    puts = slices(deltas, batch=batch, minute_expires_at=minute_expires_at)
    side_by_side(_put, puts)
    requests = updates(deltas, minute_expires_at=minute_expires_at)
    # Additions commute, so they go side by side; the first error other than a refusal propagates
    # (the batch is retried from its first record, and finalization corrects what was counted twice).
    side_by_side(_add, requests)
    return len(puts) + len(requests) + len(touched)


def _add(request: dict[str, Any]) -> None:
    update_if(**request)  # refused by a final bucket: its hour is marked pending, like every hour touched


def _put(request: dict[str, Any]) -> None:
    client().put_item(**request)


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
    return delete_if(
        TableName=_table(),
        Key=marker.key,
        ConditionExpression="version = :seen",
        ExpressionAttributeValues={":seen": {"N": str(marker.version)}},
    )


def replace_all(
    buckets: dict[RollupKey, dict[str, Any]],
    *,
    run: str,
    computed_at: str,
    whole: Iterable[tuple[str, Granularity, str]] = (),
    minute_expires_at: int | None = None,
) -> int:
    """Write buckets recomputed from raw events: each whole, final, with the run that made it (25 per
    BatchWriteItem); returns how many items were written. Endpoints and consumers are written as
    packs, one per bucket and dimension, replacing what was there; each (project, granularity,
    bucket) of ``whole`` gets its packs even when it has no value (so none that was is left)."""
    totals = {k: v for k, v in buckets.items() if k.dimension == PROJECT_TOTAL}
    requests = [{"PutRequest": {"Item": _final_item(k, v, run, computed_at)}} for k, v in sorted(totals.items())]
    grouped = _by_bucket(buckets)
    for project_id, granularity, bucket in whole:
        for dimension in DIMENSIONS[1:]:
            grouped.setdefault((project_id, granularity, dimension, bucket), {})
    for (project_id, granularity, dimension, bucket), values in sorted(grouped.items()):
        expires = minute_expires_at if granularity == "minute" else None
        pk = _packs_partition(project_id, granularity, dimension)
        requests += [{"PutRequest": {"Item": item}} for item in _pack_items(pk, bucket, values, run, expires)]
    return batch_write(_table(), requests)


def _packs_partition(project_id: str, granularity: Granularity, dimension: str) -> str:
    return f"{partition(project_id, granularity, dimension)}#packs"


def _final_item(key: RollupKey, values: dict[str, Any], run: str, computed_at: str) -> dict[str, Any]:
    item = {**values, "final": True, "run": run, "computed_at": computed_at}
    item = {k: v for k, v in item.items() if not (isinstance(v, set) and not v)}  # no empty sets in DynamoDB
    return {**_key(key), **serialize(item)}


def _key(key: RollupKey) -> dict[str, Any]:
    return {"pk": {"S": partition(key.project_id, key.granularity, key.dimension)}, "sk": {"S": key.sk}}


def get_many(keys: list[RollupKey]) -> ReadResult:
    """Buckets by key (totals: BatchGetItem, 100 at a time; an endpoint or consumer: read from the
    packs and slices of its buckets); missing buckets are simply absent."""
    totals = [k for k in dict.fromkeys(keys) if k.dimension == PROJECT_TOTAL]
    fetched = batch_get(_table(), [_key(k) for k in totals])
    result = ReadResult([deserialize(item) for item in fetched.items], len(fetched.items), fetched.calls)
    wanted: dict[tuple[str, str, Granularity], set[str]] = {}
    for key in keys:
        if key.dimension != PROJECT_TOTAL:
            wanted.setdefault((key.project_id, key.dimension, key.granularity), set()).add(key.sk)
    for (project_id, dimension, granularity), sks in sorted(wanted.items()):
        found = _dimension_read(project_id, runs_of(granularity, {sk.partition("#")[0] for sk in sks}), dimension)
        result.items += [item for item in found.items if item["sk"] in sks]
        result.items_read += found.items_read
        result.queries += found.queries
    return result


def bucket(key: RollupKey) -> dict[str, Any] | None:
    """One bucket as it is now (a strongly consistent read: every acknowledged addition is in it)."""
    item = client().get_item(TableName=_table(), Key=_key(key), ConsistentRead=True).get("Item")
    return deserialize(item) if item else None


def _add_request(table: str, key: RollupKey, values: dict[str, Any], expires_at: int | None) -> dict[str, Any]:
    name_keys, value_keys, expression = _additions(len(values))
    names = dict(zip(name_keys, values, strict=True))
    attribute_values = dict(zip(value_keys, map(_number_or_set, values.values()), strict=True))
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


@cache
def _additions(count: int) -> tuple[tuple[str, ...], tuple[str, ...], str]:
    """The placeholders (``#a0``..., ``:a0``...) and the ADD clause of ``count`` additions, made once
    per count (at most ``_MAX_ADDS_PER_UPDATE``): every update of a stream batch spells them out."""
    names = tuple(f"#a{i}" for i in range(count))
    values = tuple(f":a{i}" for i in range(count))
    return names, values, "ADD " + ", ".join(f"{n} {v}" for n, v in zip(names, values, strict=True))


def _number_or_set(value: Any) -> dict[str, Any]:
    """A counter (int or Decimal) or a set of codes as an attribute value (the aggregation hot path)."""
    if isinstance(value, set):
        return {"NS": [str(v) for v in sorted(value)]}
    return {"N": str(value)}


def partitions_of(project_id: str) -> list[str]:
    """Every rollup partition of a project (totals and packs per granularity, slices, its registry,
    what anomaly detection keeps, and its events' shard schedule)."""
    rollups = [partition(project_id, g, d) for g in GRANULARITIES for d in DIMENSIONS]
    rollups += [_packs_partition(project_id, g, d) for g in GRANULARITIES for d in DIMENSIONS[1:]]
    rollups += [_slices_partition(project_id, d, shard) for d in DIMENSIONS[1:] for shard in range(SLICE_SHARDS)]
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
    """Every bucket of ``runs``; for endpoints or consumers, every value of every bucket, each as an
    item ``{"sk": "<bucket>#<value>", **counters}`` (with ``final`` when finalized)."""
    if dimension != PROJECT_TOTAL:
        return _dimension_read(project_id, list(runs), dimension)
    result = ReadResult()
    for run in runs:
        _query(result, partition(project_id, run.granularity, dimension), run.first, run.last)
    return result


def _dimension_read(project_id: str, runs: list[Run], dimension: str) -> ReadResult:
    """A dimension's values over ``runs``, one item per bucket and value: a bucket with events is
    read from its packs when final, else from its hours (a day) or minutes (an hour), and a minute
    of an hour not yet final from the stream's slices; what its parts hold is summed under its own
    name. The totals say which buckets had events, so empty ones cost nothing."""
    result = ReadResult()
    found: dict[str, tuple[str | None, dict[str, packs.Counters]]] = {}  # bucket -> (final run, values)
    live: dict[str, str] = {}  # minute read from slices -> the bucket it is part of
    todo: list[tuple[Run, bool, str | None]] = [(run, True, None) for run in runs]  # (run, may be final, of)
    while todo:
        run, may_be_final, of = todo.pop(0)
        totals = ReadResult()
        _query(totals, partition(project_id, run.granularity, PROJECT_TOTAL), run.first, run.last)
        result.items_read += totals.items_read
        result.queries += totals.queries
        busy = sorted(str(item["sk"]) for item in totals.items if item.get("requests"))
        if not busy:
            continue
        final = {}
        if may_be_final:
            final = _read_packs(result, _packs_partition(project_id, run.granularity, dimension), busy[0], busy[-1])
        for bucket in busy:
            if bucket in final:
                run_id, values = final[bucket]
                _, summed = found.setdefault(of or bucket, (None if of else run_id, {}))
                packs.add(summed, [values])
            elif run.granularity == "minute":
                live[bucket] = of or bucket
            else:  # not final yet: from its parts (the hours of a day, the minutes of an hour)
                todo.append((children(bucket), run.granularity == "day", of or bucket))
    if live:
        for minute, values in _read_slices(result, project_id, dimension, sorted(live)).items():
            packs.add(found.setdefault(live[minute], (None, {}))[1], [values])
    for bucket, (final_run, values) in sorted(found.items()):
        result.items += _items_of(bucket, values, final_run)
    return result


def _items_of(bucket: str, values: dict[str, packs.Counters], run: str | None = None) -> list[dict[str, Any]]:
    """Items as the per-value rollups were: ``sk`` is ``<bucket>#<value>``; a finalized bucket's
    carry ``final`` and the ``run`` that wrote them."""
    extra: dict[str, Any] = {"final": True, "run": run} if run else {}
    return [{"sk": f"{bucket}#{value}", **counters, **extra} for value, counters in sorted(values.items())]


def _read_packs(result: ReadResult, pk: str, first: str, last: str) -> dict[str, tuple[str, dict[str, packs.Counters]]]:
    """Every complete pack of ``first`` to ``last``, by bucket, with the run that wrote it (a bucket
    caught while being rewritten is left out: its parts answer instead)."""
    raw = _query_raw(result, pk, first, last + _AFTER_VALUES)
    return {bucket: found for (bucket,), found in _complete(raw, 1).items()}


def _complete(raw: list[dict[str, Any]], depth: int) -> dict[tuple[str, ...], tuple[str, dict[str, packs.Counters]]]:
    """Decoded packs whose every chunk is there, of one write (returned with them), keyed by the
    first ``depth`` parts of their sort key."""
    chunks: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for item in raw:
        parts = item["sk"]["S"].split("#")
        chunks.setdefault(tuple(parts[:depth]), []).append(item)
    found = {}
    for where, items in chunks.items():
        first = next((i for i in items if i["sk"]["S"].endswith("#000")), None)
        if first is None:
            continue
        count, write = int(first["chunks"]["N"]), first["run"]["S"]
        mine = [i for i in items if i["run"]["S"] == write and int(i["sk"]["S"].rsplit("#", 1)[1]) < count]
        if len(mine) == count:
            found[where] = (write, packs.add({}, (packs.decode(bytes(i["p"]["B"])) for i in mine)))
    return found


def _read_slices(
    result: ReadResult, project_id: str, dimension: str, minutes: list[str]
) -> dict[str, dict[str, packs.Counters]]:
    """The slices of ``minutes`` (sorted), summed per minute."""
    first, last, wanted = minutes[0], minutes[-1], set(minutes)
    pks = [_slices_partition(project_id, dimension, shard) for shard in range(SLICE_SHARDS)]
    shards = [ReadResult() for _ in pks]
    reads = side_by_side(lambda n: _query_raw(shards[n], pks[n], first, last + _AFTER_VALUES), range(len(pks)))
    by_minute: dict[str, dict[str, packs.Counters]] = {}
    for shard, raw in zip(shards, reads, strict=True):
        result.queries += shard.queries
        result.items_read += shard.items_read
        for (minute, _), (_, values) in _complete(raw, 2).items():
            if minute in wanted:
                packs.add(by_minute.setdefault(minute, {}), [values])
    return by_minute


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
    result.items.extend(deserialize(item) for item in _query_raw(result, pk, first, last))


def _query_raw(result: ReadResult, pk: str, first: str, last: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": _table(),
        "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":first": {"S": first}, ":last": {"S": last}},
    }
    while True:
        response = client().query(**kwargs)
        page = response.get("Items", [])
        result.queries += 1
        result.items_read += len(page)
        found.extend(page)
        if "LastEvaluatedKey" not in response:
            return found
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
