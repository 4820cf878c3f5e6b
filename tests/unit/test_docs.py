"""The documentation's files and their HTTP answers: versioned assets, revalidation, gzip, nothing extra."""

from __future__ import annotations

import base64
import gzip
import os
import re
from pathlib import Path

import pytest

from apimeter.api import docs
from apimeter.errors import NotFound

ROOT = Path(__file__).resolve().parent.parent.parent


def _local_references(html: str) -> list[str]:
    return re.findall(r'(?:href|src)="(\./[^"]+)"', html)


def test_the_page_loads_only_files_the_function_serves_each_under_its_version() -> None:
    html = docs.page().body.decode()
    references = _local_references(html)
    served = {*docs.UI_FILES, docs.INITIALIZER}
    assert {ref.removeprefix("./docs/").partition("?")[0] for ref in references if ref != "./openapi.json"} == served
    for ref in references:
        if ref.startswith("./docs/"):
            name, _, version = ref.removeprefix("./docs/").partition("?v=")
            assert version == docs.asset(name).digest[:16]
    assert "http:" not in html
    assert "https:" not in html
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []  # no inline script: the policy forbids it
    assert "script-src 'self'" in docs.page().headers["Content-Security-Policy"]


def test_the_initializer_points_swagger_ui_at_the_document_beside_the_page() -> None:
    script = docs.asset(docs.INITIALIZER).body.decode()
    assert 'new URL("openapi.json", document.baseURI)' in script
    assert "validatorUrl: null" in script  # Swagger UI would otherwise send the document's address away


@pytest.mark.parametrize("name", ["swagger-ui-bundle.js.map", "swagger-ui.css.map", "index.html", "../__init__.py", ""])
def test_nothing_else_of_the_package_is_served(name: str) -> None:
    with pytest.raises(NotFound):
        docs.asset(name)


def test_an_asset_is_cached_for_a_year_and_gzipped_for_clients_that_accept_it() -> None:
    script = docs.asset("swagger-ui-bundle.js")
    plain = docs.respond(script, {})
    assert plain.status_code == 200
    assert plain.body == script.body.decode()
    assert plain.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert plain.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert plain.headers["Vary"] == "Accept-Encoding"
    assert "Content-Encoding" not in plain.headers
    assert not plain.base64_encoded
    zipped = docs.respond(script, {"Accept-Encoding": "gzip, deflate, br"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.base64_encoded
    assert gzip.decompress(base64.b64decode(zipped.body or "")) == script.body
    assert zipped.headers["ETag"] != plain.headers["ETag"]  # another representation
    refused = docs.respond(script, {"accept-encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers


def test_an_icon_is_base64_and_never_compressed() -> None:
    icon = docs.asset("favicon-32x32.png")
    answer = docs.respond(icon, {"accept-encoding": "gzip"})
    assert answer.base64_encoded
    assert base64.b64decode(answer.body or "") == icon.body
    assert icon.body.startswith(b"\x89PNG")
    assert answer.headers["Content-Type"] == "image/png"
    assert "Content-Encoding" not in answer.headers


@pytest.mark.parametrize("accept", ["", "gzip"])
def test_a_client_holding_the_current_representation_gets_304(accept: str) -> None:
    page = docs.page()
    first = docs.respond(page, {"accept-encoding": accept})
    assert first.headers["Cache-Control"] == "no-cache"
    etag = first.headers["ETag"]
    again = docs.respond(page, {"accept-encoding": accept, "if-none-match": f'"stale", W/{etag}'})
    assert again.status_code == 304
    assert not again.body
    assert again.headers["ETag"] == etag
    assert docs.respond(page, {"accept-encoding": accept, "if-none-match": '"stale"'}).status_code == 200


@pytest.mark.parametrize("name", ["openapi.json", "asyncapi.json"])
def test_each_document_ships_in_the_function_through_a_link_to_the_checked_in_one(name: str) -> None:
    link = ROOT / "functions" / "docs" / name
    assert link.is_symlink()
    assert os.readlink(link) == f"../../docs/{name}"  # relative, so sam build and every checkout resolve it
    document = docs.document(link)
    assert document.body == (ROOT / "docs" / name).read_bytes()
    assert (document.content_type, document.cache_control) == ("application/json", "no-cache")
    assert document.gzipped is not None
    assert gzip.decompress(document.gzipped) == document.body
