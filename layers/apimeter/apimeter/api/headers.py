"""Headers on every answer of the HTTP API, in one place so Lambda's answers and the offline gateway's
own agree.

The API answers JSON to scripts, never pages to frame: no sniffing, no framing, no Referer, HTTPS
only, and nothing stored by a browser or a proxy on the way (answers carry tenants' figures and
tokens), unless a public route says how its answer may be cached (the docs' versioned files).
"""

from __future__ import annotations

from collections.abc import MutableMapping

SECURITY: dict[str, str] = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
}
NO_STORE = "no-store"


def secure(headers: MutableMapping[str, str], authenticated: bool) -> MutableMapping[str, str]:
    """Add the security headers a response lacks (a page's own policy stays), and ``Cache-Control:
    no-store``: always on an authenticated route, else unless the route set its own."""
    present = {name.lower(): name for name in headers}
    for name, value in SECURITY.items():
        if name.lower() not in present:
            headers[name] = value
    if authenticated and "cache-control" in present:
        del headers[present["cache-control"]]
    if authenticated or "cache-control" not in present:
        headers["Cache-Control"] = NO_STORE
    return headers
