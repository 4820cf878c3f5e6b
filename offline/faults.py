"""AWS misbehaving on purpose, at chosen rates: the offline stack's ``--faults`` and the tests' harness.

Exactness is the product, so it has to hold when DynamoDB throttles, leaves batch writes
unprocessed, an invocation times out or crashes half way through its writes, the stream delivers
twice and out of order, and events arrive hours late. Each kind fires at its own rate, drawn from
one seeded RNG, and is counted:

  throttle            one attempt of a DynamoDB data call answers ProvisionedThroughputExceeded or
                      ThrottlingException (``before-send``), so botocore's own retries take it
  throttle_exhausted  a call fails with one of those codes as when botocore's retries ran out
                      (``before-call``): the code's own error handling takes it
  unprocessed         a share of a BatchWriteItem's items is left out and returned as
                      ``UnprocessedItems`` (what moto never does)
  timeout             an invocation of a watched function ends after some of its writes (or just
                      before it answers), uncatchably, as Lambda ends a function at its timeout
  stream_crash        a stream consumer's write raises part way through a batch, as a crash would
  redeliver           a stream batch its function finished is delivered again (a lost answer)
  reorder             a stream batch is split into the shards DynamoDB would spread its items over,
                      delivered in a shuffled order (each item's own records keep their order)
  late                an event is held back by its sender and sent hours after its timestamp

Nothing here is imported by ``layers/`` or ``functions/``: production code meets these faults only
through the AWS SDK and the event source mapping, as it would on AWS.
"""

from __future__ import annotations

import io
import json
import random
import threading
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError

KINDS = ("throttle", "throttle_exhausted", "unprocessed", "timeout", "stream_crash", "redeliver", "reorder", "late")
THROTTLING_CODES = ("ProvisionedThroughputExceededException", "ThrottlingException")
DATA_CALLS = frozenset(
    {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem",
     "TransactWriteItems", "TransactGetItems"}
)  # fmt: skip
WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems"})
# Functions whose invocations may time out or crash: the ingest path and the events stream's consumers.
WATCHED = frozenset({"IngestFunction", "AggregateFunction", "BudgetWatchFunction"})
STREAM_CONSUMERS = frozenset({"AggregateFunction", "BudgetWatchFunction"})
VIRTUAL_SHARDS = 4


class InvocationTimedOut(BaseException):
    """Ends an invocation from inside; a BaseException so that no handler's ``except Exception``
    can catch it, as none can catch Lambda's timeout."""


class FunctionTimedOut(RuntimeError):
    """What the caller of a timed-out invocation sees (the gateway's 5xx, the pump's retry)."""


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


@dataclass
class _Doom:
    function: str
    writes_left: int
    error: type[BaseException]
    fired: bool = False


@dataclass
class Faults:
    """Rates per kind (0 to 1), a seed, and what was injected so far (``counts``)."""

    rates: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    backoff_scale: float = 0.01  # botocore's retry sleeps, shortened so a soak runs in minutes
    enabled: bool = True
    counts: Counter[str] = field(default_factory=Counter)
    retries: Counter[str] = field(default_factory=Counter)  # retries made by the code under test
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, init=False, repr=False)
    _doom: _Doom | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.rates) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
        self._rng = random.Random(self.seed)  # noqa: S311 - reproducible faults, not secrets # nosec B311

    @classmethod
    def parse(cls, spec: str) -> Faults:
        """``"throttle=0.02,unprocessed=0.03,seed=7"``; ``"all=0.02"`` sets every kind."""
        rates: dict[str, float] = {}
        seed = 0
        for part in filter(None, (p.strip() for p in spec.split(","))):
            name, _, value = part.partition("=")
            if name == "seed":
                seed = int(value)
            elif name == "all":
                rates.update(dict.fromkeys(KINDS, float(value)))
            else:
                rates[name] = float(value)
        return cls(rates, seed)

    def roll(self, kind: str) -> bool:
        """Whether this occasion of ``kind`` is a fault (counted when it is)."""
        rate = self.rates.get(kind, 0.0)
        with self._lock:
            if not self.enabled or rate <= 0 or self._rng.random() >= rate:
                return False
            self.counts[kind] += 1
            return True

    def choice(self, upper: int) -> int:
        with self._lock:
            return self._rng.randrange(upper)

    def shuffle(self, items: list[Any]) -> None:
        with self._lock:
            self._rng.shuffle(items)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No fault while setting up or checking."""
        before, self.enabled = self.enabled, False
        try:
            yield
        finally:
            self.enabled = before

    def summary(self) -> dict[str, int]:
        return {kind: self.counts.get(kind, 0) for kind in KINDS}

    # DynamoDB, through botocore's event system

    def install(self, events: Any) -> None:
        """Inject into every DynamoDB call made through ``events``: a client's ``meta.events``, or a
        botocore session (then every client it creates from now on). Registered first, so a fault
        answers before moto's in-process stub would."""
        events.register_first("before-send.dynamodb", self._before_send, unique_id="apimeter-faults-send")
        events.register_first("before-call.dynamodb", self._before_call, unique_id="apimeter-faults-call")
        events.register_first(
            "provide-client-params.dynamodb.BatchWriteItem", self._hold_back, unique_id="apimeter-faults-batch"
        )
        events.register_first("after-call.dynamodb.BatchWriteItem", self._unprocessed, unique_id="apimeter-faults-un")
        _scale_backoff(self)

    def _before_send(self, request: Any, event_name: str = "", **_: Any) -> AWSResponse | None:
        operation = event_name.rsplit(".", 1)[-1]
        if operation not in DATA_CALLS or not self.roll("throttle"):
            return None
        self.retries["sdk"] += 1  # botocore answers it with another attempt (standard retry mode)
        code = THROTTLING_CODES[self.choice(2)]
        body = json.dumps({"__type": f"com.amazonaws.dynamodb.v20120810#{code}", "message": "injected"}).encode()
        headers = HTTPHeaders()
        headers["x-amzn-RequestId"] = "fault"
        headers["Content-Type"] = "application/x-amz-json-1.0"
        return AWSResponse(request.url, 400, headers, _Raw(body))

    def _before_call(self, model: Any, **_: Any) -> None:
        operation = model.name
        if operation in WRITES:
            self._count_write()
        if operation in DATA_CALLS and self.roll("throttle_exhausted"):
            code = THROTTLING_CODES[self.choice(2)]
            raise ClientError({"Error": {"Code": code, "Message": "injected: retries exhausted"}}, operation)

    def _hold_back(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        held: dict[str, list[Any]] = {}
        for table, requests in params.get("RequestItems", {}).items():
            kept: list[Any] = []
            for request in requests:
                (held.setdefault(table, []) if self.roll("unprocessed") else kept).append(request)
            params["RequestItems"][table] = kept
        params["RequestItems"] = {t: r for t, r in params["RequestItems"].items() if r}
        if held:
            context["apimeter_unprocessed"] = held
            if not params["RequestItems"]:  # nothing left to write: one request stays, as DynamoDB needs one
                table, requests = next(iter(held.items()))
                params["RequestItems"] = {table: [requests.pop(0)]}
                self.counts["unprocessed"] -= 1

    def _unprocessed(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        held = {t: r for t, r in context.pop("apimeter_unprocessed", {}).items() if r}
        if held:
            unprocessed = parsed.setdefault("UnprocessedItems", {})
            for table, requests in held.items():
                unprocessed.setdefault(table, []).extend(requests)

    # invocations

    def _count_write(self) -> None:
        with self._lock:
            doom = self._doom
            if doom is None or doom.fired:
                return
            doom.writes_left -= 1
            if doom.writes_left > 0:
                return
            doom.fired = True
        if doom.error is InvocationTimedOut:
            raise InvocationTimedOut(doom.function)
        raise RuntimeError(f"injected: {doom.function} crashed part way through its writes")

    @contextmanager
    def invocation(self, function: str, stream: bool) -> Iterator[None]:
        """One invocation of ``function``: perhaps doomed to time out (or, for a stream consumer,
        crash) after a few of its writes. A timeout that its writes did not reach ends it just
        before it answers: the work is done, the answer lost."""
        doom = None
        if function in WATCHED:
            if self.roll("timeout"):
                doom = _Doom(function, 1 + self.choice(40), InvocationTimedOut)
            elif stream and function in STREAM_CONSUMERS and self.roll("stream_crash"):
                doom = _Doom(function, 1 + self.choice(40), RuntimeError)
        with self._lock:
            if doom is not None and self._doom is None:
                self._doom = doom
            else:
                doom = None
        try:
            yield
            if doom is not None and doom.error is InvocationTimedOut and not doom.fired:
                doom.fired = True
                raise InvocationTimedOut(function)
        except InvocationTimedOut as exc:
            raise FunctionTimedOut(f"{function}: task timed out") from exc
        finally:
            if doom is not None:
                with self._lock:
                    self._doom = None

    def guard(self, function: Any, name: str) -> None:
        """Wrap an offline Lambda's ``invoke`` so its invocations meet ``timeout`` and ``stream_crash``."""
        original: Callable[[dict[str, Any]], Any] = function.invoke

        def invoke(event: dict[str, Any]) -> Any:
            with self.invocation(name, stream="Records" in event):
                return original(event)

        function.invoke = invoke

    # the stream

    def deliveries(self, batch: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """How a stream batch reaches its function: whole, or split by item into the shards
        DynamoDB would have put them on and delivered in a shuffled order (``reorder``)."""
        if len(batch) < 2 or not self.roll("reorder"):
            return [batch]
        shards: dict[int, list[dict[str, Any]]] = {}
        for record in batch:
            key = json.dumps(record["dynamodb"].get("Keys", {}), sort_keys=True)
            shards.setdefault(zlib.crc32(key.encode()) % VIRTUAL_SHARDS, []).append(record)
        ordered = list(shards.values())
        self.shuffle(ordered)
        return ordered

    def redeliver(self) -> bool:
        """Whether a batch that succeeded is delivered again."""
        return self.roll("redeliver")


_scaled: list[Faults] = []


def _scale_backoff(faults: Faults) -> None:
    """Shorten botocore's retry backoff by the harness's ``backoff_scale`` (once per process; the
    latest harness's scale applies). Throttles are frequent here and sleeping up to seconds on each
    would turn a soak of minutes into hours; the order and number of attempts are unchanged."""
    from botocore.retries import standard

    if not _scaled:
        original = standard.ExponentialBackoff.delay_amount

        def scaled(self: Any, context: Any) -> float:
            delay: float = original(self, context)
            return delay * _scaled[-1].backoff_scale

        standard.ExponentialBackoff.delay_amount = scaled  # type: ignore[method-assign]
    _scaled.append(faults)
