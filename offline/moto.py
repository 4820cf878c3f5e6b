"""moto's server, made atomic per request as DynamoDB is.

DynamoDB evaluates a condition and applies its write as one step; moto's threaded server does not,
so two concurrent conditional updates can both pass (measured: 43 of 120 parallel charges accepted
against a limit of 37). Serving one AWS request at a time restores the guarantee the rate limiter
relies on. moto spends most of a request under the GIL anyway, so throughput barely changes.
Requests made for an HTTP or WebSocket request go first (offline/priority.py).

moto is also slow in ways that grow with the data, which a week of replayed traffic (``make demo``:
11,000 events, 35,000 rollup items) made plain: every Query and Scan sorted the whole table before
filtering it (an empty Query took 300 ms, finalizing an hour 4 s), and every UpdateItem parsed its
expression twice and checked its clause counts at every node of the parsed tree (20 ms for the
stream's 25-counter additions). ``install_shortcuts`` makes exact shortcuts, each giving the answer
moto gives: a Query on a table's own key reads its partition only (moto re-sorts it by range key
anyway), and within it only the key range, found by bisection (moto compares and sizes every item of
the partition: 110 ms for an empty minute of a week's 10,000); the sorted list of a table's items,
and of each queried partition's keys, is kept until an item is put or deleted (an update cannot
change an item's key, so not its place); an update expression is parsed once per text (the tree is
only read, or copied before it is changed); clause counts are checked once at the root when the
root is valid (no part of a valid whole can have more clauses; otherwise moto's own check runs, and
raises as it would); and an answer's attribute values are serialized without moto's search for
aliases of their type tags (a Query of 47 hour rollups: 250 ms, now 45 ms).
"""

from __future__ import annotations

import contextvars
import inspect
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from functools import cache, lru_cache
from itertools import takewhile
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from offline.priority import ENVIRON_KEY, PriorityLock


class _OneAtATime:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self.lock = PriorityLock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock.hold(first=environ.get(ENVIRON_KEY) == "1"):
            return list(self._app(environ, start_response))


_partition: contextvars.ContextVar[tuple[Any, list[Any]] | None] = contextvars.ContextVar("partition", default=None)


@cache
def install_shortcuts() -> None:
    _install_query_shortcuts()
    _install_update_shortcuts()
    _install_serializer_shortcut()
    _install_transaction_tokens()


TOKEN_SECONDS = 600  # how long DynamoDB remembers a TransactWriteItems' ClientRequestToken


def _install_transaction_tokens() -> None:
    """TransactWriteItems' ClientRequestToken, which moto ignores: DynamoDB answers a transaction
    that repeats a token seen in the last ten minutes, with the same request, as it answered the
    first (without writing again), and refuses the token with another request. The SDK retries a
    transaction whose answer it did not get with the same token, so without this a retry after a
    slow answer cancels on the conditions its own first attempt made false."""
    import hashlib
    import time

    from moto.dynamodb.exceptions import MockValidationException
    from moto.dynamodb.responses import DynamoHandler

    handler: Any = DynamoHandler
    apply = handler.transact_write_items
    seen: dict[str, tuple[float, str, Any]] = {}  # token -> (when, request digest, answer)

    def once_per_token(self: Any) -> Any:
        token = self.body.get("ClientRequestToken")
        if not token:
            return apply(self)
        now = time.monotonic()
        for old in [t for t, (at, _, _) in seen.items() if now - at > TOKEN_SECONDS]:
            del seen[old]
        digest = hashlib.sha256(repr(self.body.get("TransactItems")).encode()).hexdigest()
        if token in seen:
            _, first, answer = seen[token]
            if first != digest:
                raise MockValidationException("IdempotentParameterMismatch: the token was used with another request")
            return answer
        answer = apply(self)  # a cancelled transaction raises: its token is not kept, as on DynamoDB
        seen[token] = (now, digest, answer)
        return answer

    handler.transact_write_items = once_per_token


def _install_update_shortcuts() -> None:
    from moto.dynamodb.parsing import ast_nodes, expressions, validators

    nodes: Any = ast_nodes
    parser: Any = expressions.UpdateExpressionParser  # type: ignore[attr-defined]
    counts: Any = validators.ActionCountValidator
    make = parser.make  # bound to its class

    @lru_cache(maxsize=4096)
    def parse_once(expression: str) -> Any:
        return make(expression)

    parser.make = staticmethod(parse_once)
    check_every_node = counts.traverse
    kinds = (nodes.UpdateExpressionAddClause, nodes.UpdateExpressionRemoveClause, nodes.UpdateExpressionSetClause)

    def check_the_root(self: Any, node: Any) -> Any:
        if isinstance(node, nodes.UpdateExpression) and all(len(node.find_clauses([k])) <= 1 for k in kinds):
            return node
        return check_every_node(self, node)

    counts.traverse = check_the_root


def _install_query_shortcuts() -> None:
    from moto.dynamodb.models.table import Table

    sorted_items, put_item, delete_item, query = Table.all_items, Table.put_item, Table.delete_item, Table.query
    signature = inspect.signature(query)

    def all_items(self: Any) -> list[Any]:
        only = _partition.get()
        if only is not None and only[0] is self:
            return list(only[1])
        version = (id(self.items), getattr(self, "_offline_version", 0))
        kept = getattr(self, "_offline_sorted", None)
        if kept is None or kept[0] != version:
            kept = (version, sorted_items(self))
            self._offline_sorted = kept
        return list(kept[1])

    def changed(method: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            finally:
                self._offline_version = getattr(self, "_offline_version", 0) + 1

        return wrapper

    def partition_query(self: Any, *args: Any, **kwargs: Any) -> Any:
        bound = signature.bind(self, *args, **kwargs)
        hash_key = bound.arguments.get("hash_key")
        if bound.arguments.get("index_name") or hash_key is None:
            return query(self, *args, **kwargs)
        token = _partition.set((self, _partition_items(self, hash_key, bound.arguments)))
        try:
            return query(self, *args, **kwargs)
        finally:
            _partition.reset(token)

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.put_item = changed(put_item)  # type: ignore[method-assign]
    Table.delete_item = changed(delete_item)  # type: ignore[method-assign]
    Table.query = partition_query  # type: ignore[method-assign]


def _install_serializer_shortcut() -> None:
    from moto.core.serialize import BaseJSONSerializer

    serializer: Any = BaseJSONSerializer
    serialize_structure = serializer._serialize_type_structure

    def attribute_value(self: Any, serialized: Any, value: Any, shape: Any, key: str) -> None:
        if shape.name != "AttributeValue" or not key or type(value) is not dict:
            serialize_structure(self, serialized, value, shape, key)
            return
        # moto's answer items are dicts keyed by type tag ({"S": ...}); its attribute picker tries
        # half a dozen aliases of every member of every value before finding that key (90 % of a
        # Query's time). Looked up directly, each member is then serialized by moto as before.
        wrapper: dict[str, Any] = {}
        for member_key, member_shape in shape.members.items():
            member = value.get(member_key)
            if member is not None:
                self._serialize(wrapper, member, member_shape, member_key)
        self._default_serialize(serialized, wrapper, shape, key)

    attribute_value.__wrapped__ = serialize_structure  # type: ignore[attr-defined]
    serializer._serialize_type_structure = attribute_value


_BISECTED = {"=": "EQ", "EQ": "EQ", "<": "LT", "LT": "LT", "<=": "LE", "LE": "LE", ">": "GT", "GT": "GT",
             ">=": "GE", "GE": "GE", "BETWEEN": "BETWEEN", "BEGINS_WITH": "BEGINS_WITH"}  # fmt: skip


def _partition_items(table: Any, hash_key: Any, arguments: Mapping[str, Any]) -> list[Any]:
    """The items of the queried partition that moto's Query is to read."""
    found = table.items.get(hash_key)  # .get: the dict is a defaultdict, and a read must not add to it
    if found is None:
        return []
    if not table.range_key_attr:
        return [found]
    comparison, bounds = arguments.get("range_comparison"), arguments.get("range_objs")
    conditions = arguments.get("range_key_conditions") or []
    on_the_key = len(conditions) <= 1 and all(condition[0] == table.range_key_attr for condition in conditions)
    if comparison and on_the_key:
        # Only the key range is read, as on DynamoDB; moto would size every item of the partition
        # against the 1 MB page limit, even those outside the range (a day's summary: 1 s).
        return _in_range(table, hash_key, found, comparison, bounds or [])
    return list(found.values())


def _in_range(table: Any, hash_key: Any, partition: dict[Any, Any], comparison: str, bounds: list[Any]) -> list[Any]:
    """The items of one partition whose range key meets a key condition, found by bisection in the
    partition's keys sorted by the values moto compares (kept until the table's next put or delete);
    by moto's own comparison of every key where bisection might not answer as it does."""
    version = getattr(table, "_offline_version", 0)
    if getattr(table, "_offline_ranges", (None,))[0] != version:
        table._offline_ranges = (version, {})  # every partition's sorted keys are stale
    kept: dict[Any, Any] = table._offline_ranges[1]
    if hash_key not in kept:
        kinds = {key.type for key in partition}
        pairs = sorted(((key.cast_value, key) for key in partition), key=lambda pair: pair[0]) if (
            len(kinds) == 1 and kinds <= {"S", "N"}) else []  # fmt: skip
        kept[hash_key] = (kinds, [value for value, _ in pairs], [key for _, key in pairs])
    kinds, values, keys = kept[hash_key]
    operator = _BISECTED.get(comparison.upper())
    if (
        operator is None
        or not values
        or {bound.type for bound in bounds} != kinds
        or (operator == "BEGINS_WITH" and kinds != {"S"})
    ):
        return [item for item in partition.values() if item.range_key.compare(comparison, bounds)]
    low, high = bounds[0].cast_value, bounds[-1].cast_value
    start, end = {
        "EQ": (bisect_left(values, low), bisect_right(values, low)),
        "LT": (0, bisect_left(values, low)),
        "LE": (0, bisect_right(values, low)),
        "GT": (bisect_right(values, low), len(values)),
        "GE": (bisect_left(values, low), len(values)),
        "BETWEEN": (bisect_left(values, low), bisect_right(values, high)),
        "BEGINS_WITH": (bisect_left(values, low), len(values)),
    }[operator]
    chosen = keys[start:end]
    if operator == "BEGINS_WITH":
        chosen = list(takewhile(lambda key: key.cast_value.startswith(low), chosen))
    return [partition[key] for key in chosen]


class AtomicMotoServer(ThreadedMotoServer):
    _app: _OneAtATime | None = None

    def _server_entry(self) -> None:
        install_shortcuts()
        self._app = _OneAtATime(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, self._app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()

    def expired(self, table: str, attribute: str, cutoff: int) -> list[dict[str, Any]]:
        """``expired_keys`` in one background turn of the server's lock."""
        assert self._app is not None, "the server is not started"
        with self._app.lock.hold(first=False):
            return expired_keys(table, attribute, cutoff)


def expired_keys(table: str, attribute: str, cutoff: int) -> list[dict[str, Any]]:
    """The keys of ``table``'s items whose number ``attribute`` is below ``cutoff`` (what DynamoDB's
    TTL deletes; offline/ttl.py), read from moto's memory."""
    from moto.dynamodb.models import dynamodb_backends

    tables = [backend.tables[table] for regions in dynamodb_backends.values()
              for backend in regions.values() if table in backend.tables]  # fmt: skip
    if not tables:
        return []
    found: Any = tables[0]
    items: list[Any] = list(found.items.values())
    if found.range_key_attr:
        items = [item for partition in items for item in partition.values()]
    keys = []
    for item in items:
        value = item.attrs.get(attribute)
        if value is not None and value.type == "N" and value.cast_value < cutoff:
            key = {found.hash_key_attr: item.hash_key.to_json()}
            if found.range_key_attr:
                key[found.range_key_attr] = item.range_key.to_json()
            keys.append(key)
    return keys
