"""Endpoints and consumers, packed: final buckets from their packs, the rest from their parts and the
stream's slices, every figure under the bucket that was asked for."""

from __future__ import annotations

from typing import Any

from apimeter.dal import rollups
from apimeter.domain.rollups import RollupKey
from apimeter.domain.windows import Run

PROJECT = "prj_packed"
DAY = "2026-11-20"
FINAL_HOUR, LIVE_HOUR = "2026-11-20T10", "2026-11-20T11"


def _totals(granularity: Any, bucket: str, requests: int, *, final: bool) -> None:
    """The totals item the stream or finalization leaves: readers learn from it which buckets had events."""
    key = RollupKey(PROJECT, granularity, "*", bucket)
    if final:
        rollups.replace_all({key: {"requests": requests}}, run="totals", computed_at="2026-11-20T12:00:00Z")
    else:
        rollups.apply({key: {"requests": requests}}, batch="totals", minute_expires_at=2**31, now_ms=0)


def _live(batch: str, minute: str, counts: dict[str, int]) -> None:
    """A stream batch's minute: its totals added, its endpoints put in the batch's slice."""
    deltas: dict[RollupKey, dict[str, Any]] = {
        RollupKey(PROJECT, "minute", "*", minute): {"requests": sum(counts.values())}
    }
    deltas.update({RollupKey(PROJECT, "minute", "e", minute, v): {"requests": n} for v, n in counts.items()})
    rollups.apply(deltas, batch=batch, minute_expires_at=2**31, now_ms=0)


def _endpoints(run: Run) -> dict[str, tuple[int, bool]]:
    return {i["sk"]: (int(i["requests"]), bool(i.get("final"))) for i in rollups.read_runs(PROJECT, [run], "e").items}


def test_final_hours_read_their_packs_live_ones_their_slices_and_a_day_sums_both(aws: dict[str, Any]) -> None:
    _totals("day", DAY, 7, final=False)
    _totals("hour", FINAL_HOUR, 4, final=True)
    rollups.replace_all(
        {RollupKey(PROJECT, "hour", "e", FINAL_HOUR, "GET /a"): {"requests": 3},
         RollupKey(PROJECT, "hour", "e", FINAL_HOUR, "GET /b"): {"requests": 1}},
        run="run_1", computed_at="2026-11-20T11:10:00Z", whole=[(PROJECT, "hour", FINAL_HOUR)],
    )  # fmt: skip
    _totals("hour", LIVE_HOUR, 3, final=False)
    _live("100", f"{LIVE_HOUR}:05", {"GET /a": 2})
    _live("200", f"{LIVE_HOUR}:06", {"GET /c": 1})
    _live("200", f"{LIVE_HOUR}:06", {"GET /c": 1})  # the same batch again: its slice is put again, not added

    hours = Run("hour", FINAL_HOUR, LIVE_HOUR, 2)
    assert _endpoints(hours) == {
        f"{FINAL_HOUR}#GET /a": (3, True), f"{FINAL_HOUR}#GET /b": (1, True),  # its pack, final
        f"{LIVE_HOUR}#GET /a": (2, False), f"{LIVE_HOUR}#GET /c": (1, False),  # its minutes' slices, live
    }  # fmt: skip
    assert _endpoints(Run("day", DAY, DAY, 1)) == {f"{DAY}#GET /a": (5, False), f"{DAY}#GET /b": (1, False),
                                                   f"{DAY}#GET /c": (1, False)}  # fmt: skip
    one = rollups.get_many([RollupKey(PROJECT, "hour", "e", FINAL_HOUR, "GET /a")]).items
    assert [(i["sk"], i["requests"], i["run"]) for i in one] == [(f"{FINAL_HOUR}#GET /a", 3, "run_1")]


def test_a_pack_caught_half_rewritten_is_not_read_and_its_minutes_answer(aws: dict[str, Any]) -> None:
    _totals("hour", FINAL_HOUR, 2, final=True)
    _live("300", f"{FINAL_HOUR}:30", {"GET /a": 2})
    key = RollupKey(PROJECT, "hour", "e", FINAL_HOUR, "GET /a")
    rollups.replace_all({key: {"requests": 2}}, run="run_1", computed_at="2026-11-20T11:10:00Z")
    table = aws["stack"].physical_name("RollupsTable")
    pk = {"S": f"{PROJECT}#hour#e#packs"}
    first = aws["dynamodb"].get_item(TableName=table, Key={"pk": pk, "sk": {"S": f"{FINAL_HOUR}#000"}})["Item"]
    aws["dynamodb"].put_item(TableName=table, Item={**first, "chunks": {"N": "2"}, "run": {"S": "run_2"}})
    assert _endpoints(Run("hour", FINAL_HOUR, FINAL_HOUR, 1)) == {f"{FINAL_HOUR}#GET /a": (2, False)}  # chunk 1 missing
    second = {**first, "sk": {"S": f"{FINAL_HOUR}#001"}, "run": {"S": "run_2"}}
    aws["dynamodb"].put_item(TableName=table, Item=second)
    assert _endpoints(Run("hour", FINAL_HOUR, FINAL_HOUR, 1)) == {f"{FINAL_HOUR}#GET /a": (4, True)}  # both chunks
