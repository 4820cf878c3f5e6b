"""Django: middleware configured from settings, sync and async.

    MIDDLEWARE = ["apimeter_client.django.ApimeterMiddleware", ...]   # first, to time everything
    APIMETER = {
        "api_key": os.environ["APIMETER_API_KEY"],
        "base_url": "https://api.apimeter.example",
        "consumer": "myapp.metering.consumer",     # or a callable: request -> str | None
        "trusted_proxies": 1,                       # reverse proxies appending X-Forwarded-For
        "spool_dir": "/var/spool/myapp-apimeter",   # and any other Client option
    }

The template is the resolved route (``resolver_match.route``, through ``include()``), with path
converters and regular expressions' named groups as ``{name}``; an unresolved path (404) or a regex
that cannot be read as a template is sent raw and templated by the server. A streamed response is
recorded when its last chunk has gone; a file the server sends itself, with its Content-Length.
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

from apimeter_client._calls import call_event, client_ip, consumer_of, log, placeholders, regex_template, sender
from apimeter_client._client import Client

try:
    from asgiref.sync import iscoroutinefunction, markcoroutinefunction
except ImportError:  # pragma: no cover - asgiref before 3.7
    iscoroutinefunction = inspect.iscoroutinefunction

    def markcoroutinefunction(func: Any) -> Any:
        return func


_OPTIONS = ("consumer", "trusted_proxies", "client")
_lock = threading.Lock()
_made: dict[str, Client] = {}


def client() -> Client:
    """This process's client, built once from ``settings.APIMETER`` (or the one given there as ``client``)."""
    with _lock:
        if "client" not in _made:
            config = dict(getattr(settings, "APIMETER", {}))
            given = config.get("client")
            if given is None:
                options = {k: v for k, v in config.items() if k not in _OPTIONS}
                given = Client(options.pop("api_key", None), options.pop("base_url", ""), **options)
            _made["client"] = given
        return _made["client"]


class ApimeterMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[Any], Any]) -> None:
        self.get_response = get_response
        config = getattr(settings, "APIMETER", {})
        consumer = config.get("consumer")
        self.consumer: Callable[[Any], Any] | None = import_string(consumer) if isinstance(consumer, str) else consumer
        self.trusted_proxies = int(config.get("trusted_proxies", 0))
        self.client = client()
        self.send_event = sender(self.client)
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: Any) -> Any:
        if self.is_async:
            return self._acall(request)
        started_ms, started = time.time_ns() // 1_000_000, time.perf_counter()
        try:
            response = self.get_response(request)
        except Exception:
            self._record(request, 500, started_ms, started, 0)
            raise
        return self._finish(request, response, started_ms, started)

    async def _acall(self, request: Any) -> Any:
        started_ms, started = time.time_ns() // 1_000_000, time.perf_counter()
        try:
            response = await self.get_response(request)
        except Exception:
            self._record(request, 500, started_ms, started, 0)
            raise
        return self._finish(request, response, started_ms, started)

    def _finish(self, request: Any, response: Any, started_ms: int, started: float) -> Any:
        length = response.get("Content-Length") if hasattr(response, "get") else None
        if not getattr(response, "streaming", False):
            size = int(length) if length and length.isdigit() else len(response.content)
            self._record(request, response.status_code, started_ms, started, size)
        elif getattr(response, "file_to_stream", None) is not None or not hasattr(response, "streaming_content"):
            # Django hands this file to the server's wsgi.file_wrapper: its chunks never pass here.
            self._record(request, response.status_code, started_ms, started, int(length) if length else None)
        else:
            content = response.streaming_content
            status = response.status_code
            if getattr(response, "is_async", False):
                response.streaming_content = self._count_async(content, request, status, started_ms, started)
            else:
                response.streaming_content = self._count(content, request, status, started_ms, started)
        return response

    def _count(self, chunks: Iterator[bytes], request: Any, status: int, started_ms: int, started: float) -> Any:
        sent = 0
        try:
            for chunk in chunks:
                sent += len(chunk)
                yield chunk
        finally:
            self._record(request, status, started_ms, started, sent)

    async def _count_async(
        self, chunks: AsyncIterator[bytes], request: Any, status: int, started_ms: int, started: float
    ) -> Any:
        sent = 0
        try:
            async for chunk in chunks:
                sent += len(chunk)
                yield chunk
        finally:
            self._record(request, status, started_ms, started, sent)

    def _record(self, request: Any, status: int, started_ms: int, started: float, sent: int | None) -> None:
        try:
            meta = request.META
            length = meta.get("CONTENT_LENGTH")
            forwarded = meta.get("HTTP_X_FORWARDED_FOR")
            ip = client_ip(meta.get("REMOTE_ADDR"), [forwarded] if forwarded else [], self.trusted_proxies)
            self.send_event(
                call_event(
                    request.method or "GET",
                    template(request),
                    request.path,
                    status,
                    started_ms,
                    time.perf_counter() - started,
                    int(length) if length and str(length).isdigit() else None,
                    sent,
                    consumer_of(self.consumer, request),
                    ip,
                    meta.get("HTTP_USER_AGENT"),
                )
            )
        except Exception:  # never into the app
            log.exception("apimeter: could not record a call")


def template(request: Any) -> str | None:
    """``/<script name>/<route>`` with ``{name}`` placeholders, or None (no route, or an unreadable regex)."""
    match = getattr(request, "resolver_match", None)
    route = getattr(match, "route", None)
    if not isinstance(route, str):
        return None
    readable = regex_template(route)
    if readable is None:
        return None
    script_name = request.path[: len(request.path) - len(request.path_info)] if request.path_info else ""
    return script_name.rstrip("/") + "/" + placeholders(readable).lstrip("/")
