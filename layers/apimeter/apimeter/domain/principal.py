"""Who is calling: what the authorizer found, passed to every route through the request context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from apimeter.domain.permissions import Action, allowed
from apimeter.errors import AuthenticationFailed, Forbidden, NotFound

PrincipalKind = Literal["user", "api_key"]
Scope = Literal["track", "read"]


@dataclass(frozen=True, slots=True)
class Principal:
    kind: PrincipalKind
    principal_id: str  # user id or API key id
    tenant_id: str
    project_id: str | None = None  # set for API keys: a key belongs to one project
    role: str | None = None  # set for users
    scopes: tuple[str, ...] = ()
    platform_admin: bool = False
    token_id: str | None = None  # jti of the bearer token, when the credential was one
    session: str | None = None  # a user's session family
    token_expires: int | None = None
    limits: dict[str, int] = field(default_factory=dict)  # resolved plan limits (apimeter.domain.plans)

    def to_context(self) -> dict[str, str | bool | int]:
        """Authorizer context values must be flat strings, numbers or booleans."""
        return {
            "kind": self.kind,
            "principal_id": self.principal_id,
            "tenant_id": self.tenant_id,
            "project_id": self.project_id or "",
            "role": self.role or "",
            "scopes": " ".join(self.scopes),
            "platform_admin": self.platform_admin,
            "token_id": self.token_id or "",
            "session": self.session or "",
            "token_expires": self.token_expires or 0,
            **{f"limit_{name}": value for name, value in self.limits.items()},
        }

    @classmethod
    def from_context(cls, context: dict[str, Any]) -> Principal:
        kind = context.get("kind")
        if kind not in ("user", "api_key") or not context.get("tenant_id"):
            raise AuthenticationFailed(str(context.get("auth_error") or "authentication required"))
        return cls(
            kind=kind,
            principal_id=str(context["principal_id"]),
            tenant_id=str(context["tenant_id"]),
            project_id=str(context.get("project_id") or "") or None,
            role=str(context.get("role") or "") or None,
            scopes=tuple(str(context.get("scopes") or "").split()),
            platform_admin=context.get("platform_admin") in (True, "true"),
            token_id=str(context.get("token_id") or "") or None,
            session=str(context.get("session") or "") or None,
            token_expires=int(context.get("token_expires") or 0) or None,
            limits={k.removeprefix("limit_"): int(v) for k, v in context.items() if k.startswith("limit_")},
        )

    def require_user(self) -> None:
        if self.kind != "user":
            raise Forbidden("this route needs a signed-in user (Authorization: Bearer), not an API key")

    def require_platform_admin(self) -> None:
        self.require_user()
        if not self.platform_admin:
            raise Forbidden("this route is for platform administrators")

    def require(self, action: Action) -> None:
        """A user whose role allows ``action`` (see apimeter.domain.permissions)."""
        self.require_user()
        if not allowed(self.role, action):
            raise Forbidden(f"the {self.role} role may not do {action}")

    def require_key_scope(self, scope: Scope) -> str:
        """For API-key routes: the key must carry ``scope``; returns the key's project id."""
        if self.kind != "api_key" or not self.project_id:
            raise Forbidden("this route needs a project API key (X-API-Key)")
        if scope not in self.scopes:
            raise Forbidden(f"this API key lacks the '{scope}' scope")
        return self.project_id

    def require_key_scope_any(self) -> str:
        """For API-key routes open to any scope; returns the key's project id."""
        if self.kind != "api_key" or not self.project_id:
            raise Forbidden("this route needs a project API key (X-API-Key)")
        return self.project_id

    def require_project_read(self, project_id: str, action: Action = "projects.read") -> None:
        """A user whose role allows ``action`` reads every project of their tenant; a key with
        ``read`` reads its own project.

        A key of another project gets NOT_FOUND, like a user of another tenant: nothing about the
        existence of other projects leaks.
        """
        if self.kind == "api_key":
            if self.project_id != project_id:
                raise NotFound("project not found")
            if "read" not in self.scopes:
                raise Forbidden("this API key lacks the 'read' scope")
        else:
            self.require(action)
