"""The API's documentation page in a real browser: Swagger UI, served by the stack itself under its
Content-Security-Policy, renders every path of docs/openapi.json with no console error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.e2e.browser import chromium, console_errors
from tests.e2e.conftest import Stack

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent.parent
WAIT = 60.0


def test_swagger_ui_renders_every_path(stack: Stack) -> None:
    paths = set(json.loads((ROOT / "docs" / "openapi.json").read_text())["paths"])
    with chromium() as browser:
        browser.get(f"http://127.0.0.1:{stack.port}/docs")
        WebDriverWait(browser, WAIT).until(lambda b: b.find_elements(By.CSS_SELECTOR, ".opblock-summary-path"))
        shown = {e.get_attribute("data-path") for e in browser.find_elements(By.CSS_SELECTOR, ".opblock-summary-path")}
        assert shown == paths
        assert not browser.find_elements(By.CSS_SELECTOR, ".version-pragma")  # "Unable to render this definition"
        assert console_errors(browser) == []
