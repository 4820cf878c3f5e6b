"""GET /ready's logic without AWS: every check side by side, one deadline, failures named by reason."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from apimeter.dal import dynamo
from apimeter.errors import ConfigurationError, ServiceUnavailable
from apimeter.logic import readiness
from apimeter.settings import settings


@pytest.fixture(autouse=True)
def short_deadline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("READINESS_TIMEOUT_SECONDS", "0.2")
    monkeypatch.setenv("EVENTS_TABLE", "apimeter-test-events")
    settings.cache_clear()
    yield
    settings.cache_clear()


def _client_error(code: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "arn:aws:secretsmanager:...:secret:pepper"}}, "GetSecretValue"
    )


def _missing() -> None:
    raise _client_error("ResourceNotFoundException")


def test_all_checks_ok_is_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readiness, "_checks", lambda: {"entities_table": lambda: None, "pepper_secret": lambda: "v"})
    assert readiness.check() == {"entities_table": "ok", "pepper_secret": "ok"}


def test_failures_are_named_by_reason_never_by_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def not_configured() -> None:
        raise ConfigurationError("setting JWT_SECRET_NAME is required")

    def denied() -> None:
        raise _client_error("AccessDeniedException")

    monkeypatch.setattr(
        readiness,
        "_checks",
        lambda: {
            "entities_table": lambda: None,
            "events_table": denied,
            "jwt_secret": not_configured,
            "pepper_secret": _missing,
        },
    )
    with pytest.raises(ServiceUnavailable) as caught:
        readiness.check()
    assert caught.value.status == 503
    assert caught.value.code == "SERVICE_UNAVAILABLE"
    assert caught.value.details == {
        "failed": ["events_table", "jwt_secret", "pepper_secret"],
        "checks": {
            "entities_table": "ok",
            "events_table": "AccessDeniedException",
            "jwt_secret": "not configured",
            "pepper_secret": "ResourceNotFoundException",
        },
    }
    assert "arn:" not in str(caught.value.details)


def test_a_check_that_does_not_answer_in_time_is_named_and_does_not_hold_the_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    released = threading.Event()
    monkeypatch.setattr(readiness, "_checks", lambda: {"entities_table": lambda: None, "jwt_secret": released.wait})
    try:
        with pytest.raises(ServiceUnavailable) as caught:
            readiness.check()
    finally:
        released.set()
    assert caught.value.details == {
        "failed": ["jwt_secret"],
        "checks": {"entities_table": "ok", "jwt_secret": "timed out"},
    }


@pytest.mark.parametrize(
    ("status", "ready"), [("ACTIVE", True), ("UPDATING", True), ("CREATING", False), ("DELETING", False)]
)
def test_a_table_serves_while_active_or_updating(monkeypatch: pytest.MonkeyPatch, status: str, ready: bool) -> None:
    asked: list[str] = []

    def ping(table: str) -> str:
        asked.append(table)
        return status

    monkeypatch.setattr(dynamo, "ping", ping)
    monkeypatch.setattr(readiness, "_checks", lambda: {"events_table": readiness._table("events_table")})
    if ready:
        assert readiness.check() == {"events_table": "ok"}
    else:
        with pytest.raises(ServiceUnavailable) as caught:
            readiness.check()
        assert caught.value.details["checks"] == {"events_table": f"table is {status}"}
    assert asked == ["apimeter-test-events"]


def test_the_checks_cover_the_three_tables_and_both_secrets() -> None:
    assert set(readiness._checks()) == {
        "entities_table",
        "events_table",
        "rollups_table",
        "jwt_secret",
        "pepper_secret",
    }
