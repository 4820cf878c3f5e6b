"""The dashboard's source, read as text: nothing in it can turn a string into HTML or script, every
module it imports exists, and the page itself has no inline script or style for a CSP to allow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DASHBOARD = Path(__file__).resolve().parent.parent.parent / "dashboard"
SOURCES = sorted((DASHBOARD / "src").rglob("*.js"))
# Every way a string becomes markup or code in a browser.
SINKS = re.compile(
    r"\.innerHTML|\.outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|createContextualFragment"
    r"|DOMParser|srcdoc|setTimeout\(\s*[\"'`]|setInterval\(\s*[\"'`]"
)
IMPORTS = re.compile(r"""(?:import\s[^;]*?from\s|import\()\s*["']([^"']+)["']""")


def test_there_is_a_dashboard_to_check() -> None:
    assert len(SOURCES) >= 5
    assert (DASHBOARD / "src" / "main.js") in SOURCES


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(DASHBOARD)))
def test_no_module_writes_markup_or_runs_strings(source: Path) -> None:
    found = [(n, line.strip()) for n, line in enumerate(source.read_text().splitlines(), 1) if SINKS.search(line)]
    assert found == []


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: str(p.relative_to(DASHBOARD)))
def test_every_import_resolves_to_a_file_of_the_dashboard(source: Path) -> None:
    for target in IMPORTS.findall(source.read_text()):
        assert target.startswith("."), f"{source.name} imports {target!r}: only the dashboard's own modules"
        resolved = (source.parent / target).resolve()
        assert resolved.is_file(), f"{source.name} imports {target}, which does not exist"
        assert resolved.is_relative_to(DASHBOARD / "src")


def test_the_sink_check_catches_what_it_looks_for() -> None:
    for line in ("el.innerHTML = name", "x.insertAdjacentHTML('beforeend', s)", "setTimeout('run()', 1)"):
        assert SINKS.search(line)
    assert not SINKS.search("el.textContent = name")


def test_the_page_has_no_inline_script_style_or_handler() -> None:
    page = (DASHBOARD / "index.html").read_text()
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, flags=re.S)
    assert scripts
    assert all("src=" in attributes and not body.strip() for attributes, body in scripts)
    assert "<style" not in page
    assert not re.search(r"\sstyle=|\son[a-z]+=", page)
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing from another origin
