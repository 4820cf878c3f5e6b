"""``python -m offline``: the whole apimeter stack on 127.0.0.1, until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from types import FrameType

from offline import demo
from offline.faults import Faults
from offline.stack import OfflineStack, Options

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m offline", description=__doc__)
    parser.add_argument("--port", type=int, default=3000)
    parser.add_argument("--state-dir", type=Path, default=ROOT / ".offline", help="where data survives restarts")
    parser.add_argument("--no-demo", action="store_true", help="do not create the demo organization")
    parser.add_argument("--ttl-every", type=float, default=30.0, help="seconds between TTL sweeps")
    parser.add_argument(
        "--parameter", action="append", default=[], metavar="NAME=VALUE", help="template parameter override"
    )
    parser.add_argument(
        "--faults",
        metavar="SPEC",
        help="inject AWS faults (offline/faults.py), e.g. all=0.02,seed=7 or throttle=0.05,redeliver=0.02",
    )
    args = parser.parse_args(argv)
    # Metrics are disabled offline; Powertools still warns when a handler emitted none.
    warnings.filterwarnings("ignore", message="No application metrics to publish")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    overrides = dict(p.split("=", 1) for p in args.parameter)
    options = Options(
        root=ROOT,
        port=args.port,
        state_dir=args.state_dir,
        parameters=overrides,
        create_demo=not args.no_demo,
        ttl_every_seconds=args.ttl_every,
        faults=Faults.parse(args.faults) if args.faults else None,
    )
    stack = OfflineStack(options)
    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    try:
        stack.start()
    except Exception as exc:
        hint = f" (is port {args.port} in use? try PORT=...)" if isinstance(exc, OSError) else ""
        print(f"offline stack could not start: {exc}{hint}", file=sys.stderr)
        stack.stop(save=False)
        return 1
    print(f"apimeter offline stack ready in {time.monotonic() - started:.1f} s", flush=True)
    signin = "   (sign in with the demo login below)" if stack.demo else ""
    print(f"  dashboard    {stack.base_url}/{signin}", flush=True)
    print(f"  API          {stack.base_url}   (try {stack.base_url}/health, /ready)", flush=True)
    print(f"  docs         {stack.base_url}/docs   (documents: /openapi.json, /asyncapi.json)", flush=True)
    if stack.live_url:
        print(f'  live         {stack.live_url}?token=<access token>   (WebSocket; README: "Live figures")', flush=True)
    print(f"  moto (AWS)   {stack.moto_url}   (aws --endpoint-url {stack.moto_url} dynamodb list-tables)", flush=True)
    print(f"  data         {options.state_dir}   (make dev-reset wipes it)", flush=True)
    now = {"RollupFunction": "make rollup", "HourlyPipeline": "make pipeline"}
    for schedule in stack.stack.schedules:
        hint = f"   ({now[schedule.function]} runs it now)" if schedule.function in now else ""
        when = f"every {schedule.expression[5:-1]}" if schedule.expression.startswith("rate(") else schedule.expression
        print(f"  schedule     {schedule.function} {when}{hint}", flush=True)
    topic, bus = stack.stack.arn("AlertsTopic"), stack.stack.physical_name("AlertsBus")
    print(f"  alerts       SNS {topic}, EventBridge bus {bus}", flush=True)
    if stack.demo:
        print(demo.usage(stack.base_url, stack.demo, stack.live_url), flush=True)
        if demo.is_empty(stack.base_url, stack.demo):
            print(demo.fill_hint(stack.base_url), flush=True)
    print("  Ctrl-C stops it.", flush=True)
    while not stopping.wait(1):  # wakes each second, so a signal's handler is never left waiting
        pass
    print("stopping...", flush=True)
    stack.stop()
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
