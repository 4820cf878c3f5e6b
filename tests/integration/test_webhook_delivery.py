"""Webhook deliveries resolve the host once, refuse internal addresses unless WEBHOOK_ALLOW_PRIVATE
is set, and connect to the very address they vetted (no second lookup for DNS rebinding to win)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest

from apimeter.dal import notifications
from apimeter.domain import webhooks
from apimeter.logic import alerts
from apimeter.settings import settings
from tests.builders import WebhookReceiver
from tests.integration.conftest import Api

BODY = b'{"id":"a"}'


@pytest.fixture
def server() -> Iterator[WebhookReceiver]:
    """A receiver on 127.0.0.1 without the allowance the ``receiver`` fixture grants."""
    found = WebhookReceiver()
    yield found
    found.close()


def allow_private(monkeypatch: pytest.MonkeyPatch, allowed: bool) -> None:
    if allowed:
        monkeypatch.setenv("WEBHOOK_ALLOW_PRIVATE", "true")
    else:
        monkeypatch.delenv("WEBHOOK_ALLOW_PRIVATE", raising=False)
    settings.cache_clear()


def names_looked_up(monkeypatch: pytest.MonkeyPatch, answers: dict[str, list[str]]) -> list[str]:
    """Fake DNS for ``answers``' names (IP literals resolve as usual); the names asked, in order."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            asked.append(host)
            return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
                    for a in answers[host]]  # fmt: skip
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return asked


def test_loopback_is_refused_by_default(server: WebhookReceiver, monkeypatch: pytest.MonkeyPatch) -> None:
    allow_private(monkeypatch, False)
    with pytest.raises(webhooks.Refused, match=r"127\.0\.0\.1 resolves to 127\.0\.0\.1, a loopback address"):
        notifications.post(server.url, BODY, {"Content-Type": "application/json"})
    assert server.received == []


def test_a_name_with_any_internal_address_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    allow_private(monkeypatch, False)
    names_looked_up(monkeypatch, {"hooks.example.com": ["93.184.215.14", "169.254.169.254"]})
    with pytest.raises(webhooks.Refused, match=r"169\.254\.169\.254, a link-local address"):
        notifications.post("https://hooks.example.com/a", BODY, {})
    names_looked_up(monkeypatch, {"hooks.example.com": ["::ffff:10.0.0.7"]})
    with pytest.raises(webhooks.Refused, match=r"wrapping 10\.0\.0\.7, a private address"):
        notifications.post("https://hooks.example.com/a", BODY, {})


def test_allowed_only_when_configured_and_connects_to_the_vetted_address(
    server: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow_private(monkeypatch, True)
    port = server.url.split(":")[2].split("/")[0]
    asked = names_looked_up(monkeypatch, {"hooks.test": ["127.0.0.1"]})
    assert notifications.post(f"http://hooks.test:{port}/hooks/alerts", BODY, {"X-Test": "1"}) == 200
    assert asked == ["hooks.test"]  # one lookup: the connection went to the address that was checked
    ((headers, body),) = server.received
    assert (headers["host"], headers["x-test"], body) == (f"hooks.test:{port}", "1", BODY)


def test_a_refused_webhook_is_in_the_alert_history_and_not_retried(
    api: Api, server: WebhookReceiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    allow_private(monkeypatch, False)
    token = api.register()["access_token"]
    project_id = api.project(token)
    key = api.key(token, project_id)["key"]
    made = api.call("POST", f"/v1/projects/{project_id}/budgets",
                    {"name": "r", "amount": 1, "period": "daily", "metric": "requests",
                     "thresholds": [{"percent": 100}], "channels": {"webhooks": [{"url": server.url}]}},
                    token=token).body  # fmt: skip
    event = {"event_id": "w1", "method": "GET", "endpoint": "/", "status": 200}
    assert api.call("POST", "/v1/events", event, key=key).status == 202
    api.pump()
    (alert,) = api.call("GET", f"/v1/projects/{project_id}/budgets/{made['id']}/alerts", key=key).body["alerts"]
    assert alert["deliveries"] == {"webhook0": "refused"}
    assert alert["delivery_errors"] == {"webhook0": "127.0.0.1 resolves to 127.0.0.1, a loopback address"}
    assert alerts.flush().alerts == 0  # nothing owed: a refusal is final
    assert server.received == []
