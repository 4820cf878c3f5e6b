"""The web dashboard as published: which of its files, with which Content-Type and Cache-Control,
its ``config.json``, and what a new release leaves behind.

The files have no content hash in their names (no build step), so only the CDN may keep them long:
every release invalidates it. A browser keeps an asset an hour and never keeps an entry point
(``index.html``) or ``config.json`` without asking, so a release reaches everyone within the hour
and a page never mixes two releases' modules for longer than that.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

CONFIG = "config.json"
ENTRY_POINT = "index.html"
REVALIDATE = "no-cache"
ASSET = "public, max-age=3600, s-maxage=86400"
DEFAULT_TYPE = "application/octet-stream"

# Not a file of the app: the package manager's, the tests', and config.json, which a release writes.
_LEFT_OUT_DIRECTORIES = frozenset({"node_modules", "tests"})
_LEFT_OUT_FILES = frozenset({"package.json", "package-lock.json"})

# By suffix, not by the mimetypes module, whose answers depend on the machine's /etc/mime.types:
# with X-Content-Type-Options: nosniff a module served with any other type does not run.
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
}
_NOTICES = frozenset({"license", "licence", "copying", "notice"})  # a vendored library's, shown as text


def is_published(key: str) -> bool:
    """Whether the file at ``key`` (a path relative to the app's folder, with ``/``) is part of the
    app. Dotfiles and dot-folders never are."""
    parts = key.split("/")
    if any(part.startswith(".") or part == "" for part in parts):
        return False
    if any(part in _LEFT_OUT_DIRECTORIES for part in parts[:-1]):
        return False
    return parts[-1] not in _LEFT_OUT_FILES and key != CONFIG


def content_type(key: str) -> str:
    name = key.rsplit("/", 1)[-1].lower()
    if name in _NOTICES:
        return _TYPES[".txt"]
    suffix = name[name.rfind(".") :] if "." in name else ""
    return _TYPES.get(suffix, DEFAULT_TYPE)


def is_entry_point(key: str) -> bool:
    """A page or the configuration: what names the release's other files, or where the API is."""
    return key == CONFIG or content_type(key).startswith("text/html")


def cache_control(key: str) -> str:
    return REVALIDATE if is_entry_point(key) else ASSET


def upload_order(keys: Iterable[str]) -> list[str]:
    """Assets first, then the configuration and the pages: a visitor who loads a new page during a
    release finds every file it names already there."""
    return sorted(keys, key=lambda key: (is_entry_point(key), key == ENTRY_POINT, key))


def stale_keys(stored: Iterable[str], published: Iterable[str]) -> list[str]:
    """What the bucket holds that this release did not write: files of a previous release."""
    return sorted(set(stored) - set(published))


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def connect_sources(policy: str) -> list[str]:
    """The sources of a Content-Security-Policy's ``connect-src`` (``default-src`` when absent)."""
    directives = {}
    for directive in policy.split(";"):
        words = directive.split()
        if words and words[0].lower() not in directives:  # the first of a repeated directive counts
            directives[words[0].lower()] = words[1:]
    return directives.get("connect-src", directives.get("default-src", []))


def _url(scheme: str, message: str) -> AfterValidator:
    def check(url: str) -> str:
        if urlsplit(url).scheme != scheme or not urlsplit(url).netloc:
            raise ValueError(message)
        return url

    return AfterValidator(check)


class Release(BaseModel):
    """The custom resource's properties (CloudFormation sends every value as a string)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    bucket: str = Field(alias="Bucket", min_length=3)
    distribution_id: str = Field(alias="DistributionId", min_length=1)
    api_url: Annotated[str, _url("https", "ApiUrl must be an https URL")] = Field(alias="ApiUrl")
    live_url: Annotated[str, _url("wss", "LiveUrl must be a wss URL")] = Field(alias="LiveUrl")
    headers_policy_id: str = Field(alias="HeadersPolicyId", min_length=1)
    content_security_policy: str = Field(alias="ContentSecurityPolicy", min_length=1)

    @model_validator(mode="after")
    def _policy_lets_the_page_reach_its_apis(self) -> Release:
        allowed = connect_sources(self.content_security_policy)
        missing = [origin(url) for url in (self.api_url, self.live_url) if origin(url) not in allowed]
        if missing:
            raise ValueError(f"ContentSecurityPolicy's connect-src does not allow {', '.join(missing)}")
        return self

    def config(self) -> bytes:
        """``/config.json``: where the page finds the API and the live API."""
        return json.dumps({"api_url": self.api_url, "live_url": self.live_url}, indent=2).encode() + b"\n"
