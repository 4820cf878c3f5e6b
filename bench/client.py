"""The Python client's cost to the app: track() per call, middleware overhead, memory in an outage.

    python bench/client.py [--calls 200000] [--requests 20000] [--seconds 2] [--memory-calls 1000000]

1. ``track()`` per call on one core, median and p99 in microseconds, without and with a spool, while
   the client's own thread really sends to a local sink (another process answering 202).
2. Middleware overhead as a ratio: a minimal Starlette app and a minimal Flask app served in this
   process (uvicorn, and werkzeug's server) with and without the middleware, loaded over loopback
   HTTP by another process in alternating rounds of the same run; then the same apps called directly
   (no server, no HTTP), which shows the middleware's own microseconds against the bare framework.
   The client's thread sends every recorded call to the sink meanwhile, so its cost is counted too.
3. Resident memory growth after a million ``track()`` calls with the server unreachable, with a
   spool and without one, against the configured bounds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from apimeter_client import Client
from offline.stack import free_port

SINK = textwrap.dedent(
    """
    import json, sys
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Sink(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            answer = json.dumps({"accepted": body.count(b'"event_id"'), "duplicates": 0, "rejected": []}).encode()
            self.send_response(202)
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Sink).serve_forever()
    """
)
CALL = {"method": "GET", "endpoint": "/users/{id}", "path": "/users/42", "status": 200, "latency_ms": 12.5,
        "response_bytes": 1834, "consumer": "acme", "ip": "203.0.113.7", "user_agent": "bench/1.0"}  # fmt: skip


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def track_cost(client: Client, calls: int) -> tuple[float, float, float]:
    """Median, p99 and p99.9 of one track() call, in µs (timer overhead included, ~0.05 µs)."""
    clock = time.perf_counter_ns
    track = client.track
    samples = [0.0] * calls
    for i in range(calls):
        started = clock()
        track(**CALL)
        samples[i] = (clock() - started) / 1000
    return statistics.median(samples), percentile(samples, 0.99), percentile(samples, 0.999)


def bench_track(sink: str, calls: int) -> None:
    print(f"track() on one core, {calls:,} calls, the worker sending to a local sink meanwhile")
    print(f"  {'':<28} {'median':>8} {'p99':>8} {'p99.9':>8}")
    with tempfile.TemporaryDirectory() as spool:
        for label, options in (("without a spool", {}), ("with a spool (fsync never)", {"spool_dir": spool})):
            client = Client("amk_bench", sink, max_queue=calls + 10_000, **options)  # type: ignore[arg-type]
            track_cost(client, 5000)  # warm up
            median, p99, p999 = track_cost(client, calls)
            client.close(timeout=120)
            stats = client.stats
            assert stats.dropped == 0, stats
            print(f"  {label:<28} {median:>6.2f}µs {p99:>6.2f}µs {p999:>6.1f}µs   (sent {stats.sent:,})")


def starlette_apps(client: Client) -> tuple[Any, Any]:
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from apimeter_client.asgi import ApimeterMiddleware

    async def hello(request: Any) -> PlainTextResponse:
        return PlainTextResponse(f"hello {request.path_params['name']}")

    plain = Starlette(routes=[Route("/hello/{name}", hello)])
    metered = Starlette(routes=[Route("/hello/{name}", hello)])
    metered.add_middleware(ApimeterMiddleware, client=client)
    return plain, metered


def flask_apps(client: Client) -> tuple[Any, Any]:
    import flask

    from apimeter_client.flask import Apimeter

    def make(metered: bool) -> Any:
        app = flask.Flask("bench")
        app.add_url_rule("/hello/<name>", "hello", lambda name: f"hello {name}")
        if metered:
            Apimeter(app, client=client)
        return app

    return make(False), make(True)


def starlette_pair(client: Client) -> tuple[Callable[[int], Any], Callable[[int], Any]]:
    plain, metered = starlette_apps(client)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": "/hello/world", "raw_path": b"/hello/world", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"bench"), (b"user-agent", b"bench/1.0")], "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 8000)}  # fmt: skip
    loop = asyncio.new_event_loop()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        return None

    def runner(app: Any) -> Callable[[int], Any]:
        async def many(n: int) -> None:
            for _ in range(n):
                await app(dict(scope), receive, send)

        return lambda n: loop.run_until_complete(many(n))

    return runner(plain), runner(metered)


def flask_pair(client: Client) -> tuple[Callable[[int], Any], Callable[[int], Any]]:
    from werkzeug.test import EnvironBuilder

    plain, metered = flask_apps(client)
    environ = EnvironBuilder(path="/hello/world", headers=[("User-Agent", "bench/1.0")]).get_environ()

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        return None

    def runner(app: Any) -> Callable[[int], Any]:
        def many(n: int) -> None:
            for _ in range(n):
                body = app(dict(environ), start_response)
                for _chunk in body:
                    pass
                body.close()

        return many

    return runner(plain), runner(metered)


def overhead(plain: Callable[[int], Any], metered: Callable[[int], Any], requests: int) -> tuple[float, float, float]:
    """Per-request µs without and with the middleware, median of alternating rounds, and their ratio."""
    plain(500)
    metered(500)
    rounds, per_round = 10, max(requests // 10, 100)
    without: list[float] = []
    with_: list[float] = []
    for _ in range(rounds):
        for run, into in ((plain, without), (metered, with_)):
            started = time.perf_counter()
            run(per_round)
            into.append((time.perf_counter() - started) / per_round * 1e6)
    base, metered_us = statistics.median(without), statistics.median(with_)
    return base, metered_us, metered_us / base - 1


LOAD = textwrap.dedent(
    """
    import http.client, sys, threading, time
    port, seconds, connections = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
    done = [0] * connections
    stop = time.monotonic() + seconds

    def hammer(i):
        connection = http.client.HTTPConnection("127.0.0.1", port)
        while time.monotonic() < stop:
            connection.request("GET", f"/hello/u{i}", headers={"User-Agent": "bench/1.0"})
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
            done[i] += 1

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(connections)]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(sum(done))
    """
)


def serve_asgi(app: Any) -> int:
    import threading

    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return port


def serve_wsgi(app: Any) -> int:
    import threading

    from werkzeug.serving import WSGIRequestHandler, make_server

    class KeepAlive(WSGIRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_request(self, *args: Any) -> None:
            pass

    port = free_port()
    server = make_server("127.0.0.1", port, app, request_handler=KeepAlive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return port


def served_overhead(plain_port: int, metered_port: int, seconds: float, rounds: int) -> tuple[float, float, float]:
    """CPU time of this process per request without and with the middleware (median of alternating
    rounds, in µs), and the overhead. CPU time, not requests/s: it counts the client's own thread too,
    and another load on the machine does not move it."""

    def load(port: int) -> float:
        cpu = time.process_time()
        out = subprocess.run(
            [sys.executable, "-c", LOAD, str(port), str(seconds), "4"], capture_output=True, text=True, check=True
        )
        requests = float(out.stdout)
        return (time.process_time() - cpu) / requests * 1e6

    load(plain_port), load(metered_port)  # warm up
    without, with_ = [], []
    for _ in range(rounds):
        without.append(load(plain_port))
        with_.append(load(metered_port))
    base, metered = statistics.median(without), statistics.median(with_)
    return base, metered, metered / base - 1


def bench_middleware(sink: str, requests: int, seconds: float, rounds: int) -> None:
    client = Client("amk_bench", sink, max_queue=1_000_000)
    print(
        f"middleware overhead, served in this process, loaded over loopback HTTP by another process "
        f"({rounds} alternating rounds of {seconds:g} s; CPU time of this process per request)"
    )
    for name, apps, serve in (("Starlette", starlette_apps, serve_asgi), ("Flask", flask_apps, serve_wsgi)):
        plain, metered = apps(client)
        base, with_, ratio = served_overhead(serve(plain), serve(metered), seconds, rounds)
        print(f"  {name:<10} {base:>6.1f} µs without, {with_:>6.1f} µs with: +{with_ - base:.1f} µs (+{ratio:.1%})")
    print(f"middleware overhead, the app called directly (no server), {requests:,} requests each way")
    for name, pair in (("Starlette", starlette_pair), ("Flask", flask_pair)):
        base, metered, ratio = overhead(*pair(client), requests)
        print(f"  {name:<10} {base:>6.1f} µs without, {metered:>6.1f} µs with: +{metered - base:.1f} µs (+{ratio:.0%})")
    client.close(timeout=120)
    assert client.stats.dropped == 0, client.stats


def rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def memory_case(case: str, calls: int) -> None:
    """One case of the memory benchmark, alone in its process so that no earlier case's freed memory
    hides this one's growth. Prints RSS growth (MiB), spool MiB on disk, queued, dropped, calls/s."""
    unreachable = f"http://127.0.0.1:{free_port()}"
    with tempfile.TemporaryDirectory() as spool:
        options: dict[str, Any] = {"spool_dir": spool, "spool_max_bytes": 64 << 20} if case == "spool" else {}
        before = rss_kib()
        client = Client("amk_bench", unreachable, **options)
        started = time.perf_counter()
        for _ in range(calls):
            client.track(**CALL)
        elapsed = time.perf_counter() - started
        grown = (rss_kib() - before) / 1024
        on_disk = sum(p.stat().st_size for p in Path(spool).glob("*.spool")) / (1 << 20)
        stats = client.stats
        client.close(timeout=0.1)
    print(grown, on_disk, stats.queued, stats.dropped, calls / elapsed)


def bench_memory(calls: int) -> None:
    print(f"memory after {calls:,} track() calls with the server unreachable (each case in a fresh process)")
    for case, label in (("spool", "spool, bound 64 MiB"), ("memory", "memory, max_queue 10,000")):
        out = subprocess.run(
            [sys.executable, __file__, "--memory-case", case, "--memory-calls", str(calls)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        grown, on_disk, queued, dropped, rate = (float(v) for v in out.stdout.split())
        disk = f", spool {on_disk:.1f} MiB on disk" if case == "spool" else ""
        print(
            f"  {label:<26} RSS +{grown:.1f} MiB{disk}; queued {queued:,.0f}, dropped {dropped:,.0f}"
            f" ({rate:,.0f} calls/s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=2.0, help="length of each served round")
    parser.add_argument("--rounds", type=int, default=7, help="served rounds each way")
    parser.add_argument("--memory-calls", type=int, default=1_000_000)
    parser.add_argument("--memory-case", choices=("spool", "memory"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_case:
        memory_case(args.memory_case, args.memory_calls)
        return
    port = free_port()
    sink = subprocess.Popen([sys.executable, "-c", SINK, str(port)])
    try:
        url = f"http://127.0.0.1:{port}"
        time.sleep(0.5)
        print(f"Python {sys.version.split()[0]}, pid {os.getpid()}")
        bench_track(url, args.calls)
        bench_middleware(url, args.requests, args.seconds, args.rounds)
        bench_memory(args.memory_calls)
    finally:
        sink.terminate()
        sink.wait()


if __name__ == "__main__":
    main()
