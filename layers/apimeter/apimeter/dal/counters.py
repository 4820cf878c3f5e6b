"""Rate-limit and quota counters, kept in the entities table.

Keys:
  RATE#<scope>   / <YYYY-MM-DD>   cm (current minute, epoch minutes), mc (its count), hHH (each hour's
                                  count), d (the day's), expires_at (TTL, the next day)
  QUOTA#<project>/ <YYYY-MM>      events (the month's ingested events)
One conditional UpdateItem charges all three windows of a scope at once, so a charge is exact under
any concurrency (DynamoDB evaluates the condition and the update atomically) and costs one small
write; the first charge of each minute costs a second one, to start the minute over.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from apimeter.aws import error_code
from apimeter.dal.dynamo import client, update_if
from apimeter.domain.limits import Instant, Limits, Usage, Window, exceeded
from apimeter.settings import settings

_ATTEMPTS = 4


def _table() -> str:
    return settings().require("entities_table")


def _n(value: int) -> dict[str, str]:
    return {"N": str(value)}


def _usage(item: dict[str, Any] | None, hour: str, minute: int) -> tuple[int | None, Usage]:
    """The stored minute number and the usage it records (the minute count only if current)."""
    if not item:
        return None, Usage(0, 0, 0)
    stored = int(item["cm"]["N"]) if "cm" in item else None
    count = int(item.get("mc", {}).get("N", 0)) if stored == minute else 0
    return stored, Usage(count, int(item.get(hour, {}).get("N", 0)), int(item.get("d", {}).get("N", 0)))


def charge(scope: str, now: Instant, cost: int, limits: Limits) -> tuple[Usage, Window | None]:
    """Add ``cost`` to every window of ``scope`` unless one would go over its limit.

    Returns the usage after the charge and ``None``, or the usage before it and the window that
    refused it (nothing is added then).
    """
    key = {"pk": {"S": f"RATE#{scope}"}, "sk": {"S": now.day}}
    minute = now.minute
    names = {"#h": now.hour}
    for _ in range(_ATTEMPTS):
        try:
            response = client().update_item(
                TableName=_table(),
                Key=key,
                UpdateExpression="ADD mc :n, #h :n, d :n",
                ConditionExpression="cm = :minute AND mc <= :mmax AND (attribute_not_exists(#h) OR #h <= :hmax) "
                "AND d <= :dmax",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":n": _n(cost),
                    ":minute": _n(minute),
                    ":mmax": _n(limits.per_minute - cost),
                    ":hmax": _n(limits.per_hour - cost),
                    ":dmax": _n(limits.per_day - cost),
                },
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
            return _usage(response["Attributes"], now.hour, minute)[1], None
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
            stored, before = _usage(exc.response.get("Item"), now.hour, minute)  # type: ignore[arg-type]
        if stored == minute:
            return before, exceeded(before, limits, cost) or "minute"
        if stored is not None and stored > minute:
            minute = stored  # another function's clock is ahead: count in its minute
            continue
        refusal = exceeded(before, limits, cost)
        if refusal:
            return before, refusal
        if _start_minute(key, names, now, minute, stored, cost, limits):
            return Usage(cost, before.hour + cost, before.day + cost), None
        # someone else started this minute first: charge within it on the next pass
    raise RuntimeError(f"rate-limit counter {scope} kept changing under us")


def _start_minute(
    key: dict[str, Any], names: dict[str, str], now: Instant, minute: int, stored: int | None, cost: int, limits: Limits
) -> bool:
    """Begin a new minute (resetting its count) if nobody else has; the hour and day still add up."""
    values = {
        ":n": _n(cost),
        ":minute": _n(minute),
        ":hmax": _n(limits.per_hour - cost),
        ":dmax": _n(limits.per_day - cost),
        ":exp": _n(int(now.epoch) + 2 * 86_400),
    }
    condition = "(attribute_not_exists(#h) OR #h <= :hmax) AND (attribute_not_exists(d) OR d <= :dmax) AND "
    if stored is None:
        condition += "attribute_not_exists(cm)"
    else:
        condition += "cm = :stored"
        values[":stored"] = _n(stored)
    return update_if(
        TableName=_table(),
        Key=key,
        UpdateExpression="SET cm = :minute, mc = :n, expires_at = :exp ADD #h :n, d :n",
        ConditionExpression=condition,
        ExpressionAttributeNames=names,
        ExpressionAttributeValues=values,
    )


def refund(scope: str, now: Instant, cost: int) -> None:
    """Take back a charge that a later scope refused (the minute count only if still current)."""
    key = {"pk": {"S": f"RATE#{scope}"}, "sk": {"S": now.day}}
    try:
        client().update_item(
            TableName=_table(),
            Key=key,
            UpdateExpression="ADD mc :neg, #h :neg, d :neg",
            ConditionExpression="cm = :minute",
            ExpressionAttributeNames={"#h": now.hour},
            ExpressionAttributeValues={":neg": _n(-cost), ":minute": _n(now.minute)},
        )
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
        client().update_item(
            TableName=_table(),
            Key=key,
            UpdateExpression="ADD #h :neg, d :neg",
            ExpressionAttributeNames={"#h": now.hour},
            ExpressionAttributeValues={":neg": _n(-cost)},
        )


def peek(scope: str, now: Instant) -> Usage:
    item = client().get_item(TableName=_table(), Key={"pk": {"S": f"RATE#{scope}"}, "sk": {"S": now.day}})
    return _usage(item.get("Item"), now.hour, now.minute)[1]


def _quota_key(project_id: str, month: str) -> dict[str, Any]:
    return {"pk": {"S": f"QUOTA#{project_id}"}, "sk": {"S": month}}


def charge_quota(project_id: str, month: str, cost: int, quota: int) -> tuple[int, bool]:
    """Add ``cost`` events to the project's month unless that would pass ``quota``.
    Returns the events used (after, or before when refused) and whether it was accepted."""
    key = _quota_key(project_id, month)
    try:
        response = client().update_item(
            TableName=_table(),
            Key=key,
            UpdateExpression="ADD events :n",
            ConditionExpression="attribute_not_exists(events) OR events <= :max",
            ExpressionAttributeValues={":n": _n(cost), ":max": _n(quota - cost)},
            ReturnValues="UPDATED_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if error_code(exc) != "ConditionalCheckFailedException":
            raise
        return int(exc.response.get("Item", {}).get("events", {}).get("N", 0)), False  # type: ignore[attr-defined]
    return int(response["Attributes"]["events"]["N"]), True


def give_back_quota(project_id: str, month: str, units: int) -> None:
    """Take back ``units`` charged to the month and never handed out."""
    client().update_item(
        TableName=_table(),
        Key=_quota_key(project_id, month),
        UpdateExpression="ADD events :neg",
        ExpressionAttributeValues={":neg": _n(-units)},
    )


def quota_used(project_id: str, month: str) -> int:
    item = client().get_item(TableName=_table(), Key=_quota_key(project_id, month))
    return int(item.get("Item", {}).get("events", {}).get("N", 0))
