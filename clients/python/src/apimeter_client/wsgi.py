"""WSGI middleware for any WSGI app; Flask's integration builds on it.

    app = ApimeterMiddleware(app, client=client)

A plain WSGI app has no routes to read, so it sends the raw path and the server turns it into a
template (``/users/42`` becomes ``/users/{id}``). The call is recorded when the server closes the
response, so the latency and the bytes cover a streamed body too; the body passes through as it is.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from apimeter_client._calls import Tracker, call_event, client_ip, consumer_of, log, sender

Environ = dict[str, Any]
StartResponse = Callable[..., Callable[[bytes], object]]
WSGIApp = Callable[[Environ, StartResponse], Iterable[bytes]]

CONSUMER_KEY = "apimeter.consumer"  # a framework integration's consumer, found while its request object lived


class ApimeterMiddleware:
    """``consumer`` receives the WSGI environ after the response; ``trusted_proxies``: how many
    reverse proxies in front of the app append ``X-Forwarded-For`` (0: ``REMOTE_ADDR`` is the client).
    ``route`` (for framework integrations) finds the template in the environ after the app ran."""

    def __init__(
        self,
        app: WSGIApp,
        client: Tracker,
        *,
        consumer: Callable[[Environ], Any] | None = None,
        trusted_proxies: int = 0,
        route: Callable[[Environ], str | None] | None = None,
    ) -> None:
        self.app = app
        self.client = client
        self.consumer = consumer
        self.trusted_proxies = trusted_proxies
        self.route = route
        self.send_event = sender(client)

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        call = _Call(self, environ, start_response)
        try:
            result = self.app(environ, call.start_response)
        except Exception:
            call.status = 500
            call.finish()
            raise
        if call.length is None:
            return _CountedBody(result, call)
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(result, file_wrapper):
            return call.keep_file(result)  # type: ignore[no-any-return] # the server can still sendfile() it
        return _Body(result, call)


class _Call:
    """One call under way: what the app answered, counted as it goes out."""

    __slots__ = ("_start", "counted", "environ", "length", "middleware", "recorded", "sent", "started", "started_ms",
                 "status")  # fmt: skip

    def __init__(self, middleware: ApimeterMiddleware, environ: Environ, start_response: StartResponse) -> None:
        self.middleware = middleware
        self.environ = environ
        self._start = start_response
        self.started_ms = time.time_ns() // 1_000_000
        self.started = time.perf_counter()
        self.status = self.sent = 0
        self.length: int | None = None  # the response's Content-Length
        self.counted = False  # the body is counted chunk by chunk
        self.recorded = False

    def start_response(self, status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        self.status = int(status[:3])
        for name, value in headers:
            if name.lower() == "content-length":
                self.length = int(value) if value.isdigit() else None
                break
        write = self._start(status, headers, exc_info) if exc_info else self._start(status, headers)

        def counting_write(data: bytes) -> object:  # the legacy write() callable, counted
            self.sent += len(data)
            return write(data)

        return counting_write

    def keep_file(self, result: Any) -> Any:
        close = getattr(result, "close", None)

        def closing() -> None:
            try:
                if close is not None:
                    close()
            finally:
                self.finish()

        try:
            result.close = closing
        except AttributeError:
            return _Body(result, self)
        return result

    def finish(self) -> None:
        if self.recorded:
            return
        self.recorded = True
        try:
            environ, middleware = self.environ, self.middleware
            length = environ.get("CONTENT_LENGTH")
            path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            if not path.isascii():  # WSGI strings are bytes as latin-1; the path was UTF-8
                path = path.encode("latin-1").decode("utf-8", "replace")
            consumer = (
                environ.get(CONSUMER_KEY) if CONSUMER_KEY in environ else consumer_of(middleware.consumer, environ)
            )
            forwarded = environ.get("HTTP_X_FORWARDED_FOR")
            ip = client_ip(environ.get("REMOTE_ADDR"), [forwarded] if forwarded else [], middleware.trusted_proxies)
            sent = self.sent
            passed_uncounted = not self.counted and self.status != 304 and environ.get("REQUEST_METHOD") != "HEAD"
            if passed_uncounted and self.length is not None:
                sent += self.length  # the body went through as it was: its declared length
            middleware.send_event(
                call_event(
                    environ.get("REQUEST_METHOD", "GET"),
                    middleware.route(environ) if middleware.route is not None else None,
                    path,
                    self.status or 500,
                    self.started_ms,
                    time.perf_counter() - self.started,
                    int(length) if length and length.isdigit() else None,
                    sent,
                    consumer,
                    ip,
                    environ.get("HTTP_USER_AGENT"),
                )
            )
        except Exception:  # never into the app
            log.exception("apimeter: could not record a call")


class _Body:
    """A response with a declared length: passed through as it is, recorded when the server closes it."""

    __slots__ = ("call", "result")

    def __init__(self, result: Iterable[bytes], call: _Call) -> None:
        self.result = result
        self.call = call

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.result)

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.call.finish()


class _CountedBody(_Body):
    """A response whose length was not declared when the app returned (a stream, or an app that
    starts its response lazily): counted chunk by chunk as the server sends it."""

    __slots__ = ()

    def __init__(self, result: Iterable[bytes], call: _Call) -> None:
        super().__init__(result, call)
        call.counted = True

    def __iter__(self) -> Iterator[bytes]:
        call = self.call
        try:
            for chunk in self.result:
                call.sent += len(chunk)
                yield chunk
        except Exception:
            call.status = 500
            raise
