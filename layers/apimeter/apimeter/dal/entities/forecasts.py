"""Each project's latest forecast."""

from __future__ import annotations

from typing import NamedTuple

from apimeter.dal.dynamo import put_if, serialize
from apimeter.dal.entities import table


class StoredForecast(NamedTuple):
    """The forecast document the API serves (JSON) and when it was computed."""

    computed_at: str
    body: str


def put_forecast(tenant_id: str, project_id: str, as_of: str, computed_at: str, body: str, path: bytes | None) -> None:
    """Keep a project's latest forecast: the document the API serves, and the hourly path to past
    the month end that budgets are judged on. An older one (a delayed run) never replaces a newer."""
    row = {"pk": f"TENANT#{tenant_id}", "sk": f"FORECAST#{project_id}", "as_of": as_of, "computed_at": computed_at,
           "body": body, "path": path}  # fmt: skip
    put_if(table.name(), serialize(row), "attribute_not_exists(pk) OR as_of <= :as_of", {":as_of": {"S": as_of}})


def get_forecast(tenant_id: str, project_id: str) -> StoredForecast | None:
    """A project's latest forecast, if any."""
    row = table.get(f"TENANT#{tenant_id}", f"FORECAST#{project_id}")
    return StoredForecast(row["computed_at"], row["body"]) if row else None


def get_forecast_path(tenant_id: str, project_id: str) -> bytes | None:
    row = table.get(f"TENANT#{tenant_id}", f"FORECAST#{project_id}")
    return bytes(row["path"]) if row and row.get("path") else None
