"""The cost model's capacity rules (tools/cost/capacity.py), against DynamoDB's published examples."""

from __future__ import annotations

import pytest

from tools.cost.capacity import Index, Ledger, Read, Table, Write, item_size, number_size, read_units, write_units


@pytest.mark.parametrize(
    ("number", "size"),
    [("0", 1), ("7", 2), ("12", 2), ("123", 3), ("1000000", 2), ("0.001", 2), ("-5", 3), ("12345.678", 5)],
)
def test_a_number_is_a_byte_per_two_significant_digits_and_one(number: str, size: int) -> None:
    assert number_size(number) == size


def test_an_item_is_its_names_and_values() -> None:
    item = {
        "pk": {"S": "ab"},  # 2 + 2
        "n": {"N": "123"},  # 1 + 3
        "ok": {"BOOL": True},  # 2 + 1
        "l": {"L": [{"S": "x"}, {"N": "1"}]},  # 1 + 3 + (1 + 1) + (1 + 2)
        "m": {"M": {"a": {"S": "bc"}}},  # 1 + 3 + (1 + 1 + 2)
        "ss": {"SS": ["a", "bb"]},  # 2 + 3
        "b": {"B": "AAEC"},  # 1 + 3 bytes
    }
    assert item_size(item) == 4 + 4 + 3 + 9 + 8 + 5 + 4


def test_units_round_up_per_block() -> None:
    assert write_units(0) == 1  # a write costs at least one unit
    assert write_units(1024) == 1
    assert write_units(1025) == 2
    assert write_units(500, 2100) == 3  # the larger of before and after
    assert read_units(4096, consistent=True) == 1.0
    assert read_units(4097, consistent=True) == 2.0
    assert read_units(4097, consistent=False) == 1.0
    assert read_units(0, consistent=False) == 0.5  # a miss still costs the minimum


TABLE = Table("Events", ("pk",), (Index("by_time", ("tpk", "tsk"), "ALL"), Index("slim", ("tpk",), "KEYS_ONLY")))


def _item(pk: str, tpk: str | None = None, pad: int = 0) -> dict[str, dict[str, str]]:
    item = {"pk": {"S": pk}, "pad": {"S": "x" * pad}}
    if tpk is not None:
        item |= {"tpk": {"S": tpk}, "tsk": {"S": "1"}}
    return item


def test_each_index_holding_the_item_is_written_too() -> None:
    ledger = Ledger({"t": TABLE})
    ledger.write(Write("t", None, _item("a", "day#0", pad=1500)))

    assert ledger.units[("-", "Events", "", "write")] == 2
    assert ledger.units[("-", "Events", "by_time", "write")] == 2  # the whole item is projected
    assert ledger.units[("-", "Events", "slim", "write")] == 1  # keys only


def test_moving_an_item_between_index_keys_writes_the_index_twice() -> None:
    ledger = Ledger({"t": TABLE})
    ledger.write(Write("t", _item("a", "day#0"), _item("a", "day#1")))

    assert ledger.units[("-", "Events", "by_time", "write")] == 2  # a delete and a put
    assert ledger.units[("-", "Events", "slim", "write")] == 2


def test_an_item_outside_the_index_costs_the_index_nothing() -> None:
    ledger = Ledger({"t": TABLE})
    ledger.write(Write("t", None, _item("a")))

    assert ledger.total("write") == 1


def test_a_failed_condition_costs_the_existing_item_and_writes_no_index() -> None:
    ledger = Ledger({"t": TABLE})
    ledger.write(Write("t", _item("a", "day#0", pad=3000), _item("a", "day#0", pad=3000), succeeded=False))

    assert ledger.units[("-", "Events", "", "write")] == 3
    assert ledger.total("write") == 3


def test_transactions_cost_twice_and_reads_round_as_dynamodb_does() -> None:
    ledger = Ledger({"t": TABLE})
    ledger.write(Write("t", None, _item("a"), transactional=True))
    ledger.read(Read("t", "", [5000, 10], consistent=False, summed=False))  # two GetItems: 1 + 0.5
    ledger.read(Read("t", "by_time", [3000, 3000], consistent=False, summed=True))  # one Query: 6 KB -> 1

    assert ledger.total("write") == 2
    assert ledger.units[("-", "Events", "", "read")] == 1.5
    assert ledger.units[("-", "Events", "by_time", "read")] == 1.0
