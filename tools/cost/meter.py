"""Every AWS call of the in-process stack, metered: DynamoDB capacity by capacity.py's rules, other
services by request, Lambda invocations with an estimate of their billed duration.

``Meter.around`` is offline.inprocess.moto's hook: it sees each request to moto under the
one-request-at-a-time lock, so it can read the items a write touches from moto's memory just
before and just after the write, exactly, without a request of its own.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from tools.cost.capacity import Index, Ledger, Read, Table, Write, item_size

Item = dict[str, Any]
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem"})
# Round trip of one DynamoDB call from Lambda in the same region, for the duration estimate
# (single-digit milliseconds is what AWS quotes; 5 ms is a middle value, not a measurement).
DYNAMODB_LATENCY_S = 0.005


@dataclass
class Invocations:
    count: int = 0
    seconds: float = 0.0  # estimated billed duration, summed


@dataclass
class _Running:
    function: str
    started: float  # process CPU seconds at the start
    in_aws: float = 0.0  # CPU seconds inside moto (AWS's work, not the function's)
    calls_per_thread: Counter[int] = field(default_factory=Counter)


def tables_of_moto(names: Mapping[str, str]) -> dict[str, Table]:
    """capacity.Table per physical table name, from moto's tables; ``names`` maps a physical name
    to the name to report it by (the template's logical id)."""
    from offline.inprocess import moto_table

    tables = {}
    for physical, shown in names.items():
        found = moto_table(physical)
        keys = tuple(k for k in (found.hash_key_attr, found.range_key_attr) if k)
        indexes = tuple(
            Index(
                index.name,
                tuple(index.schema_key_attrs),
                index.projection.get("ProjectionType", "ALL"),
                tuple(index.projection.get("NonKeyAttributes", ())),
            )
            for index in found.global_indexes
        )
        tables[physical] = Table(shown, keys, indexes)
    return tables


def _peek(table: str, key: Mapping[str, Any]) -> Item | None:
    """An item as moto holds it now, read from memory (no request, nothing added)."""
    from moto.dynamodb.models.dynamo_type import DynamoType

    from offline.inprocess import moto_table

    found = moto_table(table)
    partition = found.items.get(DynamoType(key[found.hash_key_attr]))
    if partition is None:
        return None
    if found.range_key_attr:
        partition = partition.get(DynamoType(key[found.range_key_attr]))
        if partition is None:
            return None
    attributes: Item = partition.to_json()["Attributes"]
    return attributes


def _answer(response: Any) -> tuple[int, bytes]:
    """moto's answer to a request, ``(status, headers, body)``, as (status, body bytes)."""
    if response is None:
        return 0, b""
    status, _, body = response
    return int(status), body.encode() if isinstance(body, str) else bytes(body or b"")


class Meter:
    def __init__(self) -> None:
        self.ledger = Ledger({})
        self.requests: Counter[str] = Counter()  # per service (and DynamoDB per operation)
        self.invocations: defaultdict[str, Invocations] = defaultdict(Invocations)
        self._running: _Running | None = None
        self._lock = threading.Lock()

    def watch(self, tables: Mapping[str, Table]) -> None:
        self.ledger.tables.update(tables)

    def reset(self) -> None:
        self.ledger.units.clear()
        self.ledger.calls.clear()
        self.requests.clear()
        self.invocations.clear()

    @contextmanager
    def invocation(self, function: str) -> Iterator[None]:
        """One invocation of ``function``: its calls are booked to it, its duration estimated as its
        own work (the process's CPU time outside moto: the handler and the SDK) plus a DynamoDB round
        trip per call on its busiest thread (dal/dynamo.side_by_side spreads independent writes over
        16 threads). Invocations run one at a time here, so the process's CPU time is theirs."""
        outer, self._running = self._running, _Running(function, time.process_time())
        outer_function, self.ledger.function = self.ledger.function, function
        try:
            yield
        finally:
            running = self._running
            self._running, self.ledger.function = outer, outer_function
            own = time.process_time() - running.started - running.in_aws
            waits = max(running.calls_per_thread.values(), default=0) * DYNAMODB_LATENCY_S
            booked = self.invocations[function]
            booked.count += 1
            booked.seconds += max(0.001, own + waits)  # Lambda bills by the millisecond
            if outer is not None:
                outer.in_aws += time.process_time() - running.started  # a nested call is not the outer one's work

    def around(self, send: Callable[[Any], Any], request: Any) -> Any:
        started = time.process_time()
        try:
            return self._metered(send, request)
        finally:
            running = self._running
            if running is not None:
                running.in_aws += time.process_time() - started
                running.calls_per_thread[threading.get_ident()] += 1

    def _metered(self, send: Callable[[Any], Any], request: Any) -> Any:
        target = request.headers.get("X-Amz-Target", b"")
        target = target.decode() if isinstance(target, bytes) else str(target)
        if not target.startswith("DynamoDB_"):
            self.requests[str(request.url).split("//")[-1].split(".")[0]] += 1
            return send(request)
        operation = target.split(".")[-1]
        self.requests[f"dynamodb {operation}"] += 1
        self.ledger.calls[(self.ledger.function, operation)] += 1
        params = json.loads(request.body or b"{}")
        if operation in WRITES:
            return self._single_write(send, request, params)
        if operation == "BatchWriteItem":
            return self._batch_write(send, request, params)
        if operation == "TransactWriteItems":
            return self._transact_write(send, request, params)
        response = send(request)
        status, body = _answer(response)
        if status == 200:
            self._reads(operation, params, json.loads(body or b"{}"))
        return response

    def _watched(self, table: str) -> bool:
        return table in self.ledger.tables

    def _key(self, table: str, params: Mapping[str, Any]) -> Item:
        if "Key" in params:
            return dict(params["Key"])
        return {name: params["Item"][name] for name in self._keys(table)}

    def _keys(self, table: str) -> tuple[str, ...]:
        return self.ledger.tables[table].keys

    def _single_write(self, send: Callable[[Any], Any], request: Any, params: Mapping[str, Any]) -> Any:
        table = params["TableName"]
        if not self._watched(table):
            return send(request)
        key = self._key(table, params)
        before = _peek(table, key)
        response = send(request)
        status, body = _answer(response)
        failed = status != 200
        if failed and b"ConditionalCheckFailed" not in body:
            return response  # throttled, invalid: no capacity used
        self.ledger.write(Write(table, before, None if failed else _peek(table, key), succeeded=not failed))
        return response

    def _batch_write(self, send: Callable[[Any], Any], request: Any, params: Mapping[str, Any]) -> Any:
        wanted = []
        for table, writes in params.get("RequestItems", {}).items():
            for write in writes:
                body = write.get("PutRequest") or write.get("DeleteRequest")
                if self._watched(table):
                    key = self._key(table, body)
                    wanted.append((table, key, _peek(table, key)))
        response = send(request)
        status, body = _answer(response)
        if status != 200:
            return response
        answer = json.loads(body or b"{}")
        left = set()
        for table, writes in answer.get("UnprocessedItems", {}).items():
            for write in writes:
                body = write.get("PutRequest") or write.get("DeleteRequest")
                left.add((table, json.dumps(self._key(table, body), sort_keys=True)))
        for table, key, before in wanted:
            if (table, json.dumps(key, sort_keys=True)) not in left:
                self.ledger.write(Write(table, before, _peek(table, key)))
        return response

    def _transact_write(self, send: Callable[[Any], Any], request: Any, params: Mapping[str, Any]) -> Any:
        wanted = []
        for entry in params.get("TransactItems", []):
            ((kind, body),) = entry.items()
            table = body["TableName"]
            if self._watched(table):
                key = self._key(table, body)
                wanted.append((kind, table, key, _peek(table, key)))
        response = send(request)
        status, body = _answer(response)
        cancelled = status != 200
        if cancelled and b"TransactionCanceled" not in body:
            return response
        for kind, table, key, before in wanted:
            unchanged = cancelled or kind == "ConditionCheck"
            after = before if unchanged else _peek(table, key)
            self.ledger.write(Write(table, before, after, succeeded=not cancelled, transactional=True))
        return response

    def _reads(self, operation: str, params: Mapping[str, Any], answer: Mapping[str, Any]) -> None:
        if operation == "GetItem":
            table = params["TableName"]
            if self._watched(table):
                full = _peek(table, params["Key"])
                consistent = bool(params.get("ConsistentRead"))
                self.ledger.read(Read(table, "", [item_size(full)], consistent, summed=False))
        elif operation in ("BatchGetItem", "TransactGetItems"):
            self._batch_reads(operation, params)
        elif operation in ("Query", "Scan"):
            table = params["TableName"]
            if self._watched(table):
                self._query(table, params, answer)

    def _batch_reads(self, operation: str, params: Mapping[str, Any]) -> None:
        if operation == "BatchGetItem":
            asked = [
                (t, k, bool(b.get("ConsistentRead"))) for t, b in params["RequestItems"].items() for k in b["Keys"]
            ]
        else:
            asked = [(e["Get"]["TableName"], e["Get"]["Key"], True) for e in params["TransactItems"]]
        for table, key, consistent in asked:
            if self._watched(table):
                size = item_size(_peek(table, key))
                self.ledger.read(Read(table, "", [size], consistent, summed=False,
                                      transactional=operation == "TransactGetItems"))  # fmt: skip

    def _query(self, table: str, params: Mapping[str, Any], answer: Mapping[str, Any]) -> None:
        """Items read: each answered item at its full size (read back by its key when the answer is
        projected), and those a filter dropped at the answered items' mean size."""
        keys = self._keys(table)
        sizes = []
        for item in answer.get("Items", []):
            full = _peek(table, {k: item[k] for k in keys}) if all(k in item for k in keys) else None
            sizes.append(item_size(full or item))
        dropped = int(answer.get("ScannedCount", len(sizes))) - len(sizes)
        if dropped > 0:
            sizes += [sum(sizes) // len(sizes) if sizes else 1] * dropped
        index = str(params.get("IndexName", ""))
        self.ledger.read(Read(table, index, sizes, bool(params.get("ConsistentRead")), summed=True))
