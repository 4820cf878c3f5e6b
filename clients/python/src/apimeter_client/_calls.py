"""What every middleware shares: one recorded call made into a valid event, and route templates.

A middleware must never lose a call to a value the API would refuse, so values are fitted to the
tracking contract here (lengths, a valid IP or none) rather than sent to be rejected.
"""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Callable, Iterable
from functools import lru_cache
from typing import Any, Protocol

log = logging.getLogger("apimeter_client")

_PLACEHOLDER = re.compile(r"<(?:[A-Za-z_]\w*(?:\([^)]*\))?:)?([A-Za-z_]\w*)>")  # Flask, Django: <int:id>
_REGEX_GROUP = re.compile(r"\(\?P<([A-Za-z_]\w*)>(?:[^()\\]|\\.|\((?:[^()\\]|\\.)*\))*\)")
_REGEX_ESCAPE = re.compile(r"\\(.)")
_REGEX_SPECIAL = set("()[]{}*+?|^$")


class Tracker(Protocol):
    def track(self, **fields: Any) -> None: ...


Send = Callable[[dict[str, Any]], None]


def sender(client: Tracker) -> Send:
    """How a middleware hands over a recorded call: apimeter's ``Client`` takes the event as it is (its
    fields are the contract's), any other tracker as keyword arguments."""
    enqueue: Send | None = getattr(client, "_enqueue", None)
    if enqueue is not None:
        return enqueue
    return lambda event: client.track(**event)


def call_event(
    method: str,
    endpoint: str | None,
    path: str,
    status: int,
    started_ms: int,
    seconds: float,
    request_bytes: int | None,
    response_bytes: int | None,
    consumer: Any,
    ip: str | None,
    user_agent: str | None,
) -> dict[str, Any]:
    """One recorded call as a valid event: ``endpoint`` is the route template (None: the server
    templates ``path``). Runs on every request, so it does no more than it must."""
    if "?" in path:
        path = path.split("?", 1)[0]
    event: dict[str, Any] = {
        "timestamp": started_ms,
        "method": method.upper()[:16],
        "path": path[:2048] or "/",
        "status": status if 100 <= status <= 599 else 500,
        "latency_ms": int(seconds * 1_000_000) / 1000,
    }
    if endpoint:
        event["endpoint"] = endpoint[:512]
    if request_bytes is not None and request_bytes >= 0:
        event["request_bytes"] = request_bytes
    if response_bytes is not None and response_bytes >= 0:
        event["response_bytes"] = response_bytes
    if consumer is not None and (name := str(consumer).strip()):
        event["consumer"] = name[:256]
    if ip and _is_ip(ip):
        event["ip"] = ip
    if user_agent:
        event["user_agent"] = user_agent[:512]
    return event


def consumer_of(callback: Callable[[Any], Any] | None, request: Any) -> Any:
    """The consumer a user's callable names for a request; its failure costs the consumer, not the call."""
    if callback is None:
        return None
    try:
        return callback(request)
    except Exception:
        log.warning("apimeter: the consumer callable raised; the call is recorded without one", exc_info=True)
        return None


def client_ip(peer: str | None, forwarded_for: Iterable[str], trusted_proxies: int) -> str | None:
    """The caller's address. ``X-Forwarded-For`` is believed only for ``trusted_proxies`` hops: each
    proxy appends the address it saw, so the Nth entry from the right is the one the first trusted
    proxy saw; anything further left could have been written by the caller."""
    if trusted_proxies > 0:
        hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
        if hops:
            return hops[-trusted_proxies] if len(hops) >= trusted_proxies else hops[0]
    return peer


def from_header(name: str) -> Callable[[Any], str | None]:
    """A ``consumer`` callable reading one request header, for every integration: an ASGI scope, a
    Flask, Django or Starlette request, or a Lambda event."""
    wanted = name.lower()
    wanted_bytes = wanted.encode("latin-1")

    def consumer(request: Any) -> str | None:
        if isinstance(request, dict):
            if "type" in request and isinstance(request.get("headers"), list):  # ASGI scope
                for key, value in request["headers"]:
                    if key.lower() == wanted_bytes:
                        return str(value.decode("latin-1"))
                return None
            headers = request.get("headers") or {}  # Lambda event
            for key, value in headers.items():
                if key.lower() == wanted:
                    return str(value)
            return None
        headers = getattr(request, "headers", None)
        value = headers.get(name) if headers is not None else None
        return str(value) if value is not None else None

    return consumer


@lru_cache(maxsize=4096)
def placeholders(rule: str) -> str:
    """Flask rules and Django routes in apimeter's form: ``<int:thing_id>`` becomes ``{thing_id}``."""
    return _PLACEHOLDER.sub(r"{\1}", rule) if "<" in rule else rule


@lru_cache(maxsize=4096)
def regex_template(pattern: str) -> str | None:
    """A route that may hold regular expressions (Django's ``re_path``, alone or under ``include``) as
    a template: anchors go, named groups become ``{name}``; None when what is left is still a pattern
    (an unnamed group, a class, a quantifier, an alternative), so the raw path is sent instead."""
    text = re.sub(r"(^|/)\^", r"\1", pattern).removesuffix("$").removesuffix("\\Z")
    text = _REGEX_GROUP.sub(lambda m: "{" + m.group(1) + "}", text)
    placeheld = re.sub(r"\{[A-Za-z_]\w*\}", "", text)
    if re.search(r"\\[A-Za-z0-9]", placeheld) or any(c in _REGEX_SPECIAL for c in _REGEX_ESCAPE.sub("", placeheld)):
        return None  # a class (\d), a quantifier or an alternative outside a named group
    return _REGEX_ESCAPE.sub(r"\1", text)


@lru_cache(maxsize=4096)  # callers repeat themselves
def _is_ip(value: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, value)
        except (OSError, ValueError):
            continue
        return True
    return False
