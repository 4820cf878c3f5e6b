"""One keep-alive HTTP(S) connection to apimeter's ``POST /v1/events``, and what its answers mean."""

from __future__ import annotations

import email.utils
import http.client
import json
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from apimeter_client._version import __version__

USER_AGENT = f"apimeter-client-python/{__version__}"
MAX_RETRY_AFTER_SECONDS = 3600.0  # a budget-suspended key may be told "next month"; look again hourly


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes
    retry_after: float | None = None
    document: Any = field(default=None, compare=False)

    @property
    def code(self) -> str:
        """The error envelope's code, else ``HTTP_<status>``."""
        error = self.document.get("error") if isinstance(self.document, dict) else None
        if isinstance(error, dict) and isinstance(error.get("code"), str):
            return str(error["code"])
        return f"HTTP_{self.status}"

    @property
    def message(self) -> str:
        error = self.document.get("error") if isinstance(self.document, dict) else None
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        return self.body[:200].decode("utf-8", "replace") or http.client.responses.get(self.status, "")


class Transport:
    """Posts batches on one persistent connection, reopened after any failure. Not thread-safe: the
    client's single worker thread owns it."""

    def __init__(self, base_url: str, api_key: str, timeout: float) -> None:
        parts = urllib.parse.urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL, not {base_url!r}")
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._path = parts.path + "/v1/events"
        self.url = f"{parts.scheme}://{parts.netloc}{self._path}"
        self._timeout = timeout
        self._headers = {
            "Content-Type": "application/json",
            "X-API-Key": api_key,
            "User-Agent": USER_AGENT,
            "Accept": "application/json",
        }
        self._connection: http.client.HTTPConnection | None = None

    def post(self, body: bytes) -> Answer:
        """The server's answer; network failures raise ``OSError`` or ``http.client.HTTPException``."""
        connection = self._connection or self._connect()
        try:
            connection.request("POST", self._path, body=body, headers=self._headers)
            response = connection.getresponse()
            raw = response.read()
        except BaseException:
            self.close()
            raise
        if response.will_close:
            self.close()
        return Answer(response.status, raw, _retry_after(response.getheader("Retry-After")), _json(raw))

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def forget(self) -> None:
        """In a forked child: the parent's socket is the parent's; open another when needed."""
        self._connection = None

    def _connect(self) -> http.client.HTTPConnection:
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        self._connection = kind(self._host, self._port, timeout=self._timeout)
        return self._connection


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


def _retry_after(value: str | None) -> float | None:
    """``Retry-After`` in seconds: delta-seconds or an HTTP date (RFC 9110), capped."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
