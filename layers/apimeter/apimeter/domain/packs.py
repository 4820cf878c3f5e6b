"""Packs: the counters of every endpoint (or every consumer) of one bucket, in one compressed blob.

A dimension bucket is stored as packs rather than as one item per value: a write costs a
DynamoDB unit per kilobyte of item, at least one per item, so a minute that touched 600 consumers
costs the bytes of their counters (a few dozen each, compressed) instead of 600 writes. A pack is
``{value: {counter: number}}`` as JSON (money and latency sums as decimal strings, so they add
exactly), deflated; ``chunked`` splits one that would pass DynamoDB's item size into several.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import orjson

from apimeter.domain.rollups import DECIMALS, Number, Value

Counters = dict[str, Number]
MAX_PACK_BYTES = 300_000  # DynamoDB items stop at 400 KB; room for the key and the bookkeeping


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"not packable: {type(value).__name__}")


def encode(values: Mapping[str, Mapping[str, Value]]) -> bytes:
    """One pack of ``{value: counters}`` (the counters of a dimension bucket hold no sets)."""
    return zlib.compress(orjson.dumps(values, default=_plain), 6)


def decode(blob: bytes) -> dict[str, Counters]:
    """``{value: counters}`` of a pack, money and latency sums as ``Decimal``."""
    found: dict[str, dict[str, Any]] = orjson.loads(zlib.decompress(blob))
    for counters in found.values():
        for name in DECIMALS.intersection(counters):
            counters[name] = Decimal(counters[name])
    return found


def chunked(values: Mapping[str, Mapping[str, Value]], limit: int = MAX_PACK_BYTES) -> list[bytes]:
    """Packs holding every value once, each at most ``limit`` bytes; an empty bucket is one empty pack."""
    blob = encode(values)
    if len(blob) <= limit or len(values) < 2:
        return [blob]
    names = sorted(values)
    half = len(names) // 2
    return chunked({n: values[n] for n in names[:half]}, limit) + chunked({n: values[n] for n in names[half:]}, limit)


def add(target: dict[str, Counters], packs: Iterable[Mapping[str, Counters]]) -> dict[str, Counters]:
    """Sum packs into ``target`` value by value; returns it."""
    for pack in packs:
        for value, counters in pack.items():
            mine = target.get(value)
            if mine is None:
                target[value] = dict(counters)
                continue
            for name, amount in counters.items():
                mine[name] = mine.get(name, 0) + amount
    return target
