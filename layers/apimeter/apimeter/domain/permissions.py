"""Who may do what: one table, checked by every use case through ``Principal.require``.

Roles are ordered: owner > admin > member > viewer. An API key is not a user and has no role; its
scopes (``track``, ``read``) say what it may do within its one project.
"""

from __future__ import annotations

from typing import Literal

Role = Literal["owner", "admin", "member", "viewer"]
ROLES: tuple[Role, ...] = ("owner", "admin", "member", "viewer")

Action = Literal[
    "users.read",
    "users.manage",
    "projects.read",
    "projects.manage",
    "keys.read",
    "keys.manage",
    "analytics.read",
    "rollups.manage",
    "budgets.read",
    "budgets.manage",
]

PERMISSIONS: dict[Action, frozenset[Role]] = {
    "users.read": frozenset({"owner", "admin", "member", "viewer"}),
    "users.manage": frozenset({"owner", "admin"}),
    "projects.read": frozenset({"owner", "admin", "member", "viewer"}),
    "projects.manage": frozenset({"owner", "admin", "member"}),
    "keys.read": frozenset({"owner", "admin", "member"}),
    "keys.manage": frozenset({"owner", "admin", "member"}),
    "analytics.read": frozenset({"owner", "admin", "member", "viewer"}),
    "rollups.manage": frozenset({"owner", "admin"}),
    "budgets.read": frozenset({"owner", "admin", "member", "viewer"}),
    "budgets.manage": frozenset({"owner", "admin"}),  # budgets can throttle and suspend keys
}


def allowed(role: str | None, action: Action) -> bool:
    return role in PERMISSIONS[action]


def rank(role: str) -> int:
    """Lower is more powerful; used so that nobody grants or removes a role above their own."""
    return ROLES.index(role)


def table() -> list[dict[str, object]]:
    """The permission table as rows (for the README and GET /v1/roles)."""
    return [{"action": action, "roles": [r for r in ROLES if r in roles]} for action, roles in PERMISSIONS.items()]
