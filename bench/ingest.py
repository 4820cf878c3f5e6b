"""Ingest domain path benchmark: parse + validate + normalize + key + serialize, no network.

Builds batches of 1,000 realistic events from the Apache access log in ../shared/data (elastic/examples,
Apache-2.0), as a client would send them, and times what the ingest function does to a request body
before the first DynamoDB call. Prints events/s on one core and microseconds per event.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from apimeter.dal.events import to_item
from apimeter.domain.events import IngestPolicy, parse_body, screen

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT.parent / "shared" / "data" / "access-logs" / "apache_combined_2015.log"
LINE = re.compile(r'^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+) [^"]*" (\d{3}) (\d+|-) "[^"]*" "([^"]*)"')
BATCH = 1000
ROUNDS = 7


def bodies() -> list[bytes]:
    rng = random.Random(42)
    events: list[dict[str, Any]] = []
    for line in LOG.read_text().splitlines():
        found = LINE.match(line)
        if not found:
            continue
        ip, when, method, path, status, size, agent = found.groups()
        ts = datetime.strptime(when, "%d/%b/%Y:%H:%M:%S %z")
        events.append(
            {
                "event_id": f"req-{len(events)}",
                "timestamp": ts.isoformat(),
                "method": method,
                "path": path,
                "status": int(status),
                "latency_ms": round(rng.lognormvariate(3.2, 0.9), 2),
                "request_bytes": rng.randint(0, 2048),
                "response_bytes": 0 if size == "-" else int(size),
                "consumer": ip,
                "ip": ip,
                "user_agent": agent[:512],
            }
        )
    return [json.dumps({"events": events[i : i + BATCH]}).encode() for i in range(0, len(events), BATCH)]


def main() -> int:
    if not LOG.exists():
        print(f"missing {LOG}", file=sys.stderr)
        return 1
    batches = bodies()
    total = sum(len(json.loads(b)["events"]) for b in batches)
    # The log is from 2015: the policy's retention reaches back far enough to accept all of it.
    policy = IngestPolicy(retention_days=20_000, max_future_skew_seconds=900)
    now_ms = int(time.time() * 1000)
    timings = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        for body in batches:
            items, _ = parse_body(body)
            screened = screen("prj_bench", items, policy, now_ms)
            for _, event in screened.unique:
                to_item(event, retention_days=30, shards=8, received_ms=now_ms)
        timings.append(time.perf_counter() - started)
        assert len(screened.rejected) == 0, screened.rejected[:3]
    best, median = min(timings), statistics.median(timings)
    print(f"ingest domain path: {total} events in batches of {BATCH}, {ROUNDS} rounds, one core")
    print(f"  best   {total / best:>10,.0f} events/s   {best / total * 1e6:6.1f} us/event")
    print(f"  median {total / median:>10,.0f} events/s   {median / total * 1e6:6.1f} us/event")
    print("  target 100,000 events/s per core")
    return 0


if __name__ == "__main__":
    sys.exit(main())
