"""Hot partitions: the busiest events-table partition when one project sends 100,000 events a second.

    python bench/partitions.py [--rate 100000] [--seconds 5]

Keys are made by the ingest path's own functions (``dal/events.shard_of`` under the count
``domain/shards.py`` gives each event's timestamp; random event ids, timestamps spread evenly), for
the default count and for the schedule the project grows to when charged at that rate. Each
partition's writes are counted per second; a partition takes about 1,000 writes a second. Prints the
busiest partition and the mean, per second, for both.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "layers" / "apimeter"), str(ROOT)]

from apimeter.dal.events import shard_of  # noqa: E402
from apimeter.domain.shards import Schedule, grown, shards_at  # noqa: E402
from apimeter.settings import Settings  # noqa: E402

PARTITION_WRITES = 1_000  # per second


def busiest(rate: int, seconds: int, schedule: Schedule, default: int, start_ms: int) -> tuple[int, float, int]:
    """(busiest partition-second's writes, mean over partition-seconds written, shards)."""
    load: Counter[tuple[int, str]] = Counter()
    for n in range(rate * seconds):
        ts = start_ms + n * 1000 // rate
        shards = shards_at(schedule, ts, default)
        load[(ts // 1000, f"p#2026-11-30#{shard_of(uuid.uuid4().hex, shards)}")] += 1
    return max(load.values()), sum(load.values()) / len(load), shards_at(schedule, start_ms, default)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=int, default=100_000)
    parser.add_argument("--seconds", type=int, default=5)
    args = parser.parse_args()
    default = Settings().event_shards
    now = 1_796_000_000_000
    step = grown((), default, float(args.rate), now, 0)
    grown_from = step.since_ms if step else now  # the rate, once the step is in force
    for label, schedule, start in (("the default count", (), now),
                                   ("its grown schedule", (step,) if step else (), grown_from)):  # fmt: skip
        top, mean, shards = busiest(args.rate, args.seconds, schedule, default, start)
        print(f"events table, one project at {args.rate:,} events/s, {label} ({shards} shards): busiest partition "
              f"{top:,} writes/s, mean {mean:,.0f} (a partition takes {PARTITION_WRITES:,})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
