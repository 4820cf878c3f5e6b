from __future__ import annotations

import ast
import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apimeter.errors import ConfigurationError
from apimeter.settings import _read, require
from offline.template import Stack, load

ROOT = Path(__file__).resolve().parents[2]


def _import(folder: str) -> None:
    path = ROOT / "functions" / folder / "app.py"
    spec = importlib.util.spec_from_file_location(f"settings_check_{folder}", path)
    assert spec is not None
    assert spec.loader is not None
    spec.loader.exec_module(importlib.util.module_from_spec(spec))


def test_a_handler_missing_a_setting_fails_at_import_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTS_TABLE", "apimeter-test-events")
    monkeypatch.delenv("ROLLUPS_TABLE", raising=False)
    with pytest.raises(ConfigurationError, match="missing setting ROLLUPS_TABLE"):
        _import("rollup")
    monkeypatch.setenv("ROLLUPS_TABLE", "apimeter-test-rollups")
    _import("rollup")


def test_every_missing_setting_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PURGE_QUEUE_URL", raising=False)
    monkeypatch.setenv("EXPORTS_BUCKET", "")
    with pytest.raises(ConfigurationError, match="PURGE_QUEUE_URL, EXPORTS_BUCKET"):
        require("PURGE_QUEUE_URL", "EXPORTS_BUCKET")


def test_a_bad_value_fails_as_early_as_a_missing_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENTITIES_TABLE", "apimeter-test-entities")
    monkeypatch.setenv("AUTH_CACHE_SECONDS", "soon")
    with pytest.raises(ConfigurationError, match="AUTH_CACHE_SECONDS"):
        require("ENTITIES_TABLE")


@pytest.mark.parametrize(
    ("name", "text", "problem"),
    [
        ("EVENT_SHARDS", "0", "EVENT_SHARDS: must be at least 1"),
        ("EVENT_SHARDS", "257", "EVENT_SHARDS: must be at most 256"),
        ("EVENT_SHARDS", "8.5", "EVENT_SHARDS: must be an integer"),
        ("READINESS_TIMEOUT_SECONDS", "0", "READINESS_TIMEOUT_SECONDS: must be more than 0"),
        ("READINESS_TIMEOUT_SECONDS", "nan", "READINESS_TIMEOUT_SECONDS: must be a finite number"),
        ("WEBHOOK_ALLOW_PRIVATE", "maybe", "WEBHOOK_ALLOW_PRIVATE: must be true or false"),
    ],
)
def test_a_value_out_of_its_bounds_is_named_with_them(
    monkeypatch: pytest.MonkeyPatch, name: str, text: str, problem: str
) -> None:
    monkeypatch.setenv(name, text)
    with pytest.raises(ConfigurationError, match=f"invalid settings: {problem}"):
        require()


def test_values_are_read_as_their_types(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in {"EVENT_SHARDS": " 16 ", "READINESS_TIMEOUT_SECONDS": "0.5", "WEBHOOK_ALLOW_PRIVATE": "Yes",
                       "PLATFORM_ADMIN_EMAILS": " A@x.io, b@x.io ,"}.items():  # fmt: skip
        monkeypatch.setenv(name, text)
    read = _read()
    assert (read.event_shards, read.readiness_timeout_seconds, read.webhook_allow_private) == (16, 0.5, True)
    assert read.platform_admins == {"a@x.io", "b@x.io"}
    assert read.auth_cache_seconds == 30  # not set: its default


def test_a_setting_that_does_not_exist_is_a_mistake_in_the_code() -> None:
    with pytest.raises(ValueError, match="EVENT_TABLE"):
        require("EVENT_TABLE")
    with pytest.raises(ValueError, match="events_table"):
        require("events_table")


def _declared(code_dir: Path) -> set[str]:
    """The settings a handler module requires at its top (``require("A", "B")``)."""
    tree = ast.parse((code_dir / "app.py").read_text())
    calls = [node.value for node in tree.body if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)]
    return {
        arg.value
        for call in calls
        if isinstance(call.func, ast.Name) and call.func.id == "require"
        for arg in call.args
        if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
    }


def _referenced(value: Any) -> Iterator[str]:
    """Logical ids a policy names: Ref, GetAtt and ${...} in Sub."""
    if isinstance(value, dict):
        if "Ref" in value:
            yield str(value["Ref"])
        if "Fn::GetAtt" in value:
            yield str(value["Fn::GetAtt"][0])
        if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
            yield from re.findall(r"\$\{(\w+)", value["Fn::Sub"])
        for inner in value.values():
            yield from _referenced(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _referenced(inner)


def test_every_function_declares_what_it_is_granted_and_gets_what_it_declares(stack: Stack) -> None:
    document = load(ROOT / "template.yaml")
    global_env = document["Globals"]["Function"]["Environment"]["Variables"]
    declared: dict[Path, set[str]] = {}
    granted: dict[Path, set[str]] = {}
    for name, function in stack.functions.items():
        declared.setdefault(function.code_dir, _declared(function.code_dir))
        missing = declared[function.code_dir] - function.environment.keys()
        assert not missing, f"{name} requires {sorted(missing)}, which template.yaml does not set for it"
        # A resource the function may use and the template names to it by an environment variable
        # (ENTITIES_TABLE: !Ref EntitiesTable) is a setting its code needs.
        properties = stack.resources[name]["Properties"]
        variables = {**global_env, **properties.get("Environment", {}).get("Variables", {})}
        setting_of = {
            value["Ref"]: var
            for var, value in variables.items()
            if isinstance(value, dict) and value.get("Ref") in stack.resources
        }
        used = {setting_of[r] for r in _referenced(properties.get("Policies", [])) if r in setting_of}
        granted.setdefault(function.code_dir, set()).update(used)
    for code_dir, needs in granted.items():
        undeclared = needs - declared[code_dir]
        assert not undeclared, f"{code_dir.name}/app.py does not require {sorted(undeclared)}"
