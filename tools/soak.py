"""Soak under faults: real traffic through the real ingest, stream and rollup code while AWS misbehaves.

``python -m tools.soak --events 200000 --seed 1`` (``make soak``). Events come from the access log in
../shared/data/access-logs (read in place; synthetic events when it is absent), cycled with new
event ids, shifted to end an hour ago, and sent in batches through the API gateway to the ingest
function on in-process moto, with every fault of offline/faults.py on at a realistic rate; a share
of the requests (``--http-share``, a tenth by default) goes over HTTP instead, to the same gateway
serving on a loopback port, so the framing, the socket and the HTTP client's view are under fault
too. Some
events are resent (duplicates), some held back and sent at the end (late), and the scheduled rollup
runs every so often, so later rounds land in hours already finalized. A project budget on requests
has thresholds the run crosses. Afterwards, read straight from moto's memory:

- every event the API acknowledged is in the events table, and nothing else is;
- every hour with events is final and equals a direct count of the table, for the totals, every
  endpoint and every consumer, and so does every finished day;
- each crossed threshold fired exactly one alert (and no other alert fired), delivered to SNS;
- every answer was 202, a 429/503 with Retry-After, or the gateway's 5xx for an invocation an
  injected timeout ended; a client retrying those got everything in.

Prints events, faults injected per kind, retries and mismatches; exits 1 on any mismatch.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from secrets import token_urlsafe
from typing import Any

from offline import inprocess
from offline.inprocess import Stack

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT.parent / "shared" / "data" / "access-logs" / "apache_combined_2015.log"
LINE = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+) [^"]*" (\d{3})')
HTTP_SHARE = 0.1  # of ingest requests: sent over a loopback socket rather than handed to the gateway
HOUR = 3_600_000

# Realistic rates: a few percent of attempts throttled (botocore retries them), throttling that
# outlasts the retries much rarer, a percent or two of invocations ending early.
RATES = {"throttle": 0.03, "throttle_exhausted": 0.0005, "unprocessed": 0.03, "timeout": 0.01,
         "stream_crash": 0.02, "redeliver": 0.02, "reorder": 0.05, "late": 0.02}  # fmt: skip
DUPLICATES = 0.02  # of each batch: events resent from earlier batches, unchanged
ROLLUP_RUNS = 8  # scheduled rollups while events still arrive
THRESHOLDS = (50.0, 80.0, 100.0)
BUDGET_SHARE = 0.6  # the budget's amount, as a share of the run's events: every threshold is crossed
GATEWAY_ERROR = {"message": "Internal Server Error"}
# Two write shards per day, not eight: moto reads a whole index for every Query of one, and
# finalization queries each shard of each hour's day; two still make it merge shards.
EVENT_SHARDS = 2


@dataclass
class Report:
    events: int = 0
    requests: int = 0
    over_http: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    busy: Counter[str] = field(default_factory=Counter)  # what DynamoDB said behind each 503
    retries: Counter[str] = field(default_factory=Counter)
    faults: dict[str, int] = field(default_factory=dict)
    mismatches: list[str] = field(default_factory=list)
    phases: dict[str, float] = field(default_factory=dict)  # wall-clock seconds per phase
    alerts: int = 0
    deliveries: int = 0
    seconds: float = 0.0
    finalized_at: int = 0  # the time of the last rollup run that finished (epoch ms)

    def lines(self) -> list[str]:
        faults = ", ".join(f"{k} {v}" for k, v in self.faults.items())
        answers = ", ".join(f"{k} {v}" for k, v in sorted(self.answers.items()))
        retries = ", ".join(f"{k} {v}" for k, v in sorted(self.retries.items()))
        shown = self.mismatches[:20] + ([f"... {len(self.mismatches) - 20} more"] if len(self.mismatches) > 20 else [])
        return [
            f"events        {self.events} unique accepted, in {self.requests} requests ({self.over_http} over HTTP)",
            f"answers       {answers}",
            f"503 causes    {', '.join(f'{k} {v}' for k, v in self.busy.most_common())}",
            f"faults        {faults}",
            f"retries       {retries}",
            f"alerts        {self.alerts} fired, {self.deliveries} SNS deliveries",
            f"mismatches    {len(self.mismatches)}",
            *(f"  {m}" for m in shown),
            f"wall clock    {self.seconds:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in self.phases.items())})",
        ]


def traffic(count: int, seed: int, now_ms: int) -> list[dict[str, Any]]:
    """``count`` events shaped like the access log, ending an hour ago, in time order.

    The log has 10,000 requests over four days; a soak needs more, so each request stands for as
    many as it takes, from the same client to the same endpoint within the same minute: the log's
    mix of endpoints, clients, statuses and its daily rhythm, at a higher rate."""
    rng = random.Random(seed)  # noqa: S311 - reproducible traffic # nosec B311
    rows: list[tuple[int, str, str, str, int]] = []
    if LOG.exists():
        for line in LOG.read_text().splitlines():
            found = LINE.match(line)
            if found:
                ip, when, method, path, status = found.groups()
                ts = int(datetime.strptime(when, "%d/%b/%Y:%H:%M:%S %z").timestamp() * 1000)
                rows.append((ts, ip, method, path, int(status)))
    if not rows:  # synthetic: four days of a small API
        rows = [(i * 30_000, f"10.0.0.{rng.randrange(200)}", rng.choice(("GET", "POST")),
                 f"/v1/items/{rng.randrange(50)}", rng.choice((200, 200, 200, 201, 404, 500)))
                for i in range(11_520)]  # fmt: skip
    rows.sort()
    shift = now_ms - HOUR - 60_000 - rows[-1][0]
    copies = -(-count // len(rows))
    events = []
    for n in range(count):
        ts, ip, method, path, status = rows[n // copies]
        events.append({"event_id": f"ev-{n}", "timestamp": ts + shift + rng.randrange(60_000), "method": method,
                       "path": path, "status": status, "consumer": ip})  # fmt: skip
    return events


def run(events: int, seed: int, batch: int = 1000, rates: dict[str, float] | None = None,
        say: Callable[[str], None] = print, http_share: float = HTTP_SHARE) -> Report:  # fmt: skip
    started = time.monotonic()
    shards = {"EVENT_SHARDS": str(EVENT_SHARDS)}
    with inprocess.moto(shards):
        stack = Stack(shards)
        with stack.serving() as url:
            report = _soak(stack, events, seed, batch, RATES if rates is None else rates, say, (url, http_share))
    report.seconds = time.monotonic() - started
    return report


def _soak(stack: Stack, count: int, seed: int, size: int, rates: dict[str, float], say: Callable[[str], None],
          http: tuple[str, float]) -> Report:  # fmt: skip
    from apimeter.logic import budgets, rollup
    from offline.faults import Faults

    report = Report()
    began = time.monotonic()
    now_ms = int(time.time() * 1000)
    planned = traffic(count, seed, now_ms)
    tenant_id, project_id, key, budget_id = _setup(stack, count)
    inbox = _alert_inbox(stack)
    faults = Faults(rates, seed)
    timeouts = _inject(stack, faults, report)
    rng = random.Random(seed)  # noqa: S311 - which events are resent, reproducibly # nosec B311

    @contextlib.contextmanager
    def timed(phase: str) -> Iterator[None]:
        began = time.monotonic()
        try:
            yield
        finally:
            report.phases[phase] = report.phases.get(phase, 0.0) + time.monotonic() - began

    client = _Client(stack, key, report, timeouts, http, random.Random(seed + 1))  # noqa: S311 # nosec B311
    late: list[dict[str, Any]] = []
    sent: list[dict[str, Any]] = []
    send = client.send

    fresh = size - int(size * DUPLICATES)  # each request: new events, and some resent
    every = max(1, len(planned) // fresh // ROLLUP_RUNS)
    for number, start in enumerate(range(0, len(planned), fresh)):
        chunk: list[dict[str, Any]] = []
        for event in planned[start : start + fresh]:
            (late if faults.roll("late") else chunk).append(event)
        if sent:
            chunk += [sent[rng.randrange(len(sent))] for _ in range(size - fresh)]
        with timed("ingest"):
            send(chunk)
        sent.extend(chunk)
        with timed("streams"):
            stack.pump()
        if number % every == every - 1:
            with timed("rollup runs"):
                _scheduled_rollup(rollup, report)
            with timed("budgets"), contextlib.suppress(Exception):  # the hourly judgement; retried next hour
                budgets.evaluate(tenant_id)
            done = min(start + fresh, len(planned))
            say(f"  {done} of {len(planned)} events sent ({time.monotonic() - began:.0f} s)")
    for start in range(0, len(late), size):  # hours after their timestamps, some hours already final
        send(late[start : start + size])
        stack.pump()
    with timed("rollup runs"):
        _settle(stack, report, tenant_id)

    with faults.paused(), timed("checks"):
        _tally(stack, report, faults, client.acknowledged, (tenant_id, project_id, budget_id), count, inbox)
    return report


def _tally(stack: Stack, report: Report, faults: Any, acknowledged: dict[str, dict[str, Any]],
           ids: tuple[str, str, str], count: int, inbox: str) -> None:  # fmt: skip
    """What was injected and retried, then every check."""
    tenant_id, project_id, budget_id = ids
    report.faults = faults.summary()
    report.retries["sdk (throttled attempts)"] = faults.retries["sdk"]
    report.retries["stream batches"] = sum(p.retried_batches for p in stack.pumps)
    # Batches past their retries go to the on-failure queue; their live figures are short, and
    # the final ones must still be exact (their hours are marked pending by the other consumers'
    # records or the retries before): the checks below say whether they are.
    for pump in stack.pumps:
        report.retries[f"{pump.mapping.function} batches given up"] = pump.failed_batches
    report.events = len(acknowledged)
    _check(stack, report, project_id, acknowledged)
    _check_alerts(stack, report, tenant_id, budget_id, count, inbox)


class _Client:
    """What a client of the API does: resend a batch while the answer says to retry."""

    def __init__(self, stack: Stack, key: str, report: Report, timeouts: Counter[str], http: tuple[str, float],
                 rng: random.Random) -> None:  # fmt: skip
        self.stack, self.key, self.report, self.timeouts = stack, key, report, timeouts
        (self.url, self.http_share), self.rng = http, rng
        self.acknowledged: dict[str, dict[str, Any]] = {}

    def post(self, items: list[dict[str, Any]]) -> tuple[int, dict[str, str], Any]:
        """One ingest request, over HTTP for a share of them."""
        if self.rng.random() >= self.http_share:
            return self.stack.call("POST", "/v1/events", {"events": items}, key=self.key)
        self.report.over_http += 1
        body = json.dumps({"events": items}).encode()
        headers = {"content-type": "application/json", "x-api-key": self.key, "user-agent": "soak"}
        request = urllib.request.Request(f"{self.url}/v1/events", body, headers, method="POST")  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=600) as answer:  # noqa: S310 - our loopback URL # nosec B310
                status, out, payload = answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as error:
            status, out, payload = error.code, dict(error.headers), error.read()
        return status, {k.lower(): v for k, v in out.items()}, json.loads(payload) if payload else None

    def send(self, items: list[dict[str, Any]]) -> None:
        report = self.report
        before = Counter(report.busy)
        for _ in range(100):
            report.requests += 1
            seen = self.timeouts["ingest"]
            status, headers, body = self.post(items)
            if status == 202:
                report.answers["202"] += 1
                rejected = {r["index"] for r in body["rejected"]}
                for index, item in enumerate(items):
                    if index not in rejected:
                        self.acknowledged[item["event_id"]] = item
                    else:
                        report.mismatches.append(f"rejected {item['event_id']}: {body['rejected']}")
                return
            if status in (429, 503) and headers.get("retry-after"):
                report.answers[f"{status} with Retry-After"] += 1
            elif status == 500 and body == GATEWAY_ERROR and self.timeouts["ingest"] > seen:
                report.answers["gateway 500 (invocation timed out)"] += 1
            else:
                report.answers[f"{status} unexpected"] += 1
                report.mismatches.append(f"answer {status} {body} is neither accepted nor retryable")
                return
            report.retries["client"] += 1
        causes = ", ".join(f"{k} {v}" for k, v in (report.busy - before).most_common(3))
        report.mismatches.append(f"a batch of {len(items)} never got in (503 causes: {causes or 'none'})")


def _alert_inbox(stack: Stack) -> str:
    """An SQS queue subscribed to the alerts topic: what SNS delivered, to count per alert."""
    import boto3

    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    inbox: str = sqs.create_queue(QueueName="soak-alerts")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=stack.stack.arn("AlertsTopic"), Protocol="sqs", Endpoint=arn)
    return inbox


def _inject(stack: Stack, faults: Any, report: Report) -> Counter[str]:
    """Faults into the functions' DynamoDB calls, their invocations and the stream; returns a
    counter of ingest invocations that timed out (their gateway 500 is then expected). Each
    throttling error the API answers 503 for is tallied by operation and message (``report.busy``):
    an injected one says so; any other is a cause the harness did not make."""
    from apimeter.api import resolver
    from apimeter.dal import dynamo
    from offline.faults import WATCHED, FunctionTimedOut

    judge = resolver.throttled  # type: ignore[attr-defined]

    def noting_causes(exc: BaseException) -> bool:
        if not judge(exc):
            return False
        error = getattr(exc, "response", {}).get("Error", {})
        report.busy[f"{getattr(exc, 'operation_name', '?')} {error.get('Code')}: {error.get('Message')}"] += 1
        return True

    resolver.throttled = noting_causes  # type: ignore[attr-defined]

    faults.install(dynamo.client().meta.events)
    for name in WATCHED:
        faults.guard(stack.functions[name], name)
    for pump in stack.pumps:
        pump.faults = faults
    timeouts: Counter[str] = Counter()
    ingest = stack.functions["IngestFunction"]
    guarded = ingest.invoke

    def noting_timeouts(event: dict[str, Any]) -> Any:
        try:
            return guarded(event)
        except FunctionTimedOut:
            timeouts["ingest"] += 1
            raise

    ingest.invoke = noting_timeouts  # type: ignore[method-assign]
    return timeouts


def _settle(stack: Stack, report: Report, tenant_id: str) -> None:
    """The schedules after the last event: the rollup until nothing is pending, then the hourly
    judgement and the alert deliveries it owes (a run a fault ended is run again, as next time)."""
    from apimeter.logic import alerts, budgets, rollup

    for _ in range(20):
        if _scheduled_rollup(rollup, report) and not _pending(stack):
            break
    for _ in range(20):
        try:
            budgets.evaluate(tenant_id)
            if not alerts.flush().undelivered:
                break
        except Exception:
            report.retries["hourly judgement"] += 1


def _scheduled_rollup(rollup: Any, report: Report) -> bool:
    now_ms = int(time.time() * 1000)
    try:
        rollup.run(now_ms)
    except Exception:
        report.retries["rollup runs"] += 1  # a fault ended it; the next run takes what is still pending
        return False
    report.finalized_at = now_ms
    return True


def _pending(stack: Stack) -> int:
    return sum(1 for item in stack.items("RollupsTable") if str(item["pk"]).startswith("PENDING#"))


def _setup(stack: Stack, count: int) -> tuple[str, str, str, str]:
    owner = {"email": "soak@example.com", "password": token_urlsafe(16), "organization": "Soak"}
    status, _, session = stack.call("POST", "/v1/auth/register", owner)
    assert status == 201, session
    token, tenant_id = session["access_token"], session["tenant"]["id"]
    limits = {"distinct_endpoints": 100_000, "distinct_consumers": 100_000, "key_per_minute": 10**9,
              "key_per_hour": 10**9, "key_per_day": 10**9, "project_per_minute": 10**9,
              "project_per_hour": 10**9, "project_per_day": 10**9}  # fmt: skip
    stack.dynamodb.update_item(  # an operator's override: keep every endpoint and consumer apart
        TableName=stack.stack.physical_name("EntitiesTable"),
        Key={"pk": {"S": f"TENANT#{tenant_id}"}, "sk": {"S": "TENANT"}},
        UpdateExpression="SET limits = :limits",
        ExpressionAttributeValues={":limits": {"M": {k: {"N": str(v)} for k, v in limits.items()}}},
    )
    status, _, project = stack.call("POST", "/v1/projects", {"name": "soak"}, token=token)
    assert status == 201, project
    status, _, key = stack.call("POST", f"/v1/projects/{project['id']}/keys", {"name": "k", "scopes": ["track"]},
                                token=token)  # fmt: skip
    assert status == 201, key
    budget = {"name": "soak", "amount": int(count * BUDGET_SHARE), "period": "monthly", "metric": "requests",
              "timezone": "UTC", "thresholds": [{"percent": p} for p in THRESHOLDS],
              "channels": {"sns": True}}  # fmt: skip
    status, _, created = stack.call("POST", f"/v1/projects/{project['id']}/budgets", budget, token=token)
    assert status == 201, created
    return tenant_id, project["id"], key["key"], created["id"]


def _hour(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H", time.gmtime(ts / 1000))


def _check(stack: Stack, report: Report, project_id: str, acknowledged: dict[str, dict[str, Any]]) -> None:
    stored = {str(i["event_id"]): i for i in stack.items("EventsTable") if i["project_id"] == project_id}
    missing, extra = acknowledged.keys() - stored.keys(), stored.keys() - acknowledged.keys()
    report.mismatches += [f"accepted but not in the events table: {e}" for e in sorted(missing)[:10]]
    report.mismatches += [f"in the events table, never accepted: {e}" for e in sorted(extra)[:10]]
    expected: Counter[tuple[str, str, str]] = Counter()  # (granularity, dimension, sk)
    from apimeter.domain.windows import STEP_MS, Granularity, bucket_ms
    from apimeter.logic.rollup import GRACE_MS

    def finished(bucket: str, granularity: Granularity) -> bool:  # over, with its grace, at the last run
        return bucket_ms(bucket, granularity) + STEP_MS[granularity] + GRACE_MS <= report.finalized_at

    for item in stored.values():
        hour = _hour(int(item["ts"]))
        endpoint = f"{item['method']} {item['endpoint']}"
        spans: tuple[tuple[Granularity, str], ...] = (("hour", hour), ("day", hour[:10]))
        for granularity, bucket in spans:
            if not finished(bucket, granularity):
                continue  # a bucket is finalized once it is over, after a grace (see logic/rollup.py)
            expected[(granularity, "*", bucket)] += 1
            expected[(granularity, "e", f"{bucket}#{endpoint}")] += 1
            if item.get("consumer"):
                expected[(granularity, "c", f"{bucket}#{item['consumer']}")] += 1
    buckets = {(g, b[0]) for g, _, b in ((g, d, s.split("#")) for g, d, s in expected)}
    found = _rollups_of(stack, project_id, buckets)
    for where, count in sorted(expected.items()):
        got = found.get(where)
        if got is None or not got.get("final") or int(got.get("requests", 0)) != count:
            state = "missing" if got is None else f"{got.get('requests')} final={got.get('final', False)}"
            report.mismatches.append(f"{'/'.join(where)}: expected {count}, rollup {state}")
    ghosts = sorted(found.keys() - expected.keys())
    report.mismatches += [f"{'/'.join(w)}: a rollup with no event behind it" for w in ghosts]


def _rollups_of(stack: Stack, project_id: str, buckets: set[tuple[str, str]]) -> dict[tuple[str, str, str], Any]:
    """(granularity, dimension, sk) -> the rollup of each of ``buckets`` (granularity, bucket): the
    totals' items, and every endpoint and consumer as the API reads them (they are packed)."""
    from apimeter.dal import rollups
    from apimeter.domain.windows import Run

    found: dict[tuple[str, str, str], dict[str, Any]] = {}
    for item in stack.items("RollupsTable"):
        parts = str(item["pk"]).split("#")
        ours = len(parts) == 3 and parts[0] == project_id and parts[1] in ("hour", "day") and parts[2] == "*"
        if ours and (parts[1], str(item["sk"])) in buckets:
            found[(parts[1], parts[2], str(item["sk"]))] = item
    for granularity, bucket in sorted(buckets):
        run = Run("hour" if granularity == "hour" else "day", bucket, bucket, 1)
        for dimension in ("e", "c"):
            for item in rollups.read_runs(project_id, [run], dimension).items:
                found[(granularity, dimension, str(item["sk"]))] = item
    return found


def _check_alerts(stack: Stack, report: Report, tenant_id: str, budget_id: str, count: int, inbox: str) -> None:
    import boto3

    from apimeter.dal import entities

    rows = entities.alerts.list_alerts(tenant_id, budget_id, 100)
    fired = Counter((r.body["period"]["label"], r.body["threshold"]["percent"]) for r in rows)
    spent: Counter[str] = Counter(time.strftime("%Y-%m", time.gmtime(int(i["ts"]) / 1000))
                                  for i in stack.items("EventsTable"))  # fmt: skip
    amount = int(count * BUDGET_SHARE)
    crossed = {(month, p) for month, total in spent.items() for p in THRESHOLDS if total >= amount * p / 100}
    report.alerts = sum(fired.values())
    for alert, times in fired.items():
        if times != 1 or alert not in crossed:
            report.mismatches.append(f"alert {alert} fired {times} times; crossed: {alert in crossed}")
    report.mismatches += [f"alert {alert} never fired" for alert in sorted(crossed - fired.keys())]
    sqs = boto3.client("sqs")
    delivered: Counter[str] = Counter()
    while messages := sqs.receive_message(QueueUrl=inbox, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            body = json.loads(json.loads(message["Body"])["Message"])
            delivered[str(body.get("id"))] += 1
            sqs.delete_message(QueueUrl=inbox, ReceiptHandle=message["ReceiptHandle"])
    report.deliveries = sum(delivered.values())
    ids = {str(r.body["id"]) for r in rows}
    report.mismatches += [f"alert {a} was never delivered" for a in sorted(ids - delivered.keys())]
    report.retries["alert deliveries repeated (at least once, by id)"] = sum(v - 1 for v in delivered.values())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=1000, help="events per ingest request (the API takes 1,000)")
    parser.add_argument("--http-share", type=float, default=HTTP_SHARE, help="share of requests sent over HTTP")
    args = parser.parse_args(argv)
    import logging
    import warnings

    logging.basicConfig(level=logging.CRITICAL)
    warnings.filterwarnings("ignore")
    report = run(args.events, args.seed, args.batch, say=lambda line: print(line, flush=True),
                 http_share=args.http_share)  # fmt: skip
    print("\n".join(report.lines()))
    return 1 if report.mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
