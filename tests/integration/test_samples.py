"""Every function runs its sample event from events/ against moto."""

from __future__ import annotations

from typing import Any

import pytest

from apimeter.errors import NotFound
from apimeter.logic import exports
from tests.builders import body, invoke, sample


def test_health_sample(aws: dict[str, Any]) -> None:
    response = invoke("health", sample("health"))
    assert response["statusCode"] == 200
    assert body(response)["status"] == "ok"


def test_register_sample_creates_an_account(aws: dict[str, Any]) -> None:
    response = invoke("auth", sample("auth-register"))
    assert response["statusCode"] == 201
    assert body(response)["user"]["email"] == "ada@example.com"


def test_authorizer_sample_with_an_unknown_key_identifies_no_one(aws: dict[str, Any]) -> None:
    decision = invoke("authorizer", sample("authorizer"))
    assert decision["isAuthorized"] is True  # the route answers 401 in the envelope
    assert decision["context"] == {"auth_error": "invalid or revoked API key"}


def test_route_samples_for_an_unknown_tenant_are_not_found(aws: dict[str, Any]) -> None:
    samples = (("projects-create", "projects"), ("keys-create", "keys"), ("analytics-summary", "analytics"),
               ("exports-create", "exports"), ("forecasts-generate", "forecasts"),
               ("budgets-list", "budgets"), ("anomalies-list", "anomalies"))  # fmt: skip
    for name, folder in samples:
        response = invoke(folder, sample(name))
        if folder == "projects":
            assert response["statusCode"] == 201  # a project is created in the sample's tenant
        else:
            assert response["statusCode"] == 404, name
            assert body(response)["error"]["code"] == "NOT_FOUND"


def test_ingest_sample_judges_its_own_unknown_key(aws: dict[str, Any]) -> None:
    response = invoke("ingest", sample("ingest"))  # no authorizer in front of the tracking routes
    assert response["statusCode"] == 401
    assert body(response)["error"]["code"] == "AUTHENTICATION_FAILED"


def test_missing_authorizer_context_is_rejected_before_any_route(aws: dict[str, Any]) -> None:
    event = sample("projects-create")
    del event["requestContext"]["authorizer"]
    response = invoke("projects", event)
    assert response["statusCode"] == 401
    assert body(response)["error"]["code"] == "AUTHENTICATION_FAILED"


def test_export_worker_sample_for_an_unknown_export_finishes(aws: dict[str, Any]) -> None:
    assert invoke("export_worker", sample("export_worker")) == {"batchItemFailures": []}  # nothing to write


def test_a_failing_export_is_retried_then_marked_failed(aws: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    event = sample("export_worker")
    monkeypatch.setattr(exports, "run", lambda *_: (_ for _ in ()).throw(RuntimeError("boom")))
    failed: list[tuple[str, ...]] = []
    monkeypatch.setattr(exports, "fail", lambda *args: failed.append(args))
    message_id = event["Records"][0]["messageId"]
    assert invoke("export_worker", event) == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    assert failed == []  # first attempt: back to the queue
    event["Records"][0]["attributes"]["ApproximateReceiveCount"] = str(exports.MAX_ATTEMPTS)
    assert invoke("export_worker", event) == {"batchItemFailures": []}
    assert failed == [("ten_01jexample000000000000000", "prj_01jexample000000000000000",
                       "exp_01jexample000000000000000", "export failed: RuntimeError")]  # fmt: skip


def test_budget_watch_sample_for_a_tenant_without_budgets_counts_nothing(aws: dict[str, Any]) -> None:
    assert invoke("budget_watch", sample("budget_watch")) == {"batchItemFailures": []}


def test_pipeline_step_samples_for_an_unknown_project_and_tenant(aws: dict[str, Any]) -> None:
    planned = invoke("pipeline", sample("pipeline-plan"), "plan")
    assert (planned["projects"], planned["tenants"]) == (0, 0)
    assert planned["hour"] < planned["projects_key"].split("/")[1] + "~"
    with pytest.raises(NotFound):
        invoke("pipeline", sample("pipeline-project"), "forecast")  # the Catch in the state machine records it
    found = invoke("pipeline", sample("pipeline-project"), "anomalies")
    assert (found["series"], found["anomalies"]) == (1, 0)
    assert invoke("pipeline", sample("pipeline-tenant"), "budgets") == {
        "tenant_id": "ten_01jexample000000000000000", "budgets": 0, "fired": 0}  # fmt: skip
    assert invoke("pipeline", {}, "notifications") == {"alerts": 0, "undelivered": 0}
