"""The client against a local server the test controls: batching, retries, refusals, pauses, drops."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

import pytest

from apimeter_client import ApimeterError, Client, _client
from apimeter_client._transport import _retry_after
from fake_apimeter import FakeApimeter, Reply, envelope, wait_for

MakeClient = Callable[..., Client]


@pytest.fixture
def make_client(fake: FakeApimeter) -> Iterator[MakeClient]:
    made: list[Client] = []

    def make(**options: Any) -> Client:
        options.setdefault("max_backoff", 0.2)
        client = Client(options.pop("api_key", "amk_test"), options.pop("base_url", fake.url), **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close(timeout=1)


def call(i: int, **extra: Any) -> dict[str, Any]:
    return {"method": "GET", "endpoint": "/users/{id}", "path": f"/users/{i}", "status": 200, "latency_ms": 1.5} | extra


def test_track_assigns_sortable_unique_ids_and_the_time_and_flush_sends(fake: FakeApimeter, make_client: MakeClient):
    client = make_client()
    before = time.time_ns() // 1_000_000
    for i in range(300):
        client.track(**call(i))
    assert client.flush(30)
    ids = [key for r in fake.requests for key in r["keys"]]
    assert len(ids) == 300 == len(set(ids)) == len(fake.events)
    assert ids == sorted(ids)  # sortable: the order they were tracked in
    assert all(before <= e["timestamp"] <= time.time_ns() // 1_000_000 for e in fake.events.values())
    assert client.stats.sent == 300
    assert client.stats.queued == 0


def test_given_ids_and_timestamps_are_kept(fake: FakeApimeter, make_client: MakeClient):
    client = make_client()
    client.track(**call(1, event_id="req-1", timestamp="2026-11-29T10:00:00+00:00"))
    client.track(**call(2, event_id="req-2", timestamp=dt.datetime(2026, 11, 29, 10, 0, tzinfo=dt.UTC)))
    assert client.flush(30)
    assert fake.events["req-1"]["timestamp"] == "2026-11-29T10:00:00+00:00"
    assert fake.events["req-2"]["timestamp"] == "2026-11-29T10:00:00+00:00"


def test_a_full_batch_is_sent_without_a_flush(fake: FakeApimeter, make_client: MakeClient):
    client = make_client(batch_size=50, flush_interval=3600)
    for i in range(120):
        client.track(**call(i))
    assert wait_for(lambda: len(fake.events) >= 100)
    assert all(len(r["keys"]) <= 50 for r in fake.requests)


def test_the_timer_sends_a_partial_batch(fake: FakeApimeter, make_client: MakeClient):
    client = make_client(batch_size=500, flush_interval=0.2)
    client.track(**call(1))
    assert wait_for(lambda: len(fake.events) == 1)


def test_batches_stay_within_the_apis_count_and_size_limits(fake: FakeApimeter, make_client: MakeClient):
    client = make_client(batch_size=1000)
    big = {f"p{i}": "x" * 100 for i in range(30)}  # ~3.5 KB per event: 1,000 would be 3.5 MB
    for i in range(2500):
        client.track(**call(i, properties=big if i % 2 else None))
    assert client.flush(60)
    assert len(fake.events) == 2500
    assert all(len(r["keys"]) <= 1000 and r["size"] <= 1_048_576 for r in fake.requests)
    assert {r["status"] for r in fake.requests} == {202}


def test_5xx_and_network_errors_are_retried_and_each_event_counts_once(fake: FakeApimeter, make_client: MakeClient):
    fake.script.extend([Reply(503, envelope("INTERNAL_ERROR", "down")), Reply(502, None), Reply(500, None, store=True)])
    client = make_client()
    for i in range(40):
        client.track(**call(i))
    assert client.flush(60)
    assert len(fake.events) == 40
    assert [r["status"] for r in fake.requests] == [503, 502, 500, 202]
    stats = client.stats
    assert stats.retried == 120
    assert stats.duplicates == 40  # the third attempt was stored, but its answer said 500
    assert stats.sent == 0  # the last attempt found them all stored: sent + duplicates is what arrived


def test_429_waits_at_least_retry_after(fake: FakeApimeter, make_client: MakeClient):
    fake.script.append(Reply(429, envelope("RATE_LIMIT_EXCEEDED", "slow down"), {"Retry-After": "1"}))
    client = make_client()
    client.track(**call(1))
    assert client.flush(60)
    first, second = fake.requests[0]["time"], fake.requests[1]["time"]
    assert second - first >= 0.95  # honoured, however busy the machine (a lower bound only)
    assert len(fake.events) == 1


def test_a_flush_does_not_cut_short_a_retry_after(fake: FakeApimeter, make_client: MakeClient):
    fake.script.append(Reply(429, envelope("RATE_LIMIT_EXCEEDED", "slow down"), {"Retry-After": "30"}))
    client = make_client()
    client.track(**call(1))
    assert not client.flush(0.5)
    assert len(fake.requests) == 1


def test_a_slow_answer_is_retried_and_the_server_counts_the_batch_once(fake: FakeApimeter, make_client: MakeClient):
    fake.script.append(Reply(202, {"accepted": 5, "duplicates": 0, "rejected": []}, delay=1.5, store=True))
    client = make_client(timeout=0.3)
    for i in range(5):
        client.track(**call(i))
    assert client.flush(60)
    assert len(fake.events) == 5
    assert len(fake.requests) >= 2
    assert client.stats.duplicates == 5


def test_refused_items_are_reported_and_never_retried(fake: FakeApimeter, make_client: MakeClient):
    errors: list[ApimeterError] = []
    fake.refuse = lambda event: "status must be <= 599" if event["status"] > 599 else None
    client = make_client(on_error=errors.append)
    client.track(**call(1, event_id="dup"))
    assert client.flush(30)
    for i in range(10):
        client.track(**call(i, status=700 if i in (3, 7) else 200))
    client.track(**call(1, event_id="dup", status=201))  # same id, another payload
    assert client.flush(30)
    assert sorted(e.code for e in errors) == ["CONFLICT", "VALIDATION_ERROR", "VALIDATION_ERROR"]
    assert {e.events[0]["status"] for e in errors if e.code == "VALIDATION_ERROR"} == {700}
    assert errors[0].events
    assert errors[0].message
    assert len(fake.requests) == 2  # nothing re-sent
    assert client.stats.rejected == 3
    assert client.stats.sent == 9


def test_a_whole_request_refusal_is_narrowed_to_the_item(fake: FakeApimeter, make_client: MakeClient):
    def poison(items: list[Any]) -> Reply | None:
        if any(i.get("consumer") == "poison" for i in items):
            return Reply(400, envelope("VALIDATION_ERROR", "request body is not valid JSON"))
        return Reply(202, fake._store(items))

    fake.script.extend([poison] * 20)
    errors: list[ApimeterError] = []
    client = make_client(on_error=errors.append)
    for i in range(16):
        client.track(**call(i, consumer="poison" if i == 11 else "ok"))
    assert client.flush(30)
    assert len(fake.events) == 15
    assert [e.events[0]["consumer"] for e in errors] == ["poison"]
    assert client.stats.rejected == 1


def test_413_splits_the_batch(fake: FakeApimeter, make_client: MakeClient):
    fake.script.append(Reply(413, envelope("PAYLOAD_TOO_LARGE", "too large")))
    client = make_client()
    for i in range(10):
        client.track(**call(i))
    assert client.flush(30)
    assert len(fake.events) == 10
    assert [len(r["keys"]) for r in fake.requests] == [10, 5, 5]


def test_a_refused_key_stops_sending_and_keeps_every_event(fake: FakeApimeter, make_client: MakeClient, tmp_path):
    errors: list[ApimeterError] = []
    client = make_client(api_key="amk_revoked", spool_dir=tmp_path, on_error=errors.append)
    for i in range(20):
        client.track(**call(i))
    assert not client.flush(5)
    assert [e.code for e in errors] == ["AUTHENTICATION_FAILED"]
    client.track(**call(20))
    assert not client.flush(0.5)
    assert len(fake.requests) == 1  # no more attempts
    assert client.stats.queued == 21
    client.close()
    fixed = make_client(spool_dir=tmp_path)  # the app restarts with a good key: nothing was lost
    assert fixed.flush(30)
    assert len(fake.events) == 21


def test_forbidden_and_a_wrong_base_url_stop_sending_too(fake: FakeApimeter, make_client: MakeClient):
    fake.script.append(Reply(403, envelope("FORBIDDEN", "the key lacks the track scope")))
    errors: list[ApimeterError] = []
    client = make_client(on_error=errors.append)
    client.track(**call(1))
    assert not client.flush(5)
    assert errors[0].code == "FORBIDDEN"
    assert errors[0].status == 403
    lost: list[ApimeterError] = []
    wrong = make_client(base_url=fake.url + "/nothing-here", on_error=lost.append)
    fake.script.append(Reply(404, None))
    wrong.track(**call(1))
    assert not wrong.flush(5)
    assert lost[0].code == "HTTP_404"
    assert "base_url" in lost[0].message


def test_a_full_queue_drops_the_newest_and_says_so(fake: FakeApimeter, make_client: MakeClient):
    fake.stop()  # nowhere to send
    errors: list[ApimeterError] = []
    client = make_client(max_queue=100, on_error=errors.append)
    for i in range(150):
        client.track(**call(i))
    assert client.stats.dropped == 50
    assert client.stats.queued == 100
    assert wait_for(lambda: any(e.code == "QUEUE_FULL" for e in errors))
    assert sum(e.count for e in errors if e.code == "QUEUE_FULL") == 50


def test_an_outage_of_any_length_loses_nothing(fake: FakeApimeter, make_client: MakeClient):
    port = fake.port
    fake.stop()
    client = make_client(flush_interval=0.05, max_backoff=0.3)
    for i in range(500):
        client.track(**call(i))
    assert wait_for(lambda: client.stats.retried > 500)
    assert client.stats.sent == 0
    fake.start(port)
    assert client.flush(60)
    assert len(fake.events) == 500
    assert client.stats.sent == 500
    assert client.stats.dropped == 0


def test_max_retries_drops_a_batch_and_reports_it(fake: FakeApimeter, make_client: MakeClient):
    fake.script.extend([Reply(503, None)] * 3)
    errors: list[ApimeterError] = []
    client = make_client(max_retries=2, on_error=errors.append)
    client.track(**call(1))
    assert client.flush(30)
    assert [e.code for e in errors] == ["RETRIES_EXHAUSTED"]
    assert client.stats.dropped == 1
    assert len(fake.requests) == 3


def test_close_counts_what_memory_could_not_send(fake: FakeApimeter, make_client: MakeClient):
    fake.stop()
    errors: list[ApimeterError] = []
    client = make_client(on_error=errors.append)
    for i in range(7):
        client.track(**call(i))
    assert not client.close(timeout=0.3)
    assert client.stats.dropped == 7
    assert errors[-1].code == "CLOSED"
    client.track(**call(8))  # after close: ignored, never raises
    assert client.stats.dropped == 7


def test_track_never_raises_and_odd_values_are_sent_as_json(fake: FakeApimeter, make_client: MakeClient):
    errors: list[ApimeterError] = []
    client = make_client(on_error=errors.append)
    client.track(**call(1, cost=Decimal("0.25"), properties={"tags": ("a", "b"), "who": object(), "kinds": {"x"}}))
    client.track(**call(2), not_a_field=1)
    assert client.flush(30)
    assert len(fake.events) == 1
    stored = next(iter(fake.events.values()))
    assert stored["cost"] == 0.25
    assert stored["properties"]["tags"] == ["a", "b"]
    assert stored["properties"]["kinds"] == ["x"]  # a set, as a list
    assert stored["properties"]["who"].startswith("<object")
    assert [e.code for e in errors] == ["VALIDATION_ERROR"]
    assert "not_a_field" in errors[0].message
    assert client.stats.rejected == 1


def test_an_on_error_that_raises_does_not_stop_the_worker(fake: FakeApimeter, make_client: MakeClient):
    fake.refuse = lambda event: "no" if event["status"] == 599 else None

    def explode(error: ApimeterError) -> None:
        raise RuntimeError("user bug")

    client = make_client(on_error=explode)
    client.track(**call(1, status=599))
    client.track(**call(2))
    assert client.flush(30)
    client.track(**call(3))
    assert client.flush(30)
    assert len(fake.events) == 2


def test_without_a_key_the_client_does_nothing(fake: FakeApimeter):
    client = Client(None, fake.url)
    client.track(**call(1))
    assert client.flush(1)
    assert client.stats.queued == 0
    assert fake.requests == []
    client.close()


def test_many_threads_track_at_once(fake: FakeApimeter, make_client: MakeClient):
    client = make_client(batch_size=100)

    def work(t: int) -> None:
        for i in range(500):
            client.track(**call(i, consumer=f"t{t}"))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert client.flush(60)
    assert len(fake.events) == 4000
    assert client.stats.sent == 4000


def test_options_are_checked_when_the_client_is_made(fake: FakeApimeter):
    for bad, says in (({"batch_size": 0}, "batch_size"), ({"batch_size": 1001}, "batch_size"),
                      ({"flush_interval": 0}, "positive"), ({"max_queue": 0}, "max_queue"),
                      ({"max_retries": -1}, "max_retries"), ({"spool_fsync": "sometimes"}, "spool_fsync")):  # fmt: skip
        with pytest.raises(ValueError, match=says):
            Client("amk_test", fake.url, **bad)
    with pytest.raises(ValueError, match="http"):
        Client("amk_test", "ftp://example.com")


def test_retry_after_reads_seconds_and_http_dates():
    assert _retry_after("7") == 7
    assert _retry_after(None) is None
    assert _retry_after("soon") is None
    in_a_minute = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    assert 50 < (_retry_after(in_a_minute.strftime("%a, %d %b %Y %H:%M:%S GMT")) or 0) <= 60
    assert _retry_after("999999") == 3600  # capped: a month-long hold is looked at again hourly


def test_the_request_says_who_sends(fake: FakeApimeter, make_client: MakeClient):
    client = make_client()
    client.track(**call(1))
    assert client.flush(30)
    assert fake.requests[0]["path"] == "/v1/events"
    body = json.dumps(next(iter(fake.events.values())))
    assert "event_id" in body


def test_a_value_that_cannot_be_shown_does_not_hold_up_the_batch(fake: FakeApimeter, make_client: MakeClient):
    class Detached:
        def __str__(self) -> str:
            raise RuntimeError("instance is not bound to a session")

    circular: dict[str, Any] = {}
    circular["self"] = circular
    errors: list[ApimeterError] = []
    client = make_client(on_error=errors.append)
    client.track(**call(0, properties={"user": Detached()}))
    client.track(**call(1, properties={"loop": circular}))
    for i in range(2, 22):
        client.track(**call(i))
    assert client.flush(30)
    assert len(fake.events) == 21
    assert {"user": "<Detached>"} in [e.get("properties") for e in fake.events.values()]
    assert [e.code for e in errors] == ["VALIDATION_ERROR"]  # the circular one, reported
    assert client.stats.rejected == 1


def test_close_from_on_error_settles_the_batch_once(fake: FakeApimeter, make_client: MakeClient):
    fake.refuse = lambda event: "no" if event["status"] == 599 else None
    errors: list[ApimeterError] = []
    client = make_client()

    def close_on_error(error: ApimeterError) -> None:
        errors.append(error)
        client.close()

    client._on_error = close_on_error
    for i in range(5):
        client.track(**call(i, status=599 if i == 2 else 200))
    assert wait_for(lambda: client._closed and (client._thread is None or not client._thread.is_alive()))
    stats = client.stats
    assert (stats.sent, stats.rejected, stats.dropped, stats.queued) == (4, 1, 0, 0)
    assert [e.code for e in errors] == ["VALIDATION_ERROR"]


def test_a_flush_does_not_take_away_the_next_backoff(fake: FakeApimeter, make_client: MakeClient):
    client = make_client(max_backoff=0.4)
    client.track(**call(0))
    assert client.flush(30)
    fake.script.extend([Reply(503, None), Reply(503, None)])
    client.track(**call(1))
    client._wake.set()  # sent by the timer, not by a flush
    assert wait_for(lambda: len(fake.events) == 2)
    times = [r["time"] for r in fake.requests[1:]]
    assert [later - earlier >= 0.19 for earlier, later in itertools.pairwise(times)] == [True, True]


def test_a_signal_handler_may_flush_while_track_is_interrupted(fake: FakeApimeter, make_client: MakeClient, tmp_path):
    """A handler runs between two bytecodes of the interrupted thread, perhaps inside track(): the
    memory queue takes no lock there, so the flush completes; the spool's lock is re-entrant, so a
    flush waits its timeout at worst (the events are on disk) instead of deadlocking."""
    memory = make_client()
    spooled = make_client(spool_dir=tmp_path)
    results: dict[str, bool] = {}

    def handler() -> None:
        memory.track(**call(1))
        results["memory"] = memory.flush(30)
        spooled.track(**call(2))
        with spooled._spool._lock:  # type: ignore[union-attr] # inside put_line, as far as it knows
            results["spool"] = spooled.flush(0.5)

    thread = threading.Thread(target=handler, daemon=True)
    thread.start()
    thread.join(120)
    assert not thread.is_alive(), "flush() deadlocked"
    assert results["memory"] is True
    assert "spool" in results


def test_without_a_key_no_url_is_needed_either():
    client = Client(None, "")
    client.track(**call(1))
    assert client.flush(1)
    client.close()


def test_a_client_in_a_with_block_sends_on_leaving_it(fake: FakeApimeter):
    with Client("amk_test", fake.url, flush_interval=3600) as client:
        client.track(**call(1))
        assert fake.events == {}
    assert len(fake.events) == 1
    assert client.stats.sent == 1


def test_an_unknown_field_first_is_still_reported_and_after_close_ignored(fake: FakeApimeter, make_client: MakeClient):
    errors: list[ApimeterError] = []
    client = make_client(on_error=errors.append)
    client.track(**call(1), colour="blue")  # nothing valid tracked yet: the worker starts for the report
    assert wait_for(lambda: len(errors) == 1)
    assert errors[0].code == "VALIDATION_ERROR"
    assert errors[0].message == "unknown fields: colour"
    assert errors[0].events[0]["colour"] == "blue"
    client.close(timeout=5)
    client.track(**call(2), colour="red")
    assert client.stats.rejected == 1
    assert fake.requests == []


def test_a_flush_from_on_error_does_not_wait_on_itself(fake: FakeApimeter, make_client: MakeClient):
    fake.refuse = lambda event: "no" if event["status"] == 599 else None
    flushed: list[bool] = []
    client = make_client()
    client._on_error = lambda error: flushed.append(client.flush(30))  # the worker's own thread
    client.track(**call(1, status=599))
    assert client.flush(30)
    assert flushed == [False]


def test_a_success_without_the_usual_counts_still_settles_the_batch(fake: FakeApimeter, make_client: MakeClient):
    errors: list[ApimeterError] = []
    client = make_client(on_error=errors.append)
    fake.script.append(Reply(200, None))  # a proxy's empty 200: stored, counts unknown
    for i in range(3):
        client.track(**call(i))
    assert client.flush(30)
    assert client.stats.sent == 3
    fake.script.append(Reply(202, {"rejected": [{"index": 1, "code": "CONFLICT", "message": "changed"}, "odd"]}))
    for i in range(3, 6):
        client.track(**call(i))
    assert client.flush(30)
    assert client.stats.sent == 4  # the two refusals are not counted as sent
    assert client.stats.rejected == 2
    assert [(e.code, e.message) for e in errors] == [("CONFLICT", "changed"), ("VALIDATION_ERROR", "")]
    assert {e.status for e in errors} == {202}
    assert errors[0].events[0]["path"] == "/users/4"
    assert errors[1].events == []


def test_without_on_error_a_refused_event_is_logged(
    fake: FakeApimeter, make_client: MakeClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(_client, "_last_warning", {})  # another test's warning must not silence this one
    fake.refuse = lambda event: "status out of range" if event["status"] == 599 else None
    client = make_client()
    with caplog.at_level(logging.WARNING, logger="apimeter_client"):
        client.track(**call(1, status=599))
        assert client.flush(30)
    assert "apimeter: event refused: VALIDATION_ERROR: status out of range" in caplog.messages
    assert client.stats.rejected == 1


class _NoThread(threading.Thread):
    def start(self) -> None:
        raise RuntimeError("can't create new thread at interpreter shutdown")


def test_when_no_thread_can_start_track_and_close_still_return(
    fake: FakeApimeter, make_client: MakeClient, monkeypatch: pytest.MonkeyPatch
):
    """At interpreter shutdown a thread cannot start: track() still returns, flush() says it could
    not send, and close() counts what stayed in memory."""
    monkeypatch.setattr(_client, "threading", SimpleNamespace(**{**vars(threading), "Thread": _NoThread}))
    errors: list[ApimeterError] = []
    client = make_client(on_error=errors.append)
    for i in range(4):
        client.track(**call(i))
    assert client.stats.queued == 4
    assert client.flush(1) is False
    assert client.close(timeout=1) is False
    assert client.stats.dropped == 4
    assert [(e.code, e.count) for e in errors] == [("CLOSED", 4)]
    assert fake.requests == []


def test_a_server_that_closes_each_connection_is_reconnected_to(fake: FakeApimeter, make_client: MakeClient):
    fake.script.append(lambda items: Reply(202, {"accepted": len(items), "duplicates": 0, "rejected": []},
                                           headers={"connection": "close"}, store=True))  # fmt: skip
    client = make_client()
    client.track(**call(1))
    assert client.flush(30)
    client.track(**call(2))  # over a new connection: the first one was closed after its answer
    assert client.flush(30)
    assert len(fake.events) == 2
    assert client.stats.sent == 2
    assert client.stats.retried == 0
