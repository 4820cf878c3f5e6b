"""Raw paths to route templates, so that series stay bounded: ``/users/123`` -> ``/users/{id}``.

Used when a client sends a ``path`` but no ``endpoint`` template. A segment that looks like an
identifier (a number, a UUID, a hex or ULID-like token, a long mixed token, an email) becomes a
placeholder; everything else is kept. The query string and fragment are dropped.
"""

from __future__ import annotations

import re
from functools import lru_cache

_NUMBER = re.compile(r"^[+-]?\d+(?:\.\d+)?$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_HEX = re.compile(r"^(?=[^/]*\d)[0-9a-fA-F]{8,}$")  # e.g. object ids, digests; at least one digit
_ULID = re.compile(r"^[0-9A-HJKMNP-TV-Za-hjkmnp-tv-z]{26}$")
# Long unbroken mixed tokens (keys, hashes in base62); hyphenated slugs such as "talk-2013" stay.
_TOKEN = re.compile(r"^(?=.*\d)(?=.*[A-Za-z])[A-Za-z0-9]{20,}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_PREFIXED = re.compile(r"^([a-z]{2,8}_)[0-9A-Za-z]{10,}$")  # Stripe-like ids: cus_J3k..., prj_01j...


def strip_query(path: str) -> str:
    cut = len(path)
    for mark in ("?", "#"):
        at = path.find(mark)
        if at != -1:
            cut = min(cut, at)
    return path[:cut] or "/"


def _segment(segment: str) -> str:
    if _NUMBER.match(segment):
        return "{id}"
    if _UUID.match(segment):
        return "{uuid}"
    if _EMAIL.match(segment):
        return "{email}"
    if _PREFIXED.match(segment) or _ULID.match(segment) or _HEX.match(segment) or _TOKEN.match(segment):
        return "{id}"
    return segment


@lru_cache(maxsize=65_536)
def template(path: str) -> str:
    """The route template of a raw path (cached: real traffic repeats its paths)."""
    clean = strip_query(path)
    if not clean.startswith("/"):
        clean = "/" + clean
    segments = [_segment(s) for s in clean.split("/")[1:]]
    result = "/" + "/".join(segments)
    return result.rstrip("/") or "/" if len(result) > 1 else "/"
