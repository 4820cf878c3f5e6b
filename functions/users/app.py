"""Users of the caller's organization, and what each role may do."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from apimeter.api.models.users import RoleIn, RolesOut, UserIn, UserListOut, UserOut
from apimeter.api.resolver import USER, build_resolver, handler, principal
from apimeter.domain import permissions
from apimeter.logic import users
from apimeter.settings import require

require("ENTITIES_TABLE")

app = build_resolver()


@app.get("/v1/roles", security=USER, tags=["users"], summary="The roles and what each may do")
def roles() -> RolesOut:
    principal(app).require_user()
    return RolesOut.model_validate({"roles": list(permissions.ROLES), "permissions": permissions.table()})


@app.get("/v1/users", security=USER, tags=["users"], summary="List the organization's users")
def list_all() -> UserListOut:
    return UserListOut(users=[UserOut.of(u) for u in users.list_all(principal(app))])


@app.post("/v1/users", security=USER, status_code=201, tags=["users"], summary="Add a user with a role")
def create(body: UserIn) -> UserOut:
    return UserOut.of(users.create(principal(app), body.email, body.role, body.password))


@app.get("/v1/users/<user_id>", security=USER, tags=["users"], summary="Get a user")
def get(user_id: str) -> UserOut:
    return UserOut.of(users.get(principal(app), user_id))


@app.patch("/v1/users/<user_id>", security=USER, tags=["users"], summary="Change a user's role")
def change_role(user_id: str, body: RoleIn) -> UserOut:
    return UserOut.of(users.change_role(principal(app), user_id, body.role))


@app.delete(
    "/v1/users/<user_id>",
    security=USER,
    status_code=204,
    tags=["users"],
    summary="Remove a user",
    responses={204: {"description": "Removed; their access tokens stop working at once."}},
)
def remove(user_id: str) -> Response[None]:
    users.remove(principal(app), user_id)
    return Response(status_code=204)


lambda_handler = handler(app)
