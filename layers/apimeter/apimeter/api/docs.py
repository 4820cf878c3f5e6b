"""The API's documentation over HTTP: the OpenAPI document, and Swagger UI over it with every file it
loads served by the docs function itself (no CDN), so the page works offline and under a
Content-Security-Policy that allows nothing from elsewhere and no inline script.

Swagger UI's files (5.x: it renders OpenAPI 3.1) come from the swagger-ui-py package's static folder, a
dependency of the docs function only; the package itself is never imported.
The page names each asset with a hash of its content (``?v=...``), so a browser keeps an asset for a
year without asking again and a new version is a new address; the page and the documents are
revalidated on each visit (ETag, 304).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from aws_lambda_powertools.event_handler import Response

from apimeter import __version__
from apimeter.errors import ConfigurationError, NotFound

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
# Swagger UI sets style attributes and draws icons from data: URLs; it fetches the document and,
# with "Try it out", calls this API, both on this origin.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
JSON = "application/json"
_TEXT = ("text/", JSON)
_COMPRESS_OVER = 1024

# The files of Swagger UI's distribution that the page loads (no source maps, no standalone preset).
UI_FILES = {
    "swagger-ui.css": "text/css; charset=utf-8",
    "index.css": "text/css; charset=utf-8",
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "favicon-16x16.png": "image/png",
}
INITIALIZER = "apimeter-docs.js"
# A file rather than an inline script, so the page's policy can forbid inline script. The document's
# address is resolved against the page's, so it holds behind a custom domain's base path too.
_INITIALIZER_JS = """\
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", document.baseURI).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
  });
});
"""


@dataclass(frozen=True, slots=True)
class StaticFile:
    body: bytes
    content_type: str
    cache_control: str
    digest: str  # of the body: the ETag, and the version in an asset's address
    gzipped: bytes | None  # None where compression gains nothing
    headers: Mapping[str, str]

    @classmethod
    def of(cls, body: bytes, content_type: str, cache_control: str, **headers: str) -> StaticFile:
        compressible = content_type.startswith(_TEXT) and len(body) > _COMPRESS_OVER
        gzipped = gzip.compress(body, compresslevel=6, mtime=0) if compressible else None
        digest = hashlib.sha256(body).hexdigest()[:32]
        return cls(body, content_type, cache_control, digest, gzipped, headers)

    @property
    def is_text(self) -> bool:
        return self.content_type.startswith(_TEXT)


@cache
def _ui_dir() -> Path:
    spec = importlib.util.find_spec("swagger_ui")  # finds the folder without running the package
    if spec is None or not spec.submodule_search_locations:
        raise ConfigurationError("the docs function needs the swagger-ui-py package (functions/docs/requirements.txt)")
    return Path(spec.submodule_search_locations[0]) / "static"


@cache
def asset(name: str) -> StaticFile:
    """One of the page's files; ``NotFound`` for any other name (nothing else of the package is served)."""
    if name == INITIALIZER:
        return StaticFile.of(_INITIALIZER_JS.encode(), "text/javascript; charset=utf-8", IMMUTABLE)
    if name not in UI_FILES:
        raise NotFound(f"no documentation asset {name!r}")
    return StaticFile.of((_ui_dir() / name).read_bytes(), UI_FILES[name], IMMUTABLE)


def _versioned(name: str) -> str:
    # Relative to the page (/docs), so it holds behind a custom domain's base path.
    return f"./docs/{name}?v={asset(name).digest[:16]}"


@cache
def page() -> StaticFile:
    """Swagger UI's page over ``openapi.json``; it loads only the files ``asset`` serves."""
    html = f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>apimeter API {__version__}</title>
  <link rel="stylesheet" href="{_versioned("swagger-ui.css")}">
  <link rel="stylesheet" href="{_versioned("index.css")}">
  <link rel="icon" type="image/png" sizes="32x32" href="{_versioned("favicon-32x32.png")}">
  <link rel="icon" type="image/png" sizes="16x16" href="{_versioned("favicon-16x16.png")}">
</head>
<body>
  <div id="swagger-ui">
    <noscript>The interactive documentation needs JavaScript; the API is described in
      <a href="./openapi.json">openapi.json</a>.</noscript>
  </div>
  <script src="{_versioned("swagger-ui-bundle.js")}"></script>
  <script src="{_versioned(INITIALIZER)}"></script>
</body>
</html>
"""
    return StaticFile.of(
        html.encode(),
        "text/html; charset=utf-8",
        REVALIDATE,
        **{"Content-Security-Policy": PAGE_POLICY, "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"},
    )


@cache
def document(path: Path) -> StaticFile:
    """A JSON document the function ships (the OpenAPI or the AsyncAPI document); read once per process."""
    return StaticFile.of(path.read_bytes(), JSON, REVALIDATE)


def _accepts_gzip(accept_encoding: str) -> bool:
    for coding in accept_encoding.split(","):
        name, _, params = coding.strip().partition(";")
        if name.strip().lower() == "gzip":
            return params.replace(" ", "").lower() not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _matches(if_none_match: str, etag: str) -> bool:
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return etag in tags or "*" in tags


def respond(file: StaticFile, request_headers: Mapping[str, str]) -> Response[str]:
    """The file as an HTTP response: gzipped when the client accepts that (its own ETag, as another
    representation), 304 when the client holds that representation already, and base64 on the wire
    wherever the body is not plain text."""
    headers = {key.lower(): value for key, value in request_headers.items()}
    body: str | bytes = file.body.decode() if file.is_text else file.body
    out: dict[str, str] = {"Cache-Control": file.cache_control, "X-Content-Type-Options": "nosniff", **file.headers}
    etag = f'"{file.digest}"'
    if file.gzipped is not None:
        out["Vary"] = "Accept-Encoding"
        if _accepts_gzip(headers.get("accept-encoding", "")):
            body, etag = file.gzipped, f'"{file.digest}-gzip"'
            out["Content-Encoding"] = "gzip"
    out["ETag"] = etag
    if _matches(headers.get("if-none-match", ""), etag):
        out.pop("Content-Encoding", None)
        return Response(status_code=304, body="", headers=out)  # "": the route's validation wants a str
    if isinstance(body, str):
        return Response(status_code=200, content_type=file.content_type, body=body, headers=out)
    # Encoded here rather than by Powertools, which would first serialize a JSON response's bytes as JSON.
    response: Response[str] = Response(
        status_code=200, content_type=file.content_type, body=base64.b64encode(body).decode(), headers=out
    )
    response.base64_encoded = True
    return response
