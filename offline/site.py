"""The dashboard offline: the static files of ``dashboard/`` at ``/``, and its ``config.json``.

On AWS, CloudFront serves the same files from S3 with the same headers (the template's
DashboardHeaders policy); here the gateway answers a GET that no API route takes from this folder.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from urllib.parse import urlsplit

Answer = tuple[int, dict[str, str], list[str], bytes]

# What may be served: the app, never its package manager's files.
_HIDDEN = ("node_modules", "package.json", "package-lock.json")
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
          ".html": "text/html; charset=utf-8", ".svg": "image/svg+xml", ".json": "application/json"}  # fmt: skip


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

    def _file(self, path: str) -> Path | None:
        relative = path.lstrip("/") or "index.html"
        if any(part.startswith(".") or part in _HIDDEN for part in relative.split("/")):
            return None
        candidate = (self.root / relative).resolve()
        if not candidate.is_relative_to(self.root) or not candidate.is_file():
            return None
        return candidate

    def answer(self, method: str, path: str) -> Answer | None:
        """The file for a GET or HEAD, or None when there is none (the caller answers 404)."""
        if method not in ("GET", "HEAD"):
            return None
        if path == "/config.json":
            headers = {**self.headers, "content-type": "application/json", "cache-control": "no-cache"}
            return 200, headers, [], self.config
        found = self._file(path)
        if found is None:
            return None
        kind = _TYPES.get(found.suffix) or mimetypes.guess_type(found.name)[0] or "application/octet-stream"
        # Revalidated every time: offline, an edited file shows on the next reload.
        return 200, {**self.headers, "content-type": kind, "cache-control": "no-cache"}, [], found.read_bytes()
