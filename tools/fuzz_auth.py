"""schemathesis' credentials for ``make fuzz`` (tools/fuzz.py loads this as its hooks module).

The fuzzer signs itself out, deletes its project, revokes its key: whatever an operation can do, it
tries. Credentials that stop working are made again (a new project and key; a new access token by
the refresh token, else by signing in) before the next request, so one destructive call does not
turn the rest of the run into 401s; each route gets the credential its document names (a user's
token, or the API key). The fuzzer's own failed sign-ins lock sign-ins from its address out for an
hour (apimeter.logic.limits.LOGIN_IP), as they should; when neither the refresh token nor a sign-in
works, the run goes on as the owner of a new organization.
"""

from __future__ import annotations

import os
import urllib.error
from collections.abc import Callable
from typing import Any

import schemathesis

from tools import fuzz


@schemathesis.auth(refresh_interval=5)
class Credentials:
    def __init__(self) -> None:
        self._url = os.environ["APIMETER_FUZZ_URL"]
        self._held = {"token": os.environ["APIMETER_FUZZ_TOKEN"], "key": os.environ["APIMETER_FUZZ_KEY"]}
        self._login = {"email": os.environ["APIMETER_FUZZ_EMAIL"], "password": os.environ["APIMETER_FUZZ_PASSWORD"]}
        self._refresh = os.environ["APIMETER_FUZZ_REFRESH"]

    def get(self, case: Any, context: Any) -> dict[str, str]:
        if not fuzz.works(self._url, "/v1/auth/me", token=self._held["token"]):
            self._held["token"] = self._session()
        if not fuzz.works(self._url, "/v1/quota", key=self._held["key"]):
            self._held["key"] = fuzz.new_key(self._url, self._held["token"])
        return dict(self._held)

    def _session(self) -> str:
        """A working access token: rotated from the refresh token, else a sign-in, else a new owner."""
        attempts: tuple[Callable[[], dict[str, Any]], ...] = (
            lambda: fuzz.refreshed(self._url, self._refresh),
            lambda: fuzz.sign_in(self._url, self._login),
        )
        for attempt in attempts:
            try:
                session = attempt()
            except urllib.error.HTTPError:
                continue
            self._refresh = session["refresh_token"]
            return str(session["access_token"])
        self._login = fuzz.new_login()
        session = fuzz.register(self._url, self._login)
        self._refresh = session["refresh_token"]
        self._held["key"] = fuzz.new_key(self._url, session["access_token"])
        return str(session["access_token"])

    def set(self, case: Any, data: dict[str, str], context: Any) -> None:
        schemes = {name for requirement in case.operation.definition.raw.get("security", []) for name in requirement}
        if not schemes:
            return
        case.headers = case.headers or {}
        if "bearer" in schemes:
            case.headers["Authorization"] = f"Bearer {data['token']}"
        else:
            case.headers["X-API-Key"] = data["key"]
