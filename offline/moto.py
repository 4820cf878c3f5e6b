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
anyway); the sorted list of a table's items is kept until an item is put or deleted (an update
cannot change an item's key, so not its place); an update expression is parsed once per text (the
tree is only read, or copied before it is changed); and clause counts are checked once at the root
when the root is valid (no part of a valid whole can have more clauses; otherwise moto's own check
runs, and raises as it would).
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Callable, Iterable
from functools import cache, lru_cache
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from offline.priority import ENVIRON_KEY, PriorityLock


class _OneAtATime:
    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self._app = app
        self._lock = PriorityLock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self._lock.hold(first=environ.get(ENVIRON_KEY) == "1"):
            return list(self._app(environ, start_response))


_partition: contextvars.ContextVar[tuple[Any, list[Any]] | None] = contextvars.ContextVar("partition", default=None)


@cache
def install_shortcuts() -> None:
    _install_query_shortcuts()
    _install_update_shortcuts()


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
        found = self.items.get(hash_key)  # .get: the dict is a defaultdict, and a read must not add to it
        items = [] if found is None else list(found.values()) if self.range_key_attr else [found]
        comparison, bounds = bound.arguments.get("range_comparison"), bound.arguments.get("range_objs")
        if comparison and self.range_key_attr and not bound.arguments.get("range_key_conditions"):
            # Only the key range is read, as on DynamoDB; moto would size every item of the partition
            # against the 1 MB page limit, even those outside the range (a day's summary: 1 s).
            items = [item for item in items if item.range_key.compare(comparison, bounds)]
        token = _partition.set((self, items))
        try:
            return query(self, *args, **kwargs)
        finally:
            _partition.reset(token)

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.put_item = changed(put_item)  # type: ignore[method-assign]
    Table.delete_item = changed(delete_item)  # type: ignore[method-assign]
    Table.query = partition_query  # type: ignore[method-assign]


class AtomicMotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        install_shortcuts()
        app = _OneAtATime(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()
