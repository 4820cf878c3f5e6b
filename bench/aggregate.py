"""Stream aggregation benchmark: DynamoDB stream records in, rollup UpdateItem requests out, no network.

A batch of 1,000 INSERT records (Lambda's format, NEW_IMAGE) over 100 endpoints, built from the
Apache access log in ../shared/data (elastic/examples, Apache-2.0: its methods, statuses, sizes,
agents, and client IPs as consumers) with seeded latencies, goes through what the aggregate
function does before its first DynamoDB call: decode each image (dal/streams.py, dal/events.py), sum the deltas
per bucket, build the update requests. A stream batch holds what was written in the last moments, so the batch's
timestamps are spread over one minute (the log's own spread hours apart one line to the next).
Prints records/s on one core and rollup writes per event (totals, endpoints and consumers).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import time

from ingest import LINE, LOG  # the same access-log reader as the ingest benchmark (bench/ is on sys.path)

from apimeter.dal import events as events_table
from apimeter.dal import rollups, streams
from apimeter.domain.events import IngestPolicy, screen
from apimeter.domain.rollups import deltas
from tools.cost.capacity import item_size, write_units

BATCH = 1000
ENDPOINTS = 100
ROUNDS = 7


def records() -> list[dict[str, object]]:
    rng = random.Random(7)
    start = (int(time.time()) // 60 - 5) * 60_000 + 30_000  # from the middle of a recent minute
    raw: list[dict[str, object]] = []
    for line in LOG.read_text().splitlines()[:BATCH]:
        found = LINE.match(line)
        if not found:
            continue
        ip, _, method, _, status, size, agent = found.groups()
        raw.append(
            {
                "event_id": f"e{len(raw)}",
                "timestamp": start + len(raw) * 60,  # 1,000 events over one minute
                "method": method,
                "endpoint": f"/api/resource{len(raw) % ENDPOINTS}/{{id}}",
                "status": int(status),
                "latency_ms": round(rng.lognormvariate(3.2, 0.9), 2),
                "response_bytes": 0 if size == "-" else int(size),
                "consumer": ip,
                "user_agent": agent[:512],
            }
        )
    policy = IngestPolicy(retention_days=20_000, max_future_skew_seconds=900)
    screened = screen("prj_bench", raw, policy, int(time.time() * 1000))
    return [
        {
            "eventName": "INSERT",
            "dynamodb": {
                "NewImage": events_table.to_item(e, retention_days=30, shards=8, received_ms=0),
                "SequenceNumber": str(i),
            },
        }
        for i, (_, e) in enumerate(screened.unique)
    ]


def main() -> int:
    if not LOG.exists():
        print(f"missing {LOG}", file=sys.stderr)
        return 1
    os.environ.setdefault("ROLLUPS_TABLE", "bench-rollups")
    batch = records()
    timings, writes = [], 0
    for _ in range(ROUNDS):
        started = time.perf_counter()
        parsed = [events_table.from_image(streams.inserted(r) or {}) for r in batch]
        found = deltas(parsed, dimensions_at=("minute",))
        added = rollups.updates(found, minute_expires_at=0)
        put = rollups.slices(found, batch="bench", minute_expires_at=0)
        writes = len(added) + len(put) + len({(e.project_id, e.ts_ms // 3_600_000) for e in parsed})
        timings.append(time.perf_counter() - started)
    best, median = min(timings), statistics.median(timings)
    print(f"stream aggregation: a batch of {len(batch)} records over {ENDPOINTS} endpoints, {ROUNDS} rounds, one core")
    print(f"  best   {len(batch) / best:>10,.0f} records/s   {best / len(batch) * 1e6:6.1f} us/record")
    print(f"  median {len(batch) / median:>10,.0f} records/s")
    consumers = len({e.consumer for e in parsed})
    size = sum(write_units(item_size(p["Item"])) for p in put)
    print(f"  rollup writes: {writes} requests for {len(batch)} events = {writes / len(batch):.3f} per event "
          f"({ENDPOINTS} endpoints, {consumers} consumers); the slices of endpoints and consumers are "
          f"{size} WRU = {size / len(batch):.3f} per event")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
