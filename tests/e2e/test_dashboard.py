"""The web dashboard in headless Chromium (Debian's chromium and chromium-driver) against the
offline stack, as its users meet it: sign in, the overview's figures equal the API's and follow new
events without a reload, a key's secret is shown once, an anomaly arrives live and is marked false,
a viewer sees no button it cannot use, hostile strings in every tracked field show as text and run
nothing, and every page fits 360 px. Screenshots of each page go to screenshots/ (git-ignored)."""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from selenium.common.exceptions import NoAlertPresentException, NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from tests.builders import wait_for
from tests.e2e.browser import chromium, console_errors
from tests.e2e.conftest import Stack, plant_spike

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent.parent
SHOTS = ROOT / "screenshots"
WAIT = 60.0  # generous: the machine may be busy; nothing here is a latency bound
PASSWORD = "correct horse battery"
PAGES = ("overview", "events", "forecast", "budgets", "anomalies", "exports", "settings")
# The API's answer for a project the pipeline has not forecast yet: the page shows what to do.
NO_FORECAST_YET = "/forecast - Failed to load resource: the server responded with a status of 404"
ACTIONS = ("revoke", "rotate", "edit", "delete", "create", "remove-user", "role", "delete-project", "add-price")
MANAGING = ", ".join(f'[data-action="{action}"]' for action in ACTIONS)
# What a viewer must never be offered.
MANAGE = re.compile(
    r"\b(revoke|rotate|delete|remove|invite|save|edit|real|false|planned)\b|create (a )?(key|budget|project)", re.I
)


def owner_of(stack: Stack, email: str, project: str = "payments") -> dict[str, str]:
    call = stack.client.call
    registered = {"email": email, "password": PASSWORD, "organization": f"{project} org"}
    token = call("POST", "/v1/auth/register", registered).body["access_token"]
    project_id = call("POST", "/v1/projects", {"name": project}, token=token).body["id"]
    production = {"name": "production", "scopes": ["track", "read"]}
    key = call("POST", f"/v1/projects/{project_id}/keys", production, token=token).body["key"]
    return {"email": email, "token": token, "project_id": project_id, "key": key}


def track(stack: Stack, key: str, events: list[dict[str, Any]]) -> None:
    answer = stack.client.call("POST", "/v1/events", {"events": events}, key=key)
    assert (answer.status, answer.body["rejected"]) == (202, []), answer.body


def requests_in(stack: Stack, project: dict[str, str], window: str = "24h") -> int:
    path = f"/v1/projects/{project['project_id']}/metrics/summary?window={window}"
    return int(stack.client.call("GET", path, key=project["key"]).body["requests"])


class Browser:
    """One signed-in tab, with the waits every page needs."""

    def __init__(self, driver: Any, base: str) -> None:
        self.driver = driver
        self.base = base

    def sign_in(self, email: str, password: str = PASSWORD) -> None:
        self.driver.get(self.base + "/")
        self.until(lambda d: d.find_elements(By.ID, "email"))
        self.driver.find_element(By.ID, "email").send_keys(email)
        self.driver.find_element(By.ID, "password").send_keys(password)
        self.driver.find_element(By.ID, "sign-in").click()
        self.until(lambda d: d.find_elements(By.ID, "sign-out"))
        self.settled()

    def until(self, condition: Callable[[Any], Any], timeout: float = WAIT) -> Any:
        # Live figures re-render their element: one found a moment ago may be gone; look again.
        ignored = (NoSuchElementException, StaleElementReferenceException)
        return WebDriverWait(self.driver, timeout, poll_frequency=0.1, ignored_exceptions=ignored).until(condition)

    def settled(self) -> None:
        """The page has rendered and nothing on it is loading any more."""
        self.until(lambda d: d.find_elements(By.CSS_SELECTOR, "main#main")
                   and not d.find_elements(By.CSS_SELECTOR, ".loading"))  # fmt: skip

    def open(self, route: str) -> None:
        self.driver.get(f"{self.base}/#{route}")
        self.settled()

    def css(self, selector: str) -> list[Any]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, selector))

    def text(self) -> str:
        return str(self.driver.find_element(By.TAG_NAME, "body").text)

    def shot(self, name: str) -> None:
        """The whole page, not only the window (as the browser's own "capture full size" does)."""
        SHOTS.mkdir(exist_ok=True)
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 8000), "scale": 1}
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot", {"clip": clip, "captureBeyondViewport": True})
        (SHOTS / f"{name}.png").write_bytes(base64.b64decode(shot["data"]))

    def errors(self, *answered: str) -> list[str]:
        return console_errors(self.driver, answered)


@pytest.fixture
def browser(stack: Stack) -> Iterator[Browser]:
    with chromium() as driver:
        yield Browser(driver, f"http://127.0.0.1:{stack.port}")


@pytest.fixture(scope="module")
def owner(stack: Stack) -> dict[str, str]:
    project = owner_of(stack, "ada@dashboard.test")
    now = int(time.time() * 1000)
    track(stack, project["key"], [
        {"event_id": f"seed-{i}", "method": ("GET", "POST")[i % 2], "endpoint": ("/users/{id}", "/orders")[i % 2],
         "path": f"/users/{i}" if i % 2 == 0 else "/orders", "status": (200, 201, 404, 503)[i % 4],
         "latency_ms": 20 + 7 * i, "response_bytes": 500 + i, "consumer": ("acme", "globex")[i % 2], "cost": 0.01,
         "timestamp": now - i * 60_000} for i in range(9)])  # fmt: skip
    wait_for(lambda: requests_in(stack, project) == 9, WAIT)
    return project


@pytest.fixture(scope="module")
def anomaly(stack: Stack, owner: dict[str, str]) -> dict[str, Any]:
    hour = plant_spike(stack, owner["project_id"])
    ran = stack.client.call("POST", "/_offline/schedules/HourlyPipeline", {"hour": hour})
    assert (ran.status, ran.body["status"]) == (200, "SUCCEEDED"), ran.body
    listed = stack.client.call("GET", f"/v1/projects/{owner['project_id']}/anomalies?window=24h", token=owner["token"])
    (found,) = listed.body["anomalies"]
    return dict(found)


def test_the_stack_says_first_where_the_dashboard_is(stack: Stack) -> None:
    ready = next(n for n, line in enumerate(stack.output) if "ready in" in line)
    wait_for(lambda: len(stack.output) > ready + 1, WAIT)  # its output is read as it comes
    assert stack.output[ready + 1].split()[:2] == ["dashboard", f"http://127.0.0.1:{stack.port}/"]


def test_the_overview_shows_the_apis_figures_and_follows_new_events(
    stack: Stack, owner: dict[str, str], browser: Browser
) -> None:
    browser.sign_in(owner["email"])
    assert f"#/p/{owner['project_id']}/overview" in browser.driver.current_url  # one project: its overview
    shown = browser.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-metric="requests"]'))[0]
    assert int(shown.text.replace(",", "")) == requests_in(stack, owner) == 9
    browser.shot("overview")

    browser.driver.execute_script("window.stillThisPage = true")
    track(stack, owner["key"], [{"method": "GET", "endpoint": "/users/{id}", "status": 200, "latency_ms": 12}
                                for _ in range(3)])  # fmt: skip
    browser.until(lambda d: d.find_element(By.CSS_SELECTOR, '[data-metric="requests"]').text == "12")
    assert browser.driver.execute_script("return window.stillThisPage") is True  # no reload
    assert browser.css('[data-live="minute-requests"]')  # this minute's figures came over the WebSocket
    assert requests_in(stack, owner) == 12
    assert browser.errors() == []


def test_every_page_of_a_project_renders_without_an_error(owner: dict[str, str], browser: Browser) -> None:
    browser.sign_in(owner["email"])
    for page in PAGES:
        browser.open(f"/p/{owner['project_id']}/{page}")
        assert not browser.css("[role=alert].error"), (page, browser.text())
        browser.shot(page)
    browser.open(f"/p/{owner['project_id']}/endpoint?method=GET&endpoint=/users/{{id}}")
    assert "/users/{id}" in browser.text()
    browser.shot("endpoint")
    browser.open(f"/p/{owner['project_id']}/consumer?consumer=acme")
    assert "acme" in browser.text()
    browser.shot("consumer")
    for page in ("team", "projects"):
        browser.open(f"/{page}")
        browser.shot(page)
    assert browser.errors(NO_FORECAST_YET) == []


def test_a_new_keys_secret_is_shown_once_and_works(stack: Stack, owner: dict[str, str], browser: Browser) -> None:
    browser.sign_in(owner["email"])
    browser.open(f"/p/{owner['project_id']}/settings")
    form = browser.css("#key-form")[0]
    form.find_element(By.NAME, "name").send_keys("from the dashboard")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    box = browser.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#new-key-secret [data-secret]"))
    secret = box[0].text.strip()
    assert secret.startswith("am_")
    browser.shot("settings-new-key")
    track(stack, secret, [{"method": "GET", "endpoint": "/ping", "status": 200}])  # it is the real secret

    browser.driver.refresh()
    browser.settled()
    browser.until(lambda d: "from the dashboard" in d.find_element(By.TAG_NAME, "body").text)  # listed...
    assert not browser.css("#new-key-secret")
    assert secret not in browser.driver.page_source  # ...without its secret, ever again
    assert browser.errors() == []


def test_an_anomaly_arrives_live_and_is_marked_false(stack: Stack, owner: dict[str, str], browser: Browser) -> None:
    browser.sign_in(owner["email"])
    browser.open(f"/p/{owner['project_id']}/anomalies")
    browser.until(lambda d: d.find_element(By.ID, "live-status").text == "live")
    hour = plant_spike(stack, owner["project_id"])
    ran = stack.client.call("POST", "/_offline/schedules/HourlyPipeline", {"hour": hour})
    assert (ran.status, ran.body["status"]) == (200, "SUCCEEDED"), ran.body
    (found,) = stack.client.call("GET", f"/v1/projects/{owner['project_id']}/anomalies?window=24h",
                                 token=owner["token"]).body["anomalies"]  # fmt: skip
    browser.until(lambda d: any("Anomaly" in t.text for t in d.find_elements(By.CSS_SELECTOR, ".toast")))
    row = f'[data-anomaly-id="{found["id"]}"]'
    browser.until(lambda d: d.find_elements(By.CSS_SELECTOR, row))  # listed without a reload
    browser.shot("anomalies-live")

    browser.css(f'{row} [data-feedback="false"]')[0].click()
    path = f"/v1/projects/{owner['project_id']}/anomalies?window=24h"
    wait_for(lambda: stack.client.call("GET", path, token=owner["token"]).body["anomalies"][0]["feedback"] == "false",
             WAIT)  # fmt: skip
    assert browser.errors() == []


def test_a_viewer_sees_no_button_it_cannot_use(stack: Stack, owner: dict[str, str], browser: Browser) -> None:
    email = f"viewer-{secrets.token_hex(3)}@dashboard.test"
    made = stack.client.call("POST", "/v1/users", {"email": email, "role": "viewer", "password": PASSWORD},
                             token=owner["token"])  # fmt: skip
    assert made.status == 201, made.body
    budget = {"name": "monthly", "amount": 100, "period": "monthly", "thresholds": [{"percent": 80}]}
    assert (
        stack.client.call("POST", f"/v1/projects/{owner['project_id']}/budgets", budget, token=owner["token"]).status
        == 201
    )
    browser.sign_in(email)
    for route in [*(f"/p/{owner['project_id']}/{page}" for page in PAGES), "/team", "/projects"]:
        browser.open(route)
        offered = [e.text or e.get_attribute("aria-label") for e in browser.css("button, a.btn, [role=button]")]
        assert not [text for text in offered if text and MANAGE.search(text)], (route, offered)
        assert not browser.css(f"[data-feedback], {MANAGING}, #key-form, #project-form, #budget-form"), route
        if route.endswith("/settings"):
            assert "production" not in browser.text()  # keys are not even listed for a viewer
    browser.shot("viewer-budgets")
    assert browser.errors(NO_FORECAST_YET) == []


HOSTILE = [
    "<img src=x onerror=\"document.title='pwned'\">",
    '"><script>document.title="pwned"</script>',
    "<svg onload=alert(1)>",
]


def test_hostile_strings_in_every_field_show_as_text_and_run_nothing(stack: Stack, browser: Browser) -> None:
    mark = HOSTILE[0]
    project = owner_of(stack, "mallory@dashboard.test", project=mark)
    endpoint = "/x/" + HOSTILE[1]
    track(stack, project["key"], [
        {"method": "GET", "endpoint": endpoint, "path": "/y/" + HOSTILE[2], "status": 500, "latency_ms": 5,
         "consumer": HOSTILE[2], "user_agent": HOSTILE[0], "properties": {HOSTILE[1]: HOSTILE[0]}, "ip": "10.0.0.1"}
        for _ in range(3)])  # fmt: skip
    wait_for(lambda: requests_in(stack, project) == 3, WAIT)
    stack.client.call("POST", f"/v1/projects/{project['project_id']}/keys", {"name": HOSTILE[1], "scopes": ["read"]},
                      token=project["token"])  # fmt: skip
    stack.client.call("POST", f"/v1/projects/{project['project_id']}/budgets",
                      {"name": HOSTILE[2], "amount": 1, "period": "daily", "thresholds": [{"percent": 50}]},
                      token=project["token"])  # fmt: skip
    hour = plant_spike(stack, project["project_id"], endpoint=f"GET {endpoint}")
    assert stack.client.call("POST", "/_offline/schedules/HourlyPipeline", {"hour": hour}).status == 200

    browser.sign_in(project["email"])
    pid = project["project_id"]
    pages = {
        f"/p/{pid}/overview": [mark, endpoint, HOSTILE[2]],
        f"/p/{pid}/endpoint?" + urlencode({"method": "GET", "endpoint": endpoint}): [endpoint],
        f"/p/{pid}/consumer?" + urlencode({"consumer": HOSTILE[2]}): [HOSTILE[2]],
        f"/p/{pid}/events": [endpoint, HOSTILE[2]],
        f"/p/{pid}/settings": [HOSTILE[1]],
        f"/p/{pid}/budgets": [HOSTILE[2]],
        f"/p/{pid}/anomalies": [endpoint],
        "/projects": [mark],
    }
    for route, expected in pages.items():
        browser.open(route)
        if route.endswith("/events"):
            for toggle in browser.css("[aria-expanded]"):
                toggle.click()  # the whole event: user agent and properties too
        shown = browser.text()
        for text in expected + ([HOSTILE[0], HOSTILE[1]] if route.endswith("/events") else []):
            assert text in shown, (route, text)  # displayed as sent...
        injected = browser.driver.execute_script(
            "return document.querySelectorAll('img[src=\"x\"], svg[onload], script:not([src])').length"
        )
        assert injected == 0, route  # ...and never parsed as markup
        assert browser.driver.title != "pwned"
        with pytest.raises(NoAlertPresentException):
            browser.driver.switch_to.alert.text  # noqa: B018 - raises when no alert() ran
    browser.shot("hostile-events")
    assert browser.errors() == []


def test_every_page_fits_a_360_px_screen(owner: dict[str, str], stack: Stack) -> None:
    with chromium() as driver:
        # A headless window is never narrower than ~500 px; a phone's screen is emulated instead.
        metrics = {"width": 360, "height": 780, "deviceScaleFactor": 2, "mobile": True}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
        narrow = Browser(driver, f"http://127.0.0.1:{stack.port}")
        narrow.sign_in(owner["email"])
        for page in PAGES:
            narrow.open(f"/p/{owner['project_id']}/{page}")
            overflow = driver.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, (page, overflow)  # wide tables scroll inside their panel, not the page
            narrow.shot(f"{page}-360")
        assert narrow.errors(NO_FORECAST_YET) == []
