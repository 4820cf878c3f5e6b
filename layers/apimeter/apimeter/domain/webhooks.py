"""Signed webhook deliveries.

Every delivery is a POST of a JSON body with the header::

    Apimeter-Signature: t=1763814645,v1=f1dcea3cc3f6174cd814a77d6d7b01d9016b5ba1d677ca8f3844405072b67f44

``t`` is the sending time in Unix seconds and ``v1`` the lowercase hex HMAC-SHA256, keyed with
the webhook's secret (its UTF-8 bytes), of ``t``, a dot, and the raw body bytes. To verify, a
receiver:

1. splits the header on ``,`` and each part on the first ``=``, ignoring keys it does not know
   (a later scheme may add ``v2``); there may be several ``v1`` while a secret is being rotated;
2. computes the HMAC of ``f"{t}.".encode() + raw_body`` and compares it with each ``v1`` in
   constant time, accepting if one matches;
3. rejects the delivery when ``t`` is more than five minutes from its own clock, so a captured
   request cannot be replayed later.

The example is the signature of the body ``{"id":"bud_1#2026-11#actual#80"}`` with the secret
``whsec-example-0123456789``; a receiver's implementation should reproduce it.

The body must be checked as received, before any JSON parsing, since re-serializing changes the
bytes. Deliveries are at least once: a receiver that must act once dedupes on the body's ``id``,
which is the same for every retry of one alert (and the body is byte-identical, see ``encode``).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import re
import secrets
from collections.abc import Mapping
from typing import Any

SIGNATURE_HEADER = "Apimeter-Signature"
SCHEME = "v1"
TOLERANCE_S = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_DIGEST = re.compile(r"[0-9a-f]{64}")
_MAX_HEADER = 4096
# IPv6 prefixes that carry an IPv4 address a gateway may reach on the sender's behalf: NAT64's
# well-known prefix (RFC 6052); IPv4-mapped, 6to4 and Teredo addresses are unwrapped by ipaddress.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class Refused(Exception):
    """A delivery no retry can make: the webhook's host resolves to an address it must not reach."""


def refusal(address: str) -> str | None:
    """Why a delivery must not connect to ``address`` (an IP literal), as in "a private address",
    or None when it may.

    A webhook URL was checked when the budget was saved, but its name can resolve anywhere later
    (DNS rebinding), and deliveries leave from inside AWS: an address on a private, loopback,
    link-local (the instance metadata service), multicast, reserved or unspecified network is refused,
    as is an IPv6 address that wraps such an IPv4 one.
    """
    try:
        ip: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(address)
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        wrapped = ip.ipv4_mapped or (ip.teredo[1] if ip.teredo else None) or ip.sixtofour
        if wrapped is None and ip in _NAT64:
            wrapped = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if wrapped is not None:
            inner = refusal(str(wrapped))
            return f"an IPv6 address wrapping {wrapped}, {inner}" if inner else None
    for kind, flagged in (
        ("an unspecified", ip.is_unspecified),
        ("a loopback", ip.is_loopback),
        ("a link-local", ip.is_link_local),
        ("a multicast", ip.is_multicast),
        ("a reserved", ip.is_reserved),
        ("a private", ip.is_private),
        ("a non-public", not ip.is_global),  # shared (100.64/10), documentation and other special ranges
    ):
        if flagged:
            return f"{kind} address"
    return None


def new_secret() -> str:
    """A signing secret: 32 random bytes, URL-safe text."""
    return secrets.token_urlsafe(32)


def _key(secret: bytes | str) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def _digest(secret: bytes | str, body: bytes, timestamp: int) -> str:
    return hmac.new(_key(secret), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes | str, body: bytes, timestamp: int) -> str:
    """The ``Apimeter-Signature`` value of ``body`` sent at ``timestamp`` (Unix seconds)."""
    if timestamp < 0:
        raise ValueError("timestamp must be Unix seconds")
    return f"t={timestamp},{SCHEME}={_digest(secret, body, timestamp)}"


def verify(secret: bytes | str, body: bytes, header: str, now: float, tolerance_s: int = TOLERANCE_S) -> bool:
    """Whether ``header`` signs ``body`` with ``secret`` at a time within ``tolerance_s`` of ``now``."""
    if len(header) > _MAX_HEADER:
        return False
    timestamps: list[str] = []
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            return False
        if name == "t":
            timestamps.append(value)
        elif name == SCHEME:
            signatures.append(value)
    if len(timestamps) != 1 or not _TIMESTAMP.fullmatch(timestamps[0]) or not signatures:
        return False
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > tolerance_s:
        return False
    expected = _digest(secret, body, timestamp).encode()
    # Compare against every candidate so the time taken does not tell which one matched.
    matched = False
    for candidate in signatures:
        if _DIGEST.fullmatch(candidate) and hmac.compare_digest(expected, candidate.encode()):
            matched = True
    return matched


def encode(payload: Mapping[str, Any]) -> bytes:
    """The delivery body: compact, key-sorted JSON, so every retry sends (and signs) the same bytes."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def headers(secret: bytes | str, body: bytes, timestamp: int) -> dict[str, str]:
    """Headers of one delivery attempt."""
    return {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, body, timestamp)}
