"""Fixtures of the client's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from fake_apimeter import FakeApimeter


@pytest.fixture
def fake() -> Iterator[FakeApimeter]:
    server = FakeApimeter()
    server.start()
    yield server
    server.stop()
