"""The dashboard served offline: its files, its config.json and its security headers, and nothing
outside dashboard/ or from the package manager's folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from offline.site import Site, content_security_policy


@pytest.fixture
def site(tmp_path: Path) -> Site:
    root = tmp_path / "dashboard"
    (root / "src").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html>")
    (root / "src" / "main.js").write_text("export {};")
    (root / "node_modules" / "uplot").mkdir(parents=True)
    (root / "node_modules" / "uplot" / "x.js").write_text("1")
    (root / "package.json").write_text("{}")
    (root / ".env").write_text("SECRET=1")
    (tmp_path / "outside.txt").write_text("no")
    return Site(root, "http://127.0.0.1:3000", "ws://127.0.0.1:3000/ws")


def test_the_page_is_served_with_its_policy(site: Site) -> None:
    answer = site.answer("GET", "/")
    assert answer is not None
    status, headers, _, body = answer
    assert (status, body) == (200, b"<!doctype html>")
    assert headers["content-type"].startswith("text/html")
    assert headers["x-content-type-options"] == "nosniff"
    assert "script-src 'self';" in headers["content-security-policy"]
    module = site.answer("GET", "/src/main.js")
    assert module is not None
    assert module[1]["content-type"].startswith("text/javascript")  # modules need a JavaScript type


def test_config_points_at_the_same_origin(site: Site) -> None:
    answer = site.answer("GET", "/config.json")
    assert answer is not None
    assert json.loads(answer[3]) == {"api_url": "", "live_url": "/ws"}
    assert answer[1]["cache-control"] == "no-cache"


@pytest.mark.parametrize(
    "path", ["/../outside.txt", "/src/../../outside.txt", "/node_modules/uplot/x.js", "/package.json", "/.env", "/nope"]
)
def test_nothing_else_is_served(site: Site, path: str) -> None:
    assert site.answer("GET", path) is None


def test_only_reads(site: Site) -> None:
    assert site.answer("POST", "/") is None
    assert site.answer("HEAD", "/") is not None


def test_the_policy_allows_no_inline_code_and_names_the_api() -> None:
    policy = content_security_policy("https://api.example.com/prod", "wss://live.example.com/prod")
    assert "'unsafe-inline'" not in policy
    assert "'unsafe-eval'" not in policy
    assert "default-src 'none'" in policy
    assert "connect-src 'self' https://api.example.com wss://live.example.com;" in policy
    assert "frame-ancestors 'none'" in policy
