"""schemathesis' credentials for ``make fuzz`` (tools/fuzz.py loads this as its hooks module).

The fuzzer signs itself out, deletes its project, revokes its key: whatever an operation can do, it
tries. Credentials that stop working are made again (a new sign-in, a new project and key) before
the next request, so one destructive call does not turn the rest of the run into 401s; each route
gets the credential its document names (a user's token, or the API key).
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

from tools import fuzz


@schemathesis.auth(refresh_interval=5)
class Credentials:
    def __init__(self) -> None:
        self._url = os.environ["APIMETER_FUZZ_URL"]
        self._held = {"token": os.environ["APIMETER_FUZZ_TOKEN"], "key": os.environ["APIMETER_FUZZ_KEY"]}
        self._login = {"email": os.environ["APIMETER_FUZZ_EMAIL"], "password": os.environ["APIMETER_FUZZ_PASSWORD"]}

    def get(self, case: Any, context: Any) -> dict[str, str]:
        if not fuzz.works(self._url, "/v1/auth/me", token=self._held["token"]):
            self._held["token"] = fuzz.sign_in(self._url, self._login)
        if not fuzz.works(self._url, "/v1/quota", key=self._held["key"]):
            self._held["key"] = fuzz.new_key(self._url, self._held["token"])
        return dict(self._held)

    def set(self, case: Any, data: dict[str, str], context: Any) -> None:
        schemes = {name for requirement in case.operation.definition.raw.get("security", []) for name in requirement}
        if not schemes:
            return
        case.headers = case.headers or {}
        if "bearer" in schemes:
            case.headers["Authorization"] = f"Bearer {data['token']}"
        else:
            case.headers["X-API-Key"] = data["key"]
