"""Holds: what throttle and suspend do to API keys.

A hold is kept on the project's (or tenant's) row, one attribute per budget, and lasts until the
end of the period whose spend triggered it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from apimeter.domain.budgets.alerts import Alert
from apimeter.domain.budgets.rules import ACTIONS, Action, Budget, Threshold

THROTTLE_SHARE = 10  # a throttled key keeps a tenth of its per-key rate limits
HOLD_PREFIX = "hold#"  # attributes of a project or tenant row: hold#<budget id> -> {key, action, until}


def actions_for(fired: Iterable[Threshold]) -> Action | None:
    """The strongest action among ``fired``; None when nothing fired. Given every threshold reached
    so far in the period, it is the state the key should be in, so applying it again is harmless."""
    ranks = [ACTIONS.index(t.action) for t in fired]
    return ACTIONS[max(ranks)] if ranks else None


def hold_of(budget: Budget, due: Sequence[Alert]) -> dict[str, Any] | None:
    """The hold a budget puts on its keys when the thresholds of the ``due`` alerts are crossed: the
    strongest of their actions, until the end of the period. None when they only notify."""
    action = actions_for(a.threshold for a in due)
    if action is None or action == "notify":
        return None
    until = max(a.period.end_ms for a in due) // 1000
    return {"key": budget.key_id or "*", "action": action, "until": until}


def held_limits(limits: dict[str, int], rows: Iterable[dict[str, Any]], key_id: str, now_s: float) -> dict[str, int]:
    """An API key's rate limits under the budget holds on its project and tenant rows: a throttled
    key keeps a tenth of its per-key limits, a suspended one none (every request answers 429 with
    Retry-After) until the hold ends with its period."""
    actions = [
        hold["action"]
        for row in rows
        for name, hold in row.items()
        if name.startswith(HOLD_PREFIX) and hold["key"] in ("*", key_id) and float(hold["until"]) > now_s
    ]
    if not actions:
        return limits
    suspended = "suspend" in actions
    return {
        name: (0 if suspended else max(1, value // THROTTLE_SHARE)) if name.startswith("key_per_") else value
        for name, value in limits.items()
    }
