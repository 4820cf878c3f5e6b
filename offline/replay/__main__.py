"""``python -m offline.replay`` (``make demo``): replay real traffic into the running offline stack's
demo project through the Python client, then have the pipeline judge it and forecast it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from offline.replay.flow import Options, ReplayError, replay
from offline.replay.sources import Prices


def parse(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m offline.replay", description=__doc__)
    parser.add_argument("--url", default="http://127.0.0.1:3000", help="the running offline stack")
    parser.add_argument(
        "--data", type=Path, default=Options.data, help="the shared data folder (default ../shared/data)"
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=Options.state_dir,
        help="the stack's state directory: demo.json, endpoints.json; replay.json is kept there",
    )
    parser.add_argument(
        "--stretch",
        type=float,
        default=Options.stretch,
        help="hours of replay per hour of the access log (it samples one minute an hour)",
    )
    parser.add_argument("--llm-every", type=int, default=Options.llm_every, help="send one LLM call in this many")
    parser.add_argument("--price-context", type=float, default=Prices().context, help="USD per million context tokens")
    parser.add_argument(
        "--price-generated", type=float, default=Prices().generated, help="USD per million generated tokens"
    )
    parser.add_argument("--limit", type=int, help="only the last N calls of each source (a quick replay)")
    parser.add_argument(
        "--batch-size", type=int, default=Options.batch_size, help="events per request (the client's batch_size)"
    )
    parser.add_argument(
        "--round-size",
        type=int,
        default=Options.round_size,
        help="events sent, then counted and finalized by the stack, before the next round",
    )
    parser.add_argument(
        "--judge-hours", type=int, default=Options.judge_hours, help="at most this many pipeline runs (0: none)"
    )
    args = parser.parse_args(argv)
    if min(args.stretch, args.llm_every, args.round_size, args.batch_size) < 1 or (args.limit or 1) < 1:
        parser.error("--stretch, --llm-every, --limit, --round-size and --batch-size must be at least 1")
    if args.batch_size > 1000:
        parser.error("--batch-size is at most 1000 (the API's batch limit)")
    return Options(
        url=args.url,
        data=args.data,
        state_dir=args.state_dir,
        stretch=args.stretch,
        llm_every=args.llm_every,
        prices=Prices(args.price_context, args.price_generated),
        limit=args.limit,
        batch_size=args.batch_size,
        round_size=args.round_size,
        judge_hours=args.judge_hours,
    )


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    try:
        report = replay(options)
    except ReplayError as error:
        print(f"make demo: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\ninterrupted: run it again to send the rest (what was sent is counted once)", file=sys.stderr)
        return 130
    return 0 if report.counted - report.baseline >= report.sent.accepted else 1


if __name__ == "__main__":
    sys.exit(main())
