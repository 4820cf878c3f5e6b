"""Plans: the default limits of a tenant, which a platform admin may override per tenant and a
tenant per project (within what its plan allows is not enforced: overrides are an operator's call).

Limits count requests for the read API and events for ingest (a batch of 100 is 100), per API key
and per project, per minute, hour and day; ``events_per_month`` is the monthly ingest quota.
``distinct_endpoints`` and ``distinct_consumers`` cap how many endpoints and consumers a project's
rollups keep apart; the rest are counted as ``other``.
"""

from __future__ import annotations

from typing import Literal

Plan = Literal["free", "pro", "enterprise"]
PLANS: tuple[Plan, ...] = ("free", "pro", "enterprise")

LIMIT_NAMES = (
    "key_per_minute",
    "key_per_hour",
    "key_per_day",
    "project_per_minute",
    "project_per_hour",
    "project_per_day",
    "events_per_month",
    "distinct_endpoints",
    "distinct_consumers",
)

DEFAULTS: dict[Plan, dict[str, int]] = {
    "free": {
        "key_per_minute": 6_000,
        "key_per_hour": 120_000,
        "key_per_day": 1_000_000,
        "project_per_minute": 12_000,
        "project_per_hour": 240_000,
        "project_per_day": 2_000_000,
        "events_per_month": 10_000_000,
        "distinct_endpoints": 500,
        "distinct_consumers": 5_000,
    },
    "pro": {
        "key_per_minute": 60_000,
        "key_per_hour": 1_200_000,
        "key_per_day": 10_000_000,
        "project_per_minute": 120_000,
        "project_per_hour": 2_400_000,
        "project_per_day": 20_000_000,
        "events_per_month": 100_000_000,
        "distinct_endpoints": 2_000,
        "distinct_consumers": 50_000,
    },
    "enterprise": {
        "key_per_minute": 600_000,
        "key_per_hour": 12_000_000,
        "key_per_day": 100_000_000,
        "project_per_minute": 1_200_000,
        "project_per_hour": 24_000_000,
        "project_per_day": 200_000_000,
        "events_per_month": 1_000_000_000,
        "distinct_endpoints": 10_000,
        "distinct_consumers": 250_000,
    },
}


def limits(plan: str, *overrides: dict[str, int]) -> dict[str, int]:
    """The plan's limits with tenant, then project, overrides applied in order."""
    result = dict(DEFAULTS.get(plan, DEFAULTS["free"]))  # type: ignore[call-overload]
    for override in overrides:
        result.update({name: int(value) for name, value in override.items() if name in LIMIT_NAMES})
    return result
