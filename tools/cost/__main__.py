"""What apimeter costs to run, per million events, measured on its own code (``make cost``).

    python -m tools.cost [--events 2000] [--single 200] [--steady 3000] [--log path/to/access.log]

The access log in ../shared/data (read in place) is replayed through the real handlers on
in-process moto, with consumer = client IP and its timestamps kept, shifted to end half an hour
before the last midnight (so every hour and day of it is finished and finalized, whenever it runs):
first in requests of 100 events, then (on a second project, from the log's start) one event per
request. After each, the events table's stream is pumped through its consumers and one scheduled
rollup run finalizes every hour and day. Every AWS call is metered (tools/cost/meter.py): DynamoDB capacity
by DynamoDB's rules (tools/cost/capacity.py), Lambda invocations with an estimate of their billed
duration, API Gateway requests; storage from the items left in the tables, and the hourly
pipeline's Step Functions transitions from its definition. Prices: tools/cost/prices.py.

Then the rollup writes of steady traffic at scale: 1,000 events a second over 100 endpoints and
1,000 consumers (synthetic, seeded), sent 1,000 per request for a few seconds, so each stream batch
is one second of that traffic. The live writes per event are measured; the finalization's are those
of the hour the sample falls in (every endpoint and consumer is in it already) spread over the
3.6 million events an hour of such traffic holds.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import sys
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

from offline import inprocess
from offline.inprocess import Stack
from offline.replay.sources import access_log
from offline.replay.timeline import place
from tools.cost import prices
from tools.cost.capacity import item_size
from tools.cost.meter import Meter, tables_of_moto

ROOT = Path(__file__).resolve().parent.parent.parent
LOG = ROOT.parent / "shared" / "data" / "access-logs" / "apache_combined_2015.log"
PIPELINE = ROOT / "statemachines" / "hourly.asl.json"
HOUR = 3_600_000
DAY = 24 * HOUR
BATCH = 100
STEADY_RATE = 1_000  # events a second
STEADY_ENDPOINTS = 100
STEADY_CONSUMERS = 1_000
TABLES = ("EventsTable", "RollupsTable", "EntitiesTable")
STREAM_CONSUMERS = ("AggregateFunction", "BudgetWatchFunction")
FINALIZER = "RollupFunction"


def events_of(path: Path, count: int, end_ms: int) -> list[dict[str, Any]]:
    """The first ``count`` requests of an access log as events, consumer = client IP, the log's own
    spacing kept and shifted to end just before ``end_ms``."""
    calls = []
    for call in access_log(path):
        calls.append(call)
        if len(calls) == count:
            break
    placed = place(calls, end_ms)
    for event in placed:
        event["consumer"] = event.get("ip") or event["consumer"]
        event.pop("properties", None)
    return sorted(placed, key=lambda e: int(e["timestamp"]))


@dataclass
class Measured:
    """One way of sending: what it cost, per account, for how many events."""

    name: str
    events: int = 0
    requests: int = 0
    request_bytes: list[int] = field(default_factory=list)
    units: dict[tuple[str, str, str, str], float] = field(default_factory=dict)
    invocations: dict[str, tuple[int, float]] = field(default_factory=dict)  # function -> (count, seconds)
    other_requests: dict[str, int] = field(default_factory=dict)


def measure(name: str, stack: Stack, meter: Meter, key: str, events: list[dict[str, Any]], size: int,
            say: Callable[[str], None]) -> Measured:  # fmt: skip
    meter.reset()
    path = Measured(name, len(events))
    for start in range(0, len(events), size):
        body = {"events": events[start : start + size]} if size > 1 else events[start]
        raw = json.dumps(body)
        _send(stack, name, key, body)
        path.requests += 1
        path.request_bytes.append(len(raw))
        if path.requests % 500 == 0:
            say(f"  {name}: {start + size} of {len(events)} events sent")
    stack.pump()
    stack.functions[FINALIZER].invoke({"source": "aws.scheduler"})
    stack.pump()  # what finalization marked
    path.units = dict(meter.ledger.units)
    path.invocations = {f: (i.count, i.seconds) for f, i in meter.invocations.items()}
    path.other_requests = {k: v for k, v in meter.requests.items() if not k.startswith("dynamodb")}
    return path


def _metered_functions(stack: Stack, meter: Meter) -> None:
    for name, function in stack.functions.items():
        invoke = function.invoke

        def metered(event: dict[str, Any], name: str = name, invoke: Callable[..., Any] = invoke) -> Any:
            with meter.invocation(name):
                return invoke(event)

        function.invoke = metered  # type: ignore[method-assign]


def _project(stack: Stack, token: str, name: str) -> tuple[str, str]:
    status, _, project = stack.call("POST", "/v1/projects", {"name": name}, token=token)
    assert status == 201, project
    status, _, key = stack.call("POST", f"/v1/projects/{project['id']}/keys", {"name": "k", "scopes": ["track"]},
                                token=token)  # fmt: skip
    assert status == 201, key
    return str(project["id"]), str(key["key"])


def _tenant(stack: Stack) -> tuple[str, str]:
    owner = {"email": "cost@example.com", "password": token_urlsafe(16), "organization": "Cost"}
    status, _, session = stack.call("POST", "/v1/auth/register", owner)
    assert status == 201, session
    tenant_id = session["tenant"]["id"]
    scopes = ("key_per_minute", "key_per_hour", "key_per_day", "project_per_minute", "project_per_hour",
              "project_per_day")  # fmt: skip
    limits = dict.fromkeys(scopes, 10**9)
    limits |= {"distinct_endpoints": 100_000, "distinct_consumers": 100_000}
    stack.dynamodb.update_item(  # an operator's override: a replay sends days of traffic in seconds
        TableName=stack.stack.physical_name("EntitiesTable"),
        Key={"pk": {"S": f"TENANT#{tenant_id}"}, "sk": {"S": "TENANT"}},
        UpdateExpression="SET limits = :limits",
        ExpressionAttributeValues={":limits": {"M": {k: {"N": str(v)} for k, v in limits.items()}}},
    )
    return tenant_id, str(session["access_token"])


def storage_bytes(stack: Stack, logical_id: str, project_id: str, meter: Meter) -> tuple[int, int]:
    """(bytes billed, items) of a project's items in a table: each item and index entry with
    DynamoDB's 100 bytes of overhead."""
    from offline.inprocess import moto_table

    physical = stack.stack.physical_name(logical_id)
    table = meter.ledger.tables[physical]
    found = moto_table(physical)
    total = count = 0
    for value in list(found.items.values()):
        for item in list(value.values()) if found.range_key_attr else [value]:
            attributes = item.to_json()["Attributes"]
            if project_id not in json.dumps(attributes.get("pk", {})) + json.dumps(attributes.get("project_id", {})):
                continue
            count += 1
            total += item_size(attributes) + prices.DYNAMODB_ITEM_OVERHEAD_BYTES
            for index in table.indexes:
                entry = table.projected(index, attributes)
                if entry is not None:
                    total += item_size(entry) + prices.DYNAMODB_ITEM_OVERHEAD_BYTES
    return total, count


def pipeline_transitions() -> int:
    """State transitions of one hourly run's parent (standard) execution: each top-level state
    entered once (the per-project children are express executions, billed per request)."""
    definition = json.loads(PIPELINE.read_text())
    return len(definition["States"])


def steady_events(count: int, end_ms: int, seed: int = 13) -> list[dict[str, Any]]:
    """``count`` events of steady traffic, ``STEADY_RATE`` a second ending at ``end_ms``: endpoints
    and consumers drawn uniformly, a plausible mix of methods, statuses and latencies."""
    rng = random.Random(seed)  # noqa: S311 - reproducible traffic # nosec B311
    start = end_ms - count * 1000 // STEADY_RATE
    return [{"event_id": f"steady-{n}", "timestamp": start + n * 1000 // STEADY_RATE,
             "method": ("GET", "GET", "GET", "POST", "PUT", "DELETE")[n % 6],
             "endpoint": f"/v1/things{rng.randrange(STEADY_ENDPOINTS)}/{{id}}",
             "status": rng.choice((200, 200, 200, 200, 201, 204, 304, 400, 404, 429, 500)),
             "latency_ms": round(rng.lognormvariate(3.5, 0.8), 1),
             "consumer": f"consumer-{rng.randrange(STEADY_CONSUMERS)}"} for n in range(count)]  # fmt: skip


@dataclass
class Steady:
    """Rollup writes per event of steady traffic at scale."""

    events: int
    live: float  # WRU per event written by the stream consumers
    final_hour: float  # WRU of finalizing one hour of it

    @property
    def per_event(self) -> float:
        return self.live + self.final_hour / (STEADY_RATE * 3600)


def steady(stack: Stack, meter: Meter, key: str, count: int, end_ms: int, say: Callable[[str], None]) -> Steady:
    meter.reset()
    sent = steady_events(count, end_ms)
    for start in range(0, len(sent), STEADY_RATE):
        _send(stack, "steady", key, {"events": sent[start : start + STEADY_RATE]})
        stack.pump()  # one stream batch: one second of traffic
    say(f"  steady: {count} events sent")

    def rollup_writes(functions: tuple[str, ...]) -> float:
        return meter.ledger.total("write", lambda a: a[1] == "RollupsTable" and a[0] in functions)

    live = rollup_writes(STREAM_CONSUMERS)
    stack.functions[FINALIZER].invoke({"source": "aws.scheduler"})
    return Steady(count, live / count, rollup_writes((FINALIZER,)))


def _send(stack: Stack, name: str, key: str, body: dict[str, Any]) -> None:
    """One ingest request, which must be taken whole."""
    status, _, answer = stack.call("POST", "/v1/events", body, key=key)
    if status != 202 or answer.get("rejected"):
        raise SystemExit(f"{name}: the API answered {status} {str(answer)[:300]}")


@dataclass
class Costs:
    lines: list[tuple[str, float, float]]  # (what, units per event, USD per million events)
    total: float
    rollup_units: float


def costs(path: Measured, stack: Stack, storage: tuple[int, int], retention_days: int) -> Costs:
    per = 1e6 / path.events
    rows: list[tuple[str, float, float]] = []
    grouped: dict[str, float] = defaultdict(float)
    for (function, table, index, kind), units in path.units.items():
        label = f"{function}: {table}{'/' + index if index else ''} {kind}s"
        grouped[label] += units
    for label, units in sorted(grouped.items(), key=lambda kv: -kv[1]):
        price = prices.DYNAMODB_WRITE_UNIT if label.endswith("writes") else prices.DYNAMODB_READ_UNIT
        unit = "WRU" if label.endswith("writes") else "RRU"
        rows.append((f"{label} ({unit})", units / path.events, units * price * per))
    for function, (count, seconds) in sorted(path.invocations.items()):
        memory = stack.stack.functions[function].memory / 1024
        usd = count * prices.LAMBDA_REQUEST + seconds * memory * prices.LAMBDA_GB_SECOND_ARM64
        rows.append((f"Lambda {function}: {count} invocations, {seconds / max(count, 1) * 1000:.0f} ms each",
                     count / path.events, usd * per))  # fmt: skip
    blocks = sum(max(1, math.ceil(size / prices.HTTP_API_BLOCK_BYTES)) for size in path.request_bytes)
    rows.append(("API Gateway (HTTP API) requests", blocks / path.events, blocks * prices.HTTP_API_REQUEST * per))
    other = {"sqs": prices.SQS_REQUEST, "sns": prices.SNS_PUBLISH, "events": prices.EVENTBRIDGE_EVENT}
    for service, count in sorted(path.other_requests.items()):
        if service in other:
            rows.append((f"{service} requests", count / path.events, count * other[service] * per))
    stored, _ = storage
    gb_months = stored / prices.GB * retention_days / 30
    rows.append((f"raw storage, {retention_days} days ({stored / max(path.events, 1):.0f} B / event)", 0.0,
                 gb_months * prices.DYNAMODB_STORAGE_GB_MONTH * per))  # fmt: skip
    rollup = sum(u for (f, t, _, k), u in path.units.items() if t == "RollupsTable" and k == "write"
                 and f in (*STREAM_CONSUMERS, FINALIZER))  # fmt: skip
    return Costs(rows, sum(r[2] for r in rows), rollup / path.events)


def table(title: str, result: Costs) -> list[str]:
    width = max(len(r[0]) for r in result.lines)
    out = [f"{title}", f"  {'':{width}}  {'per event':>10}  {'USD / M events':>14}"]
    out += [f"  {what:{width}}  {units:10.3f}  {usd:14.3f}" for what, units, usd in result.lines]
    out.append(f"  {'total':{width}}  {'':10}  {result.total:14.3f}")
    return out


def run(events: int, single: int, log: Path, say: Callable[[str], None] = print,
        steady_count: int = 0) -> tuple[dict[str, Costs], Steady | None]:  # fmt: skip
    meter = Meter()
    with inprocess.moto(around=meter.around):
        stack = Stack()
        _metered_functions(stack, meter)
        _, token = _tenant(stack)
        batched_project, batched_key = _project(stack, token, "batched")
        single_project, single_key = _project(stack, token, "single")
        meter.watch(tables_of_moto({stack.stack.physical_name(t): t for t in TABLES}))
        # Half an hour before the last midnight that is over with the rollup's grace: every hour and
        # day of the samples is finished, so one run finalizes them all, whatever the time now.
        from apimeter.logic.rollup import GRACE_MS

        end_ms = (int(time.time() * 1000) - GRACE_MS) // DAY * DAY - HOUR // 2
        from apimeter.settings import settings

        retention = settings().default_retention_days
        results = {}
        for name, project, key, count, size in (("batched", batched_project, batched_key, events, BATCH),
                                                 ("single", single_project, single_key, single, 1)):  # fmt: skip
            sent = events_of(log, count, end_ms)
            path = measure(name, stack, meter, key, sent, size, say)
            stored = storage_bytes(stack, "EventsTable", project, meter)
            results[name] = costs(path, stack, stored, retention)
        at_scale = None
        if steady_count:
            _, steady_key = _project(stack, token, "steady")
            at_scale = steady(stack, meter, steady_key, steady_count, end_ms, say)
    return results, at_scale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.cost", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=2_000, help="events sent 100 per request")
    parser.add_argument("--single", type=int, default=200, help="events sent one per request")
    parser.add_argument("--steady", type=int, default=3_000, help="events of steady traffic at 1,000 a second")
    parser.add_argument("--log", type=Path, default=LOG)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    warnings.filterwarnings("ignore")
    if not args.log.exists():
        print(f"missing {args.log}", file=sys.stderr)
        return 1
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    results, at_scale = run(args.events, args.single, args.log, say=say, steady_count=args.steady)
    for name, result in results.items():
        print("\n".join(table(f"{name} ({BATCH if name == 'batched' else 1} per request)", result)))
    runs = 730  # hourly runs in a month
    transitions = pipeline_transitions()
    print(f"fixed, whatever the traffic: the hourly pipeline's {transitions} state transitions per run, "
          f"{runs * transitions * prices.STEP_FUNCTIONS_STANDARD_TRANSITION:.2f} USD a month, and one express "
          f"execution per project and hour, {runs * prices.STEP_FUNCTIONS_EXPRESS_REQUEST:.4f} USD per project-month "
          "(its Lambda work is not measured here)")  # fmt: skip
    if at_scale is not None:
        print(f"rollup writes at {STEADY_RATE:,} events/s over {STEADY_ENDPOINTS} endpoints and {STEADY_CONSUMERS:,} "
              f"consumers: {at_scale.per_event:.3f} WRU per event (live {at_scale.live:.3f}, finalizing an hour "
              f"{at_scale.final_hour:,.0f} WRU; measured on {at_scale.events:,} events)")  # fmt: skip
    print(f"cost batched: {results['batched'].total:.2f} USD per million events")
    print(f"cost single: {results['single'].total:.2f} USD per million events")
    print(f"rollup writes: {results['batched'].rollup_units:.2f} WRU per event")
    return 0


if __name__ == "__main__":
    sys.exit(main())
