"""Names (organizations, projects, keys, budgets) are shown as sent: the document and the server
agree that a name has a character that is not blank, and no control character."""

from __future__ import annotations

import pytest

from tests.integration.conftest import Api


@pytest.mark.parametrize(("name", "status"), [
    ("Payments API", 201), ("Ünïcode · 名前", 201), ("  padded  ", 201),
    ("\t", 422), ("\u3000\u00a0", 422), ("a\x0eb", 422), ("nul\x00", 422), ("line\nbreak", 422),
])  # fmt: skip
def test_a_name_needs_a_visible_character_and_no_control_character(api: Api, name: str, status: int) -> None:
    token = api.register()["access_token"]
    project = api.call("POST", "/v1/projects", {"name": name}, token=token)
    assert project.status == status, project.body
    project_id = api.project(token)
    key = api.call("POST", f"/v1/projects/{project_id}/keys", {"name": name}, token=token)
    assert key.status == status, key.body
    budget = {"name": name, "amount": 10, "period": "monthly", "metric": "requests", "thresholds": [{"percent": 50}]}
    created = api.call("POST", f"/v1/projects/{project_id}/budgets", budget, token=token)
    assert created.status == status, created.body
    if status == 422:
        assert project.body["error"]["code"] == "VALIDATION_ERROR"
