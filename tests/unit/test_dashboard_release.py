"""The web dashboard as published: which files, their types and caching, config.json, stale files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from apimeter.api import custom_resource
from apimeter.domain import site
from apimeter.logic.site import package
from tests.builders import sample

CSP = sample("dashboard_site")["ResourceProperties"]["ContentSecurityPolicy"]


def _properties(**changes: str) -> dict[str, Any]:
    properties: dict[str, Any] = sample("dashboard_site")["ResourceProperties"]
    properties.update(changes)
    return properties


@pytest.mark.parametrize(
    ("key", "published"),
    [
        ("index.html", True),
        ("src/app.js", True),
        ("vendor/uPlot.iife.min.js", True),
        ("src/views/config.json", True),  # only the root's config.json is the release's own
        ("config.json", False),
        ("package.json", False),
        ("package-lock.json", False),
        ("node_modules/uplot/dist/uPlot.esm.js", False),
        ("tests/app.test.js", False),
        ("src/tests/helpers.js", False),
        (".eslintrc.json", False),
        (".git/HEAD", False),
        ("src/.DS_Store", False),
    ],
)
def test_only_the_apps_own_files_are_published(key: str, published: bool) -> None:
    assert site.is_published(key) is published


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        ("index.html", "text/html; charset=utf-8"),
        ("style.css", "text/css; charset=utf-8"),
        ("src/app.js", "text/javascript; charset=utf-8"),  # nosniff: a module needs a JavaScript type
        ("src/app.MJS", "text/javascript; charset=utf-8"),
        ("config.json", "application/json"),
        ("favicon.svg", "image/svg+xml"),
        ("icons/logo.png", "image/png"),
        ("fonts/inter.woff2", "font/woff2"),
        ("vendor/LICENSE", "text/plain; charset=utf-8"),
        ("bin/tool", "application/octet-stream"),
        ("archive.tar.gz", "application/octet-stream"),
    ],
)
def test_content_type_by_suffix(key: str, kind: str) -> None:
    assert site.content_type(key) == kind


def test_pages_and_config_are_revalidated_and_assets_kept_briefly_in_browsers_longer_at_the_edge() -> None:
    for key in ("index.html", "config.json", "help/index.html"):
        assert site.cache_control(key) == "no-cache", key
    for key in ("src/app.js", "style.css", "vendor/uPlot.min.css", "favicon.svg"):
        directives = dict(d.strip().partition("=")[::2] for d in site.cache_control(key).split(","))
        assert int(directives["max-age"]) <= 3600, key  # no hashed names: a release must reach browsers soon
        assert int(directives["s-maxage"]) >= 86400, key  # the edge keeps them: each release invalidates it


def test_assets_go_up_before_config_and_the_page_last() -> None:
    order = site.upload_order(["index.html", "src/app.js", "config.json", "style.css", "help.html"])
    assert order[-1] == "index.html"
    assert set(order[:2]) == {"src/app.js", "style.css"}
    assert order.index("config.json") > order.index("style.css")


def test_stale_keys_are_what_the_bucket_holds_beyond_the_release() -> None:
    stored = ["index.html", "src/old.js", "src/app.js", "config.json", "vendor/uPlot.v1.js"]
    assert site.stale_keys(stored, ["index.html", "src/app.js", "config.json"]) == ["src/old.js", "vendor/uPlot.v1.js"]
    assert site.stale_keys([], ["index.html"]) == []


def test_config_names_the_apis_and_nothing_else() -> None:
    release = site.Release.model_validate(_properties())
    assert json.loads(release.config()) == {
        "api_url": "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
        "live_url": "wss://f6g7h8i9j0.execute-api.us-east-1.amazonaws.com/dev",
    }


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ApiUrl": "http://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"}, "ApiUrl must be an https URL"),
        ({"LiveUrl": "https://f6g7h8i9j0.execute-api.us-east-1.amazonaws.com/dev"}, "LiveUrl must be a wss URL"),
        ({"ApiUrl": "https://other.execute-api.us-east-1.amazonaws.com"}, "does not allow https://other.execute"),
        ({"ContentSecurityPolicy": "default-src 'self'"}, "does not allow https://a1b2c3d4e5"),
        ({"Bucket": ""}, "Bucket"),
    ],
)
def test_a_release_that_could_not_work_is_refused(changes: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        site.Release.model_validate(_properties(**changes))


def test_connect_sources_read_the_directive_and_fall_back_to_default_src() -> None:
    assert site.connect_sources(CSP) == [
        "'self'",
        "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
        "wss://f6g7h8i9j0.execute-api.us-east-1.amazonaws.com",
    ]
    assert site.connect_sources("default-src 'self';; img-src data:") == ["'self'"]
    assert site.connect_sources("connect-src a; connect-src b") == ["a"]  # browsers take the first


def test_the_package_is_the_apps_files_and_needs_a_page(tmp_path: Path) -> None:
    for name in ("index.html", "src/app.js", "node_modules/x/y.js", "package.json", ".env", "config.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    assert sorted(package(tmp_path)) == ["index.html", "src/app.js"]
    (tmp_path / "index.html").unlink()
    with pytest.raises(FileNotFoundError, match=r"no index\.html"):
        package(tmp_path)
    with pytest.raises(FileNotFoundError):
        package(tmp_path / "missing")


def test_the_answer_to_cloudformation_carries_the_request_and_a_bounded_reason() -> None:
    request = custom_resource.Request.of(sample("dashboard_site"))
    document = json.loads(custom_resource.answer(request, "FAILED", "phys-1", "x" * 5000, {"Files": "3"}))
    assert document == {
        "Status": "FAILED",
        "Reason": "x" * custom_resource.REASON_LIMIT,
        "PhysicalResourceId": "phys-1",
        "StackId": request.stack_id,
        "RequestId": request.request_id,
        "LogicalResourceId": "DashboardSite",
        "NoEcho": False,
        "Data": {"Files": "3"},
    }
    assert request.settled_id == f"DashboardSite-{request.request_id}"  # a Create that failed
    update = custom_resource.Request.of({**sample("dashboard_site"), "PhysicalResourceId": "bucket-1"})
    assert update.settled_id == "bucket-1"


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http://example.com/x", "file:///etc/passwd", "x"])
def test_answers_go_over_https_only_or_http_on_loopback(url: str) -> None:
    with pytest.raises(ValueError, match="refusing to answer"):
        custom_resource.send(url, b"{}")
