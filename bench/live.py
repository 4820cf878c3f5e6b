"""Live figures on the offline stack: from a ``POST /v1/events`` answer to the ``minute`` message.

    python bench/live.py [--posts 100] [--sockets 200] [--rounds 10] [--gap S] [--parameter NAME=VALUE]

Starts ``python -m offline`` on a free loopback port with a throwaway state directory, registers an
organization, a project and a key, then:

1. Latency: one socket subscribed to the project; ``--posts`` posts of one event each, one at a
   time. For each, the clock starts when the 202 answer has arrived and stops when the first
   ``minute`` message whose count includes that event arrives. Each post waits for the previous
   post's message, so no post shares a push with another (pushes are coalesced to one per project
   per second; see apimeter/domain/live.py).
2. Fan-out: ``--sockets`` sockets (one connection each) subscribed to the same project; ``--rounds``
   posts, each timed from its answer to the first and to the last socket that receives the figure
   carrying it; a socket that has not received it within the round's timeout counts as a miss.

The stack runs in another process on the same cores as this one; the figures are as measured here.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from apimeter.domain.live import PUSH_SPACING_MS
from offline.process import OfflineProcess
from offline.streams import POLL_SECONDS
from offline.template import read_stack

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 180.0  # a cold start of moto and every function on a loaded 2-core machine
STOP_TIMEOUT = 20.0  # it stops in ~3 s; a throwaway state needs no long save
ROUND_TIMEOUT = 15.0  # a figure not pushed by then is a miss, not a hang
MISSES_IN_A_ROW = 3  # the live path is broken, not slow: stop rather than wait out every round
CONNECTS_AT_ONCE = 8  # each connect runs the authorizer and $connect in the stack: do not flood it
# The stream's batching window (template.yaml, MaximumBatchingWindowInSeconds) and the gap after each
# figure together keep a post from finding the previous push's slot less than a second old (it would
# wait for the next slot: that is coalescing, not latency). A random part of the gap spreads the
# posts over the stream pump's polling cycle rather than locking onto one phase of it.
GAP_JITTER = 0.1


class Stack(OfflineProcess):
    """``python -m offline`` as a subprocess, with a throwaway state: killed, not waited for, if it
    does not stop."""

    def __init__(self, state_dir: Path, parameters: list[str]) -> None:
        super().__init__(state_dir, ["--no-demo", *(f"--parameter={p}" for p in parameters)])
        self.base = f"http://127.0.0.1:{self.port}"
        self.live = f"ws://127.0.0.1:{self.port}/ws"

    def stop(self) -> str:
        """How it ended."""
        if self.process is None or self.process.poll() is not None:
            return "already ended"
        for attempt in ("stopped", "stopped on a second SIGTERM"):
            if self.terminate(STOP_TIMEOUT):
                return attempt
        self.process.kill()
        self.process.wait()
        return f"killed: no stop within {STOP_TIMEOUT:.0f} s of each of two SIGTERMs"

    def call(self, method: str, path: str, body: Any = None, **headers: str) -> tuple[int, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base + path, method=method, data=data)
        request.add_header("content-type", "application/json")
        for name, value in headers.items():
            request.add_header(name.replace("_", "-"), value)
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")


def expect(answer: tuple[int, Any], status: int, what: str) -> Any:
    if answer[0] != status:
        raise RuntimeError(f"{what}: HTTP {answer[0]} {answer[1]}")
    return answer[1]


@dataclass
class Round:
    """One post: the figure that carries it is (minute, requests >= count)."""

    minute: int
    count: int
    answered: float = 0.0  # perf_counter when the 202 arrived
    arrivals: dict[int, float] = field(default_factory=dict)  # socket index -> perf_counter at arrival
    everyone: asyncio.Event = field(default_factory=asyncio.Event)


class Watchers:
    """Sockets subscribed to one project, each read by its own task, arrivals stamped on receipt."""

    def __init__(self, url: str, project_id: str) -> None:
        self.url = url
        self.project_id = project_id
        self.sockets: list[ClientConnection] = []
        self.readers: list[asyncio.Task[None]] = []
        self.current: Round | None = None
        self.messages = 0
        self.unexpected: list[str] = []

    async def open(self, count: int) -> float:
        started = time.perf_counter()
        gate = asyncio.Semaphore(CONNECTS_AT_ONCE)

        async def one() -> ClientConnection:
            async with gate:
                socket = await connect(self.url, open_timeout=60, max_queue=None)
                await socket.send(json.dumps({"action": "subscribe", "project_id": self.project_id}))
                answer = json.loads(await asyncio.wait_for(socket.recv(), 60))
                if answer.get("type") != "subscribed":
                    raise RuntimeError(f"subscribe refused: {answer}")
                return socket

        self.sockets = list(await asyncio.gather(*(one() for _ in range(count))))
        self.readers = [asyncio.create_task(self._read(i, s)) for i, s in enumerate(self.sockets)]
        return time.perf_counter() - started

    async def _read(self, index: int, socket: ClientConnection) -> None:
        with contextlib.suppress(Exception):
            async for raw in socket:
                arrived = time.perf_counter()
                self.messages += 1
                message = json.loads(raw)
                if message.get("type") != "minute":
                    self.unexpected.append(str(raw)[:200])
                    continue
                wanted = self.current
                if wanted is None or index in wanted.arrivals:
                    continue
                if minute_of(message["minute"]) == wanted.minute and message["requests"] >= wanted.count:
                    wanted.arrivals[index] = arrived
                    if len(wanted.arrivals) == len(self.sockets):
                        wanted.everyone.set()

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*(s.close() for s in self.sockets), return_exceptions=True)
        await asyncio.gather(*self.readers, return_exceptions=True)


def minute_of(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()) // 60


class Poster:
    """One event per post, its timestamp set here so its minute is known; counts per minute."""

    def __init__(self, stack: Stack, key: str) -> None:
        self.stack = stack
        self.key = key
        self.counts: dict[int, int] = {}

    async def measure(self, watchers: Watchers) -> Round:
        now_ms = int(time.time() * 1000)
        minute = now_ms // 60_000
        count = self.counts.get(minute, 0) + 1
        round_ = Round(minute, count)
        watchers.current = round_  # before the post: an early arrival is still seen
        await asyncio.to_thread(self.post, round_, now_ms)
        self.counts[minute] = count
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(round_.everyone.wait(), ROUND_TIMEOUT)
        watchers.current = None
        return round_

    def post(self, round_: Round, event_ms: int) -> None:
        event = {"method": "GET", "endpoint": "/bench", "status": 200, "latency_ms": 12, "timestamp": event_ms}
        answer = self.stack.call("POST", "/v1/events", {"events": [event]}, x_api_key=self.key)
        round_.answered = time.perf_counter()
        if answer[0] != 202 or answer[1].get("accepted") != 1:
            raise RuntimeError(f"event not accepted: HTTP {answer[0]} {answer[1]}")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.0f}"


async def latency(stack: Stack, poster: Poster, token: str, project_id: str, posts: int, gap: float) -> list[float]:
    watchers = Watchers(f"{stack.live}?token={token}", project_id)
    await watchers.open(1)
    samples: list[float] = []
    missed = in_a_row = 0
    try:
        for _ in range(posts):
            done = await poster.measure(watchers)
            if 0 in done.arrivals:
                samples.append(done.arrivals[0] - done.answered)
                in_a_row = 0
            else:
                missed += 1
                in_a_row += 1
                if in_a_row == MISSES_IN_A_ROW:
                    break
            await asyncio.sleep(gap + random.uniform(0, GAP_JITTER))
    finally:
        await watchers.close()
    report_unexpected(watchers)
    print(f"\nlatency: one socket, {posts} posts of one event, one at a time (gap {gap:.2f}-{gap + GAP_JITTER:.2f} s)")
    if samples:
        print(f"  {'measured':>8} {'missed':>6} {'min':>7} {'median':>7} {'p95':>7} {'max':>7}   ms")
        print(f"  {len(samples):>8} {missed:>6} {ms(min(samples))} {ms(statistics.median(samples))}"
              f" {ms(percentile(samples, 0.95))} {ms(max(samples))}")  # fmt: skip
    else:
        print(f"  no figure arrived within {ROUND_TIMEOUT:.0f} s of any post")
    return samples


async def fan_out(
    stack: Stack, poster: Poster, token: str, project_id: str, sockets: int, rounds: int
) -> tuple[list[float], list[float], int]:
    watchers = Watchers(f"{stack.live}?token={token}", project_id)
    opened = await watchers.open(sockets)
    print(f"\nfan-out: {sockets} sockets on one project (opened and subscribed in {opened:.1f} s), {rounds} posts")
    print(f"  {'round':>5} {'received':>8} {'first':>7} {'median':>7} {'last':>7}   ms")
    firsts: list[float] = []
    lasts: list[float] = []
    missed = in_a_row = 0
    try:
        for number in range(1, rounds + 1):
            done = await poster.measure(watchers)
            times = sorted(t - done.answered for t in done.arrivals.values())
            missed += sockets - len(times)
            if times:
                firsts.append(times[0])
                lasts.append(times[-1])
                print(f"  {number:>5} {len(times):>8} {ms(times[0])} {ms(statistics.median(times))} {ms(times[-1])}")
                in_a_row = 0
            else:
                print(f"  {number:>5} {0:>8}       -       -       -")
                in_a_row += 1
                if in_a_row == MISSES_IN_A_ROW:
                    break
            await asyncio.sleep(random.uniform(0, GAP_JITTER))
    finally:
        await watchers.close()
    report_unexpected(watchers)
    return firsts, lasts, missed


def report_unexpected(watchers: Watchers) -> None:
    if watchers.unexpected:
        print(f"  other messages: {len(watchers.unexpected)}, e.g. {watchers.unexpected[0]}")


def setup(stack: Stack) -> tuple[str, str, str]:
    """A user's access token, a project and a key (track, read) of it."""
    email = f"bench-{os.getpid()}@example.com"
    user = {"email": email, "password": "correct horse battery", "organization": "Live bench"}
    token = expect(stack.call("POST", "/v1/auth/register", user), 201, "register")["access_token"]
    bearer = {"authorization": f"Bearer {token}"}
    project = expect(stack.call("POST", "/v1/projects", {"name": "live-bench"}, **bearer), 201, "project")["id"]
    key_body = {"name": "k", "scopes": ["track", "read"]}
    key = expect(stack.call("POST", f"/v1/projects/{project}/keys", key_body, **bearer), 201, "key")["key"]
    return token, project, key


async def run(stack: Stack, args: argparse.Namespace) -> None:
    token, project_id, key = await asyncio.to_thread(setup, stack)
    poster = Poster(stack, key)
    started = time.monotonic()
    samples = await latency(stack, poster, token, project_id, args.posts, args.gap)  # set by main()
    middle = time.monotonic()
    firsts, lasts, missed = await fan_out(stack, poster, token, project_id, args.sockets, args.rounds)
    ended = time.monotonic()
    print("\nsummary (ms, from the POST's 202 answer to the minute message's arrival)")
    if samples:
        print(f"  isolated post, {len(samples)} posts    median {ms(statistics.median(samples))}"
              f"   p95 {ms(percentile(samples, 0.95))}   max {ms(max(samples))}")  # fmt: skip
    if lasts:
        print(f"  {args.sockets} sockets, {len(lasts)} rounds      first  {ms(statistics.median(firsts))}"
              f"   last {ms(statistics.median(lasts))} (median)   last, worst round {ms(max(lasts))}")  # fmt: skip
    print(f"  fan-out misses: {missed} of {args.sockets * args.rounds} deliveries")
    print(f"  wall time: latency {middle - started:.0f} s, fan-out {ended - middle:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--posts", type=int, default=100, help="posts timed one at a time on one socket")
    parser.add_argument("--sockets", type=int, default=200, help="sockets subscribed to the project for the fan-out")
    parser.add_argument("--rounds", type=int, default=10, help="posts timed across every socket")
    parser.add_argument("--gap", type=float, help="seconds between a figure's arrival and the next post (default:"
                        " enough that no post waits for the previous push's slot)")  # fmt: skip
    parser.add_argument("--parameter", action="append", default=[], metavar="NAME=VALUE",
                        help="a template parameter for the stack, e.g. AggregationWindowSeconds=0")  # fmt: skip
    args = parser.parse_args(argv)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, load average {load}")
    # What bounds the figure from below: the stream's batching window, the pump's idle poll, the push spacing.
    overrides = dict(p.split("=", 1) for p in args.parameter)
    window = next(m.window_seconds for m in read_stack(ROOT, overrides).streams if m.function == "AggregateFunction")
    if args.gap is None:  # the batching window and the gap together keep a post clear of the last push's slot
        args.gap = 0.1 + max(0.0, PUSH_SPACING_MS / 1000 - window)
    print(
        f"events stream -> AggregateFunction: batching window {window:g} s (template), offline pump polls every"
        f" {POLL_SECONDS:g} s when idle; minute pushes at most one per project per {PUSH_SPACING_MS / 1000:g} s"
    )
    with tempfile.TemporaryDirectory(prefix="apimeter-live-") as state:
        stack = Stack(Path(state), args.parameter)
        try:
            print(f"offline stack on {stack.base} ready in {stack.start(START_TIMEOUT):.1f} s")
            asyncio.run(run(stack, args))
        finally:
            stopping = time.monotonic()
            how = stack.stop()
            print(f"  offline stack {how} ({time.monotonic() - stopping:.1f} s)")
    # A push that fails is logged and dropped by design: show it rather than let it pass as a slow figure.
    # The stack's own warnings once up (a stop that waits on requests or streams) are shown too; saving is
    # not news, nor are moto's notes while it starts.
    ready = next((i for i, line in enumerate(stack.output) if "ready in" in line), 0)
    noted = ("ERROR", "Traceback", "push failed", "WARNING")
    after = stack.output[ready:]
    problems = [line.rstrip() for line in after if any(w in line for w in noted) and "saved " not in line]
    for line in problems[:5]:
        print(f"  stack: {line[:300]}")
    if problems:
        print(f"  stack: {len(problems)} warning or error lines in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
