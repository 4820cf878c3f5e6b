"""DynamoDB capacity units, by DynamoDB's published rules, from the items a call reads and writes.

The rules (AWS, "Item sizes and formats" and "Read/write capacity mode", as of 2026-11):

- An item's size is the sum over its attributes of the name's UTF-8 length and the value's size:
  a string its UTF-8 length; a number about one byte per two significant digits, plus one (leading
  and trailing zeroes do not count; a negative number one more); binary its length; a boolean or
  null one byte; a list or map three bytes, plus one byte and the size of each element (and, for a
  map, each key's length); a set the sum of its elements.
- A write costs one unit per started kilobyte of the larger of the item before and after it, at
  least one. A conditional write whose condition fails still costs (the existing item's size, at
  least one). A delete costs the deleted item's size. A transactional write costs twice.
- Each global secondary index the item is in (before or after) is written too: the projected item's
  size, per started kilobyte; a write that moves the item between index keys writes twice (a delete
  and a put).
- A read costs one unit per started 4 KB of the items it reads, halved when eventually consistent
  (Query and Scan: the items read before any filter, summed, then rounded up; GetItem and each item
  of BatchGetItem: one rounding per item; a missing item still costs the minimum). A transactional
  read costs twice.

Nothing here talks to AWS: ``Ledger.record`` takes what a call sent, what it answered and how the
items it touched looked before and after.
"""

from __future__ import annotations

import base64
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Item = dict[str, Any]  # DynamoDB's low-level shape: {"name": {"S": "..."}, ...}
WRITE_BLOCK = 1024
READ_BLOCK = 4096


def number_size(text: str) -> int:
    digits = text.lstrip("-").lower().split("e")[0].replace(".", "").lstrip("0").rstrip("0")
    return math.ceil(len(digits) / 2) + 1 + (1 if text.startswith("-") else 0)


def value_size(value: Mapping[str, Any]) -> int:
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return number_size(inner)
    if kind == "B":
        return len(base64.b64decode(inner)) if isinstance(inner, str) else len(inner)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(element) for element in inner)
    if kind == "M":
        return 3 + sum(1 + len(name.encode()) + value_size(element) for name, element in inner.items())
    if kind == "SS":
        return sum(len(element.encode()) for element in inner)
    if kind == "NS":
        return sum(number_size(element) for element in inner)
    if kind == "BS":
        return sum(value_size({"B": element}) for element in inner)
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: Mapping[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


def write_units(*sizes: int) -> int:
    return max(1, math.ceil(max(sizes, default=0) / WRITE_BLOCK))


def read_units(size: int, consistent: bool) -> float:
    blocks = max(1, math.ceil(size / READ_BLOCK))
    return float(blocks) if consistent else blocks / 2


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[str, ...]  # hash, then range if any
    projection: str  # ALL, KEYS_ONLY or INCLUDE
    included: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    name: str
    keys: tuple[str, ...]
    indexes: tuple[Index, ...] = ()

    def key_of(self, item: Mapping[str, Any]) -> tuple[str, ...]:
        return tuple(str(item[name]) for name in self.keys)

    def projected(self, index: Index, item: Item) -> Item | None:
        """The index's entry for an item (None when the item lacks the index's keys)."""
        if not item or any(name not in item for name in index.keys):
            return None
        if index.projection == "ALL":
            return item
        kept = set(self.keys) | set(index.keys) | (set(index.included) if index.projection == "INCLUDE" else set())
        return {name: value for name, value in item.items() if name in kept}


# Where a unit is booked: (function, table, index or "", "write" | "read").
Account = tuple[str, str, str, str]


@dataclass
class Write:
    table: str
    before: Item | None
    after: Item | None
    succeeded: bool = True
    transactional: bool = False


@dataclass
class Read:
    table: str
    index: str
    sizes: list[int]  # per item read (before filters); one rounding for all when ``summed``
    consistent: bool
    summed: bool  # Query and Scan round the total; GetItem and BatchGetItem each item
    transactional: bool = False


class Ledger:
    """Capacity units per account, from the writes and reads of each call."""

    def __init__(self, tables: Mapping[str, Table]) -> None:
        self.tables = dict(tables)
        self.units: defaultdict[Account, float] = defaultdict(float)
        self.calls: Counter[tuple[str, str]] = Counter()  # (function, operation)
        self.function = "-"

    def write(self, write: Write) -> None:
        table = self.tables[write.table]
        before_size, after_size = item_size(write.before), item_size(write.after)
        factor = 2 if write.transactional else 1
        if not write.succeeded:  # a failed condition: the existing item's size, nothing written
            self.units[(self.function, table.name, "", "write")] += factor * write_units(before_size)
            return
        self.units[(self.function, table.name, "", "write")] += factor * write_units(before_size, after_size)
        for index in table.indexes:
            old = table.projected(index, write.before or {})
            new = table.projected(index, write.after or {})
            if old == new:
                continue  # nothing the index holds changed
            moved = old is not None and new is not None and any(old[k] != new[k] for k in index.keys)
            entries = [old, new] if moved else [new if new is not None else old]
            for entry in entries:
                self.units[(self.function, table.name, index.name, "write")] += write_units(item_size(entry))

    def read(self, read: Read) -> None:
        account = (self.function, self.tables[read.table].name, read.index, "read")
        factor = 2 if read.transactional else 1
        if read.summed:
            self.units[account] += factor * read_units(sum(read.sizes), read.consistent)
        else:
            self.units[account] += factor * sum(read_units(size, read.consistent) for size in read.sizes)

    def total(self, kind: str, where: Callable[[Account], bool] = lambda _: True) -> float:
        return sum(units for account, units in self.units.items() if account[3] == kind and where(account))
