"""Plain WSGI: the raw path (templated by the server), the write() callable, errors, file wrappers."""

from __future__ import annotations

from typing import Any

import pytest

from apimeter_client.wsgi import ApimeterMiddleware
from fake_apimeter import Recorder


def environ(path: str = "/users/42", **extra: Any) -> dict[str, Any]:
    return {"REQUEST_METHOD": "GET", "PATH_INFO": path, "SCRIPT_NAME": "", "REMOTE_ADDR": "192.0.2.4"} | extra


def run(app: Any, env: dict[str, Any]) -> tuple[str, bytes]:
    seen: dict[str, str] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen["status"] = status
        return lambda data: None

    result = app(env, start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return seen["status"], body


def test_the_raw_path_is_sent_and_recorded_at_close():
    recorder = Recorder()

    def app(env: Any, start_response: Any) -> Any:
        write = start_response("201 Created", [("Content-Type", "text/plain")])
        write(b"early")  # the legacy write() callable
        return [b"a", b"bc"]

    status, body = run(ApimeterMiddleware(app, recorder), environ("/users/42", QUERY_STRING="x=1", CONTENT_LENGTH="9"))
    assert (status, body) == ("201 Created", b"abc")
    call = recorder.last
    assert "endpoint" not in call
    assert call["path"] == "/users/42"
    assert call["status"] == 201
    assert call["response_bytes"] == 8
    assert call["request_bytes"] == 9
    assert call["ip"] == "192.0.2.4"


def test_an_exception_is_recorded_and_raised():
    recorder = Recorder()

    def app(env: Any, start_response: Any) -> Any:
        raise ValueError("broken")

    with pytest.raises(ValueError, match="broken"):
        run(ApimeterMiddleware(app, recorder), environ())
    assert recorder.last["status"] == 500

    def failing_body(env: Any, start_response: Any) -> Any:
        start_response("200 OK", [])
        yield b"part"
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        run(ApimeterMiddleware(failing_body, recorder), environ())
    assert recorder.last["status"] == 500
    assert recorder.last["response_bytes"] == 4


def test_a_file_wrapper_is_returned_as_is_for_sendfile():
    recorder = Recorder()

    class FileWrapper:
        def __init__(self, data: bytes) -> None:
            self.data = data
            self.closed = False

        def __iter__(self) -> Any:
            return iter([self.data])

        def close(self) -> None:
            self.closed = True

    def app(env: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Length", "1000")])
        return env["wsgi.file_wrapper"](b"z" * 1000)

    env = environ("/files/report.pdf", **{"wsgi.file_wrapper": FileWrapper})
    result = ApimeterMiddleware(app, recorder)(env, lambda status, headers, exc_info=None: None)
    assert isinstance(result, FileWrapper)
    result.close()
    assert result.closed
    assert recorder.last["response_bytes"] == 1000


def test_a_path_in_utf8_is_decoded():
    recorder = Recorder()

    def app(env: Any, start_response: Any) -> Any:
        start_response("200 OK", [])
        return [b""]

    run(ApimeterMiddleware(app, recorder), environ("/café/1".encode().decode("latin-1"), SCRIPT_NAME="/app"))
    assert recorder.last["path"] == "/app/café/1"


def test_an_app_that_starts_its_response_late_is_counted_once():
    recorder = Recorder()

    def lazy(env: Any, start_response: Any) -> Any:  # a generator: start_response runs on first next()
        start_response("200 OK", [("Content-Length", "100")])
        yield b"x" * 60
        yield b"y" * 40

    status, body = run(ApimeterMiddleware(lazy, recorder), environ())
    assert (status, len(body)) == ("200 OK", 100)
    assert recorder.last["response_bytes"] == 100


def test_a_file_wrapper_without_close_is_recorded_once_however_often_it_is_closed():
    recorder = Recorder()

    class BareWrapper:  # no close() of its own: the middleware gives it one
        def __init__(self, data: bytes) -> None:
            self.data = data

        def __iter__(self) -> Any:
            return iter([self.data])

    def app(env: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Length", "10")])
        return env["wsgi.file_wrapper"](b"z" * 10)

    env = environ("/files/a.txt", **{"wsgi.file_wrapper": BareWrapper})
    result = ApimeterMiddleware(app, recorder)(env, lambda status, headers, exc_info=None: None)
    assert isinstance(result, BareWrapper)
    result.close()  # type: ignore[attr-defined]
    result.close()  # type: ignore[attr-defined] # a server that closes twice
    assert len(recorder.calls) == 1
    assert recorder.last["response_bytes"] == 10
