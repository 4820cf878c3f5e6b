"""moto's server, made atomic per request as DynamoDB is.

DynamoDB evaluates a condition and applies its write as one step; moto's threaded server does not,
so two concurrent conditional updates can both pass (measured: 43 of 120 parallel charges accepted
against a limit of 37). Serving one AWS request at a time restores the guarantee the rate limiter
relies on. moto spends most of a request under the GIL anyway, so throughput barely changes.
Requests made for an HTTP or WebSocket request go first (offline/priority.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
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


class AtomicMotoServer(ThreadedMotoServer):
    def _server_entry(self) -> None:
        app = _OneAtATime(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(self._ip_address, self._port, app, True, request_handler=MotoRequestHandler)
        self._server_ready_event.set()
        self._server.serve_forever()
