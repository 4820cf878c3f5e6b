"""GET /ready and the served documentation, through the gateway and from the sample events, on moto."""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path
from typing import Any

import boto3
import pytest

from apimeter.api import docs
from offline.template import Stack
from tests.builders import body, http_event, invoke, sample
from tests.integration.conftest import Api

ROOT = Path(__file__).resolve().parent.parent.parent
TYPES = {".css": "text/css", ".js": "text/javascript", ".png": "image/png"}
CHECKS = ("entities_table", "events_table", "rollups_table", "jwt_secret", "pepper_secret")


def fetch(api: Api, path: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    """A GET through the gateway, as a browser sends it (no credentials), with the raw body."""
    request = {"host": "127.0.0.1", "user-agent": "tests", **headers}
    status, out, _, payload = api.gateway.handle("GET", path, request, b"", "127.0.0.1", "127.0.0.1")
    return status, out, payload


def test_ready_when_every_table_and_secret_answers(api: Api) -> None:
    status, _, payload = fetch(api, "/ready")
    assert status == 200
    assert json.loads(payload) == {"status": "ready", "checks": dict.fromkeys(CHECKS, "ok")}


def test_not_ready_names_a_missing_table(api: Api, aws: dict[str, Any], stack: Stack) -> None:
    aws["dynamodb"].delete_table(TableName=stack.physical_name("RollupsTable"))
    status, headers, payload = fetch(api, "/ready")
    assert status == 503
    assert headers["content-type"] == "application/json"
    error = json.loads(payload)["error"]
    assert error["code"] == "SERVICE_UNAVAILABLE"
    assert error["details"]["failed"] == ["rollups_table"]
    assert error["details"]["checks"]["rollups_table"] == "ResourceNotFoundException"
    assert error["details"]["checks"]["entities_table"] == "ok"
    assert error["request_id"]
    assert fetch(api, "/health")[0] == 200  # liveness does not depend on it


def test_not_ready_names_a_missing_secret_and_never_shows_a_value(api: Api, aws: dict[str, Any], stack: Stack) -> None:
    pepper = stack.physical_name("ApiKeyPepperSecret")
    boto3.client("secretsmanager").delete_secret(SecretId=pepper, ForceDeleteWithoutRecovery=True)
    status, _, payload = fetch(api, "/ready")
    assert status == 503
    error = json.loads(payload)["error"]
    assert error["details"]["failed"] == ["pepper_secret"]
    assert error["details"]["checks"]["pepper_secret"] == "ResourceNotFoundException"
    for value in aws["secrets"].values():
        assert value not in payload.decode()


@pytest.mark.parametrize("name", ["openapi.json", "asyncapi.json"])
def test_the_served_document_is_the_checked_in_one(api: Api, name: str) -> None:
    checked_in = (ROOT / "docs" / name).read_bytes()
    status, headers, payload = fetch(api, f"/{name}")
    assert (status, headers["content-type"], payload) == (200, "application/json", checked_in)
    assert headers["cache-control"] == "no-cache"
    _, zipped_headers, zipped = fetch(api, f"/{name}", **{"accept-encoding": "gzip"})
    assert zipped_headers["content-encoding"] == "gzip"
    assert gzip.decompress(zipped) == checked_in
    status, _, empty = fetch(api, f"/{name}", **{"if-none-match": headers["etag"]})
    assert (status, empty) == (304, b"")


def test_the_docs_page_and_every_file_it_loads_are_served_without_credentials(api: Api) -> None:
    status, headers, payload = fetch(api, "/docs")
    assert status == 200
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert "default-src 'none'" in headers["content-security-policy"]
    references = re.findall(r'(?:href|src)="\./([^"]+)"', payload.decode())
    assert len(references) == 7  # two stylesheets, two icons, two scripts, the document's link
    for reference in references:
        status, headers, content = fetch(api, "/" + reference)
        assert status == 200, reference
        path = reference.partition("?")[0]
        if path == "openapi.json":
            continue
        assert headers["content-type"].startswith(TYPES[Path(path).suffix]), path
        assert headers["cache-control"] == "public, max-age=31536000, immutable"
        shipped = docs._ui_dir() / Path(path).name
        if shipped.exists():  # byte for byte, icons included (base64 on the wire)
            assert content == shipped.read_bytes(), path


def test_source_maps_and_other_files_are_not_served(api: Api) -> None:
    for path in ("/docs/swagger-ui-bundle.js.map", "/docs/index.html", "/docs/..%2F__init__.py"):
        status, _, payload = fetch(api, path)
        assert status == 404, path
        assert json.loads(payload)["error"]["code"] == "NOT_FOUND"


def test_docs_sample_answers_the_page(aws: dict[str, Any]) -> None:
    response = invoke("docs", sample("docs"))
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"] == "text/html; charset=utf-8"
    assert '<div id="swagger-ui">' in response["body"]


def test_an_asset_event_answers_gzip_as_base64(aws: dict[str, Any]) -> None:
    event = sample("docs")
    event.update(
        routeKey="GET /docs/{asset}", rawPath="/docs/swagger-ui.css", pathParameters={"asset": "swagger-ui.css"}
    )
    event["requestContext"].update(routeKey="GET /docs/{asset}")
    event["requestContext"]["http"]["path"] = "/docs/swagger-ui.css"
    response = invoke("docs", event)
    assert response["statusCode"] == 200
    assert response["isBase64Encoded"] is True
    assert response["headers"]["Content-Encoding"] == "gzip"
    css = gzip.decompress(base64.b64decode(response["body"]))
    assert css == (docs._ui_dir() / "swagger-ui.css").read_bytes()


def test_ready_sample_on_the_template_stack(aws: dict[str, Any]) -> None:
    response = invoke("health", http_event("GET /ready"))
    assert response["statusCode"] == 200
    assert body(response)["status"] == "ready"
