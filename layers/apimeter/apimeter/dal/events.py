"""The events table: raw events, one item per (project, event_id, timestamp), expiring by TTL.

Keys (one write per event: the table's own keys are the time order, no index):
  pk = <project_id>#<YYYY-MM-DD>#<shard>       the event's day, and a write shard picked by a hash
                                               of its event_id, so a busy project's day spreads
                                               over ``shards`` partitions
  sk = <ts_ms:013d>#<event_id>                 time order within a partition: listing, exports and
                                               finalization read a range of each shard and merge
  expires_at: epoch seconds, the TTL attribute (event time + the project's retention)
An event's identity is (event_id, timestamp): a resend of the same event lands on the same key, so
exactly-once is one conditional put. An event sent with its own event_id but no timestamp is timed
when it is first received; a small item in the entities table remembers that time (and the
payload's fingerprint) for as long as the event is kept, so its resends land on the same key too:
  pk = UNTIMED#<project_id>#<shard>, sk = <event_id>; ts, fingerprint, expires_at
Items are built as low-level attribute values directly: this is the ingest hot path.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import orjson
from botocore.exceptions import ClientError

from apimeter.aws import error_code
from apimeter.dal.dynamo import Item, client, delete_keys, deserialize, deserialize_value, side_by_side
from apimeter.domain.events import TrackedEvent
from apimeter.domain.windows import day_of
from apimeter.settings import settings

Outcome = Literal["accepted", "duplicate", "conflict"]


def shard_of(event_id: str, shards: int) -> int:
    return zlib.crc32(event_id.encode()) % shards


def to_item(  # noqa: C901 - every field written out by name rather than looped over: this runs for every event
    event: TrackedEvent, *, retention_days: int, shards: int, received_ms: int, tenant_id: str = ""
) -> Item:
    ts, event_id = event.ts_ms, event.event_id
    item: Item = {
        "pk": {"S": f"{event.project_id}#{day_of(ts - ts % 86_400_000)}#{shard_of(event_id, shards)}"},
        "sk": {"S": f"{ts:013d}#{event_id}"},
        "project_id": {"S": event.project_id},
        "tenant_id": {"S": tenant_id},  # budgets judged on the stream need the tenant of each event
        "event_id": {"S": event_id},
        "ts": {"N": str(ts)},
        "method": {"S": event.method},
        "endpoint": {"S": event.endpoint},
        "status": {"N": str(event.status)},
        "fingerprint": {"S": event.fingerprint},
        "received": {"N": str(received_ms)},
        "expires_at": {"N": str(ts // 1000 + retention_days * 86_400)},
    }
    if event.path is not None:
        item["path"] = {"S": event.path}
    if event.consumer is not None:
        item["consumer"] = {"S": event.consumer}
    if event.ip is not None:
        item["ip"] = {"S": event.ip}
    if event.user_agent is not None:
        item["user_agent"] = {"S": event.user_agent}
    if event.latency_ms is not None:
        item["latency_ms"] = {"N": _number(event.latency_ms)}
    if event.request_bytes is not None:
        item["request_bytes"] = {"N": _number(event.request_bytes)}
    if event.response_bytes is not None:
        item["response_bytes"] = {"N": _number(event.response_bytes)}
    if event.cost is not None:
        item["cost"] = {"N": _number(event.cost)}
    if event.units is not None:
        item["units"] = {"N": _number(event.units)}
    if event.properties:
        item["properties"] = {"S": _properties_json(event.properties)}
    if event.folded:
        item["folded"] = {"S": event.folded}
    return item


def _number(value: float) -> str:
    return repr(value) if type(value) is float else str(value)


def _properties_json(properties: dict[str, Any]) -> str:
    return orjson.dumps(properties, option=orjson.OPT_SORT_KEYS).decode()


def from_image(image: Item) -> TrackedEvent:
    """An event back from a stored item (low-level attribute values): one read from the table, or a
    stream's new image (dal/streams.inserted).

    Decoded straight from the attribute values, because the stream's aggregation decodes every new
    event: only the event's own attributes, each number parsed once into the int or float the event
    holds, no dict of ``Decimal`` on the way. That gives what ``from_row(deserialize(image))`` gives
    for every item this module writes; an attribute of another type, or a number written otherwise
    (``2E+2``, ``100.0``), fails here and takes that general way instead (and so does an error)."""
    # float(text) is float(Decimal(text)): CPython converts a Decimal to float through its exact text.
    get = image.get  # each one named: map(image.get, names) takes twice as long
    path, latency, consumer, ip = get("path"), get("latency_ms"), get("consumer"), get("ip")
    user_agent, request_bytes, response_bytes = get("user_agent"), get("request_bytes"), get("response_bytes")
    cost, units, properties, folded = get("cost"), get("units"), get("properties"), get("folded")
    try:
        text = None if properties is None else properties["S"]
        # By position, in TrackedEvent's order: 18 keywords cost the call as much as all the decoding.
        return TrackedEvent(
            image["project_id"]["S"],
            image["event_id"]["S"],
            int(image["ts"]["N"]),
            image["method"]["S"],
            image["endpoint"]["S"],
            int(image["status"]["N"]),
            image["fingerprint"]["S"],
            None if path is None else path["S"],
            None if latency is None else float(latency["N"]),
            None if request_bytes is None else int(request_bytes["N"]),
            None if response_bytes is None else int(response_bytes["N"]),
            None if consumer is None else consumer["S"],
            None if ip is None else ip["S"],
            None if user_agent is None else user_agent["S"],
            None if cost is None else float(cost["N"]),
            None if units is None else float(units["N"]),
            _load_properties(text) if text else None,
            "" if folded is None else folded["S"],
        )
    except (KeyError, ValueError):
        return from_row(deserialize(image))


def from_row(row: dict[str, Any]) -> TrackedEvent:
    """An event back from a decoded item: a stored one, or a stream's new image (dal/streams.py)."""

    def number(name: str, kind: type) -> Any:
        value = row.get(name)
        return None if value is None else kind(value)

    properties = row.get("properties")
    return TrackedEvent(
        project_id=row["project_id"],
        event_id=row["event_id"],
        ts_ms=int(row["ts"]),
        method=row["method"],
        endpoint=row["endpoint"],
        status=int(row["status"]),
        fingerprint=row["fingerprint"],
        path=row.get("path"),
        latency_ms=number("latency_ms", float),
        request_bytes=number("request_bytes", int),
        response_bytes=number("response_bytes", int),
        consumer=row.get("consumer"),
        ip=row.get("ip"),
        user_agent=row.get("user_agent"),
        cost=number("cost", float),
        units=number("units", float),
        properties=_load_properties(properties) if properties else None,
        folded=row.get("folded", ""),
    )


def received_of(image: Item) -> int | None:
    """When the API received a stored event (epoch ms), from its item or stream image as it comes
    (attribute values); None for an item written without it."""
    attribute = image.get("received")
    if attribute is None:
        return None
    try:
        return int(attribute["N"])
    except (KeyError, ValueError):  # written otherwise (12.0): decoded the general way, as from_image does
        return int(deserialize_value(attribute))


def _load_properties(text: str) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads(text)
    return loaded


def _put_new(item: Item) -> Outcome:
    try:
        client().put_item(
            TableName=settings().require("events_table"),
            Item=item,
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
        stored = exc.response.get("Item", {}).get("fingerprint", {}).get("S")  # type: ignore[attr-defined]
        return "duplicate" if stored == item["fingerprint"]["S"] else "conflict"
    return "accepted"


def first_received(untimed: list[TrackedEvent], retention_days: int, shards: int) -> list[int | None]:
    """For events sent without a timestamp, the time each was first received: its own (``ts_ms``)
    when it is new, the first copy's when it is a resend, and None when the first copy had another
    payload (a conflict). The first copy's time is claimed before the event is written, so a resend
    after a write that never happened still finds it, and writes the event then."""
    return side_by_side(lambda event: _claim_time(event, retention_days, shards), untimed)


def _claim_time(event: TrackedEvent, retention_days: int, shards: int) -> int | None:
    try:
        client().put_item(
            TableName=settings().require("entities_table"),
            Item={
                "pk": {"S": f"UNTIMED#{event.project_id}#{shard_of(event.event_id, shards)}"},
                "sk": {"S": event.event_id},
                "ts": {"N": str(event.ts_ms)},
                "fingerprint": {"S": event.fingerprint},
                "expires_at": {"N": str(event.ts_ms // 1000 + retention_days * 86_400)},
            },
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
        first: Item = exc.response.get("Item", {})  # type: ignore[assignment]
        if first.get("fingerprint", {}).get("S") != event.fingerprint:
            return None
        return int(first["ts"]["N"])
    return event.ts_ms


def receipt_keys(project_id: str, shards: int, limit: int = 1000) -> list[Item]:
    """Primary keys of up to ``limit`` of a project's first receipts of untimed events."""
    partitions = [f"UNTIMED#{project_id}#{shard}" for shard in range(shards)]
    return _keys_in(settings().require("entities_table"), partitions, limit)


def delete_receipts(keys: list[Item]) -> int:
    return delete_keys(settings().require("entities_table"), keys)


def keys_of_day(project_id: str, day: str, shards: int, limit: int = 1000) -> list[Item]:
    """Primary keys of up to ``limit`` of a project's events on one day (all shards)."""
    partitions = [f"{project_id}#{day}#{shard}" for shard in range(shards)]
    return _keys_in(settings().require("events_table"), partitions, limit)


def _keys_in(table: str, partitions: list[str], limit: int) -> list[Item]:
    """Primary keys (pk, sk) of up to ``limit`` items of ``partitions``, in order."""
    keys: list[Item] = []
    for partition in partitions:
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": partition}},
            "ProjectionExpression": "pk, sk",
        }
        while len(keys) < limit:
            response = client().query(**kwargs)
            keys.extend({"pk": item["pk"], "sk": item["sk"]} for item in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return keys[:limit]


@dataclass(frozen=True, slots=True)
class Page:
    events: list[TrackedEvent]
    next_day: str | None  # where the next page starts; None when the range is exhausted
    next_before: str | None
    items_read: int


@dataclass
class _Shard:
    request: dict[str, Any]
    frontier: str  # every item of this shard above this position has been read
    done: bool = False


def newest_first(
    project_id: str,
    days: list[str],
    *,
    before: str,
    after: str,
    limit: int,
    shards: int,
    filters: dict[str, Any],
    max_reads: int = 5000,
) -> Page:
    """Events with ``after < sk < before`` over ``days`` (newest day first), newest first.

    The write shards of each day are read side by side; an event is returned only once every
    shard has been read past it, so pages never skip or repeat one. At most about ``max_reads``
    items are read per call; then a short page comes back with where to go on.
    """
    table = settings().require("events_table")
    names, values = _filter_values(filters)
    matched: list[tuple[str, Item]] = []
    reads = 0
    for index, day in enumerate(days):
        upper = before if index == 0 else "~"
        shard_states = []
        for shard in range(shards):
            request: dict[str, Any] = {
                "TableName": table,
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :after AND :before",
                "ScanIndexForward": False,
                "Limit": limit,
                "ExpressionAttributeValues": {
                    ":pk": {"S": f"{project_id}#{day}#{shard}"},
                    ":after": {"S": after},
                    ":before": {"S": upper},
                    **values,
                },
            }
            _add_filter(request, names)
            shard_states.append(_Shard(request, upper))
        while True:
            open_shards = [s for s in shard_states if not s.done]
            frontier = max((s.frontier for s in open_shards), default=after)
            ready = sorted((m for m in matched if m[0] > frontier), key=lambda m: m[0], reverse=True)
            if len(ready) >= limit or (open_shards and reads >= max_reads):
                page = ready[:limit]
                position = page[-1][0] if len(page) == limit else frontier
                return Page([from_image(item) for _, item in page], day, position, reads)
            if not open_shards:
                break  # this day is read through: go on to the previous one
            behind = [s for s in open_shards if s.frontier == frontier]  # only these hold the frontier back
            answers = side_by_side(lambda state: client().query(**state.request), behind)  # a busy day has hundreds
            for state, response in zip(behind, answers, strict=True):
                reads += int(response.get("ScannedCount", 0))
                matched.extend((item["sk"]["S"], item) for item in response.get("Items", []) if item["sk"]["S"] < upper)
                last = response.get("LastEvaluatedKey")
                if last:
                    state.request["ExclusiveStartKey"] = last
                    state.frontier = last["sk"]["S"]
                else:
                    state.done = True
    ordered = sorted(matched, key=lambda m: m[0], reverse=True)[:limit]
    return Page([from_image(item) for _, item in ordered], None, None, reads)


def _filter_values(filters: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    for i, (name, value) in enumerate(filters.items()):
        names[f"#f{i}"] = name
        values[f":f{i}"] = {"N": str(value)} if isinstance(value, int) else {"S": str(value)}
    return names, values


def _add_filter(request: dict[str, Any], names: dict[str, str]) -> None:
    if names:
        request["FilterExpression"] = " AND ".join(f"{n} = :{n[1:]}" for n in names)
        request["ExpressionAttributeNames"] = names


def oldest_first(
    project_id: str, start_ms: int, end_ms: int, *, shards: int, filters: dict[str, Any], after: str | None = None
) -> Iterator[tuple[str, TrackedEvent]]:
    """Events with ``start_ms <= ts < end_ms`` (and, to resume, a position (sort key) past ``after``),
    oldest first, as ``(position, event)``. A streaming read: each day's write shards are queried a
    page at a time and merged, so memory stays at one page per shard whatever the range."""
    for requests in _day_requests(project_id, start_ms, end_ms, shards, filters, after):
        for position, item in heapq.merge(*map(_pages, requests), key=lambda pair: pair[0]):
            if position != after:
                yield position, from_image(item)


def _day_requests(
    project_id: str, start_ms: int, end_ms: int, shards: int, filters: dict[str, Any], after: str | None = None
) -> Iterator[list[dict[str, Any]]]:
    """Per day of the range, one Query request per write shard."""
    table = settings().require("events_table")
    names, values = _filter_values(filters)
    lower = max(f"{start_ms:013d}", after or "")
    day = max(start_ms, int(lower[:13])) // 86_400_000 * 86_400_000
    while day < end_ms:
        requests = []
        for shard in range(shards):
            request: dict[str, Any] = {
                "TableName": table,
                "KeyConditionExpression": "pk = :pk AND sk BETWEEN :start AND :end",
                "ExpressionAttributeValues": {
                    ":pk": {"S": f"{project_id}#{day_of(day)}#{shard}"},
                    ":start": {"S": lower},
                    ":end": {"S": f"{end_ms - 1:013d}~"},
                    **values,
                },
            }
            _add_filter(request, names)
            requests.append(request)
        yield requests
        day += 86_400_000


def _pages(request: dict[str, Any]) -> Iterator[tuple[str, Item]]:
    while True:
        response = client().query(**request)
        for item in response.get("Items", []):
            yield item["sk"]["S"], item
        if "LastEvaluatedKey" not in response:
            return
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def between(project_id: str, start_ms: int, end_ms: int, shards: int) -> list[TrackedEvent]:
    """Every stored event of a project with ``start_ms <= ts < end_ms`` (for recomputation), oldest
    first. The shards of a day are read side by side: a busy project has hundreds of them."""
    found: list[TrackedEvent] = []
    for requests in _day_requests(project_id, start_ms, end_ms, shards, {}):
        read = side_by_side(lambda request: list(_pages(request)), requests)
        found += [from_image(item) for _, item in heapq.merge(*read, key=lambda pair: pair[0])]
    return found


def delete(keys: list[Item]) -> int:
    return delete_keys(settings().require("events_table"), keys)


def put_new(items: Iterable[Item]) -> list[Outcome]:
    """Write each item unless its (project, event_id, timestamp) exists; says per item what happened.

    An exact replay (same fingerprint) is a duplicate and a different payload a conflict: neither
    writes anything, so neither reaches the stream. Errors other than the condition propagate.
    """
    return side_by_side(_put_new, list(items))  # independent conditional puts
