"""The dashboard offline: the static files of ``dashboard/`` at ``/``, and its ``config.json``.

On AWS, CloudFront serves the same files from S3 with the same headers (the template's
DashboardHeaders policy); here the gateway answers a GET that no API route takes from this folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

from apimeter.domain import site

Answer = tuple[int, dict[str, str], list[str], bytes]


def content_security_policy(api_url: str, live_url: str | None) -> str:
    """No inline script or style element, no origin but this one, the API's and the live API's."""
    origins = [f"{(u := urlsplit(url)).scheme}://{u.netloc}" for url in (api_url, live_url) if url]
    connect = " ".join(["'self'", *origins])
    return (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
        f"connect-src {connect}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


class Site:
    def __init__(self, root: Path, api_url: str, live_url: str | None) -> None:
        self.root = root.resolve()
        # Same origin offline: the page calls the API wherever it was opened (127.0.0.1 or localhost).
        live_path = urlsplit(live_url).path if live_url else ""
        self.config = json.dumps({"api_url": "", "live_url": live_path}).encode()
        self.headers = {
            "content-security-policy": content_security_policy(api_url, live_url),
            "x-content-type-options": "nosniff",
            "x-frame-options": "DENY",
            "referrer-policy": "no-referrer",
        }

    def _file(self, path: str) -> tuple[str, Path] | None:
        """The file a path names, if it is one a release publishes (the same rules as on AWS)."""
        key = path.lstrip("/") or site.ENTRY_POINT
        if not site.is_published(key):
            return None
        candidate = (self.root / key).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return key, candidate

    def answer(self, method: str, path: str) -> Answer | None:
        """The file for a GET or HEAD, or None when there is none (the caller answers 404)."""
        if method not in ("GET", "HEAD"):
            return None
        if path == "/" + site.CONFIG:
            headers = {**self.headers, "content-type": "application/json", "cache-control": "no-cache"}
            return 200, headers, [], self.config
        found = self._file(path)
        if found is None:
            return None
        key, file = found
        # Revalidated every time: offline, an edited file shows on the next reload.
        headers = {**self.headers, "content-type": site.content_type(key), "cache-control": site.REVALIDATE}
        return 200, headers, [], file.read_bytes()
