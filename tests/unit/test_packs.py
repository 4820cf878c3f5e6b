"""Packs: a dimension bucket's values in one compressed blob, exact through encoding and chunking."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apimeter.domain import packs


def test_a_pack_keeps_counts_and_exact_sums() -> None:
    values: dict[str, Any] = {
        "GET /a": {"requests": 3, "cost": Decimal("0.1"), "lat_sum": Decimal("12.345"), "s200": 3},
        "POST /b": {"requests": 1, "units": Decimal("1E+2")},
    }
    decoded = packs.decode(packs.encode(values))
    assert decoded == values
    assert isinstance(decoded["GET /a"]["cost"], Decimal)
    assert isinstance(decoded["GET /a"]["requests"], int)
    assert sum((decoded["GET /a"]["cost"] for _ in range(10)), Decimal(0)) == Decimal("1.0")  # no float drift


def test_a_pack_too_large_is_split_into_chunks_holding_each_value_once() -> None:
    values = {f"consumer-{n}": {"requests": n, "s200": n, f"lq{n % 97}": 1} for n in range(2_000)}
    whole = packs.chunked(values)
    assert len(whole) == 1
    split = packs.chunked(values, limit=len(whole[0]) // 3)
    assert len(split) >= 3
    assert all(len(blob) <= len(whole[0]) // 3 for blob in split)
    decoded = [packs.decode(blob) for blob in split]
    assert sum(len(d) for d in decoded) == 2_000
    assert packs.add({}, decoded) == values
    assert packs.chunked({}) == [packs.encode({})]  # an empty bucket is one empty pack


def test_adding_packs_sums_value_by_value_and_leaves_the_parts_alone() -> None:
    first: dict[str, Any] = {"a": {"requests": 1, "cost": Decimal("0.5")}}
    second: dict[str, Any] = {"a": {"requests": 2, "errors": 1}, "b": {"requests": 4}}
    total = packs.add({}, [first, second])
    assert total == {"a": {"requests": 3, "cost": Decimal("0.5"), "errors": 1}, "b": {"requests": 4}}
    assert first == {"a": {"requests": 1, "cost": Decimal("0.5")}}  # copied, not aliased
