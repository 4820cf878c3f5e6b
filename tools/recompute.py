"""Backfill for operators: recompute a project's rollups over a range from raw events, now.

    python -m tools.recompute --project prj_... --from 2026-11-20T00:00:00Z --to 2026-11-21T00:00:00Z

Against the running offline stack by default (its endpoints are in .offline/endpoints.json); against
AWS with ``--aws --events-table ... --rollups-table ...`` and the usual AWS credentials. Idempotent:
running it twice writes the same figures (with a new run id).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.recompute", description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--from", dest="start", required=True, help="ISO 8601 or epoch ms")
    parser.add_argument("--to", dest="end", required=True, help="ISO 8601 or epoch ms (exclusive)")
    parser.add_argument("--aws", action="store_true", help="use AWS, not the offline stack")
    parser.add_argument("--events-table", help="with --aws: the stack's EventsTableName output")
    parser.add_argument("--rollups-table", help="with --aws: the stack's RollupsTableName output")
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".offline")
    args = parser.parse_args(argv)

    if args.aws:
        if not (args.events_table and args.rollups_table):
            parser.error("--aws needs --events-table and --rollups-table")
        os.environ.update({"EVENTS_TABLE": args.events_table, "ROLLUPS_TABLE": args.rollups_table})
    else:
        endpoints = args.state_dir / "endpoints.json"
        if not endpoints.exists():
            parser.error(f"no running offline stack found ({endpoints} is missing): start it with make dev")
        os.environ.update(json.loads(endpoints.read_text()))

    from apimeter.domain.windows import parse_instant
    from apimeter.logic import rollup

    start, end = parse_instant(args.start, "from"), parse_instant(args.end, "to")
    if start is None or end is None or end <= start:
        parser.error("--from and --to must be instants, --to after --from")
    hours = rollup.request_recompute(args.project, start, end)
    report = rollup.run()
    print(json.dumps({"hours_marked": hours, "run": report.run, "hours": report.hours, "days": report.days,
                      "events": report.events, "deferred": report.deferred}))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
