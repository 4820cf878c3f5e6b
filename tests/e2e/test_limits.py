"""Rate limits over real HTTP with parallel clients: exactly the limit gets through."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.conftest import AUTH_CACHE_SECONDS, PLATFORM_ADMIN, Stack
from tests.e2e.test_offline_stack import setup_project

pytestmark = pytest.mark.e2e
LIMIT = 30
CLIENTS = 16
REQUESTS_EACH = 6


def test_parallel_clients_get_exactly_the_limit(stack: Stack) -> None:
    client = stack.client
    root = client.call("POST", "/v1/auth/register", {"email": PLATFORM_ADMIN, "password": "root-password-1",
                                                       "organization": "Platform"})  # fmt: skip
    assert root.status == 201
    token, _, key = setup_project(client, "limited@example.com")
    tenant_id = client.call("GET", "/v1/auth/me", token=token).body["tenant"]["id"]
    patched = client.call(
        "PATCH",
        f"/v1/admin/tenants/{tenant_id}",
        {"limits": {"key_per_minute": LIMIT}},
        token=root.body["access_token"],
    )
    assert patched.status == 200, patched.body
    time.sleep(AUTH_CACHE_SECONDS + 0.2)  # limits travel with the authorizer's cached answer
    while time.time() % 60 > 40:  # keep the burst inside one minute window
        time.sleep(0.5)

    def one(_: int) -> int:
        return client.call("GET", "/v1/quota", key=key).status

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        statuses = Counter(pool.map(one, range(CLIENTS * REQUESTS_EACH)))
    elapsed = time.monotonic() - started
    assert statuses == {200: LIMIT, 429: CLIENTS * REQUESTS_EACH - LIMIT}, statuses
    print(f"\n{CLIENTS} clients x {REQUESTS_EACH} requests vs a limit of {LIMIT}: {dict(statuses)} in {elapsed:.2f} s")
    refused = client.call("GET", "/v1/quota", key=key)
    assert refused.status == 429
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.headers["x-ratelimit-remaining"] == "0"
