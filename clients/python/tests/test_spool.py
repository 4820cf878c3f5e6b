"""The spool: what track() wrote survives kill -9, outages and forks, within its bound on disk."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path
from typing import Any

import pytest

from apimeter_client import ApimeterError, Client
from fake_apimeter import FakeApimeter, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the spool's locks are POSIX")


def call(i: int, **extra: Any) -> dict[str, Any]:
    return {"method": "POST", "endpoint": "/orders", "status": 201, "latency_ms": 3.0, "event_id": f"e-{i}"} | extra


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.spool"))


def run_python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_track_returns_once_the_event_is_on_disk(fake: FakeApimeter, tmp_path: Path):
    fake.stop()
    client = Client("amk_test", fake.url, spool_dir=tmp_path)
    client.track(**call(1))
    [segment] = segments(tmp_path)
    assert b'"event_id":"e-1"' in segment.read_bytes()
    assert client.stats.spooled == 1
    client.close(timeout=0.2)
    assert segments(tmp_path) == [segment]  # kept for the next client


def test_a_process_killed_mid_run_loses_nothing(fake: FakeApimeter, tmp_path: Path):
    child = run_python(
        """
        import sys
        from apimeter_client import Client
        client = Client("amk_test", sys.argv[1], spool_dir=sys.argv[2], batch_size=50, flush_interval=0.05)
        i = 0
        while True:
            client.track(method="GET", endpoint="/users/{id}", status=200, event_id=f"k-{i}")
            print(i, flush=True)  # tracked: it must arrive
            i += 1
        """,
        fake.url,
        str(tmp_path),
    )
    assert child.stdout is not None
    tracked = -1
    for line in child.stdout:
        tracked = int(line)
        if tracked >= 3000 and len(fake.events) > 0:
            break
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert 0 < len(fake.events) < tracked + 1  # some were sent, some were still waiting
    survivor = Client("amk_test", fake.url, spool_dir=tmp_path)
    assert survivor.close(timeout=60)
    assert {f"k-{i}" for i in range(tracked + 1)} <= set(fake.events)
    assert segments(tmp_path) == []


def test_an_outage_past_the_bound_drops_the_oldest_and_keeps_the_newest(fake: FakeApimeter, tmp_path: Path):
    port = fake.port
    fake.stop()
    errors: list[ApimeterError] = []
    client = Client("amk_test", fake.url, spool_dir=tmp_path, spool_max_bytes=200_000, on_error=errors.append)
    for i in range(5000):
        client.track(**call(i))
    on_disk = sum(p.stat().st_size for p in segments(tmp_path))
    assert on_disk <= 200_000
    stats = client.stats
    assert stats.dropped > 0
    assert stats.dropped + stats.queued == 5000
    fake.start(port)
    assert client.flush(60)
    assert len(fake.events) == 5000 - stats.dropped
    assert {f"e-{i}" for i in range(4000, 5000)} <= set(fake.events)  # the newest are kept
    assert wait_for(lambda: any(e.code == "SPOOL_FULL" for e in errors))
    client.close()


def test_an_orphan_with_a_torn_last_line_is_adopted_and_removed(fake: FakeApimeter, tmp_path: Path):
    orphan = tmp_path / "00000000000000000001-1-deadbeef.spool"
    lines = [b'{"event_id":"o-%d","method":"GET","endpoint":"/x","status":200}\n' % i for i in range(3)]
    orphan.write_bytes(b"".join(lines) + b'{"event_id":"o-3","meth')  # a machine crash mid-write
    (tmp_path / (orphan.name + ".ack")).write_bytes(str(len(lines[0])).encode() + b"\n12")
    client = Client("amk_test", fake.url, spool_dir=tmp_path)
    assert client.flush(30)
    assert set(fake.events) == {"o-1", "o-2"}  # o-0 was acknowledged before the crash
    client.close()
    assert list(tmp_path.iterdir()) == []


def test_processes_sharing_a_directory_each_send_their_own(fake: FakeApimeter, tmp_path: Path):
    code = """
        import sys
        from apimeter_client import Client
        client = Client("amk_test", sys.argv[1], spool_dir=sys.argv[2], batch_size=100)
        for i in range(1500):
            client.track(method="GET", endpoint="/a", status=200, event_id=f"{sys.argv[3]}-{i}")
        assert client.close(timeout=60), client.stats
        print(client.stats)
        """
    workers = [run_python(code, fake.url, str(tmp_path), name) for name in ("a", "b", "c")]
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err
        assert "dropped=0" in out
        assert "rejected=0" in out
    assert len(fake.events) == 4500
    assert segments(tmp_path) == []


@pytest.mark.parametrize("policy", ["interval", "always"])
def test_fsync_policies_deliver_the_same(fake: FakeApimeter, tmp_path: Path, policy: str):
    client = Client("amk_test", fake.url, spool_dir=tmp_path, spool_fsync=policy)
    for i in range(50):
        client.track(**call(i))
    assert client.close(timeout=30)
    assert len(fake.events) == 50


def test_a_forked_child_sends_its_own_events_and_not_its_parents(fake: FakeApimeter, tmp_path: Path):
    for spool in (None, tmp_path):
        fake.events.clear()
        parent = Client("amk_test", fake.url, spool_dir=spool, flush_interval=3600)
        for i in range(10):
            parent.track(**call(i, consumer="parent"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads: the client expects it
            pid = os.fork()
        if pid == 0:  # the child: a gunicorn worker after preload
            code = 1
            try:
                for i in range(5):
                    parent.track(**call(100 + i, consumer="child"))
                if parent.flush(30) and parent.stats.sent == 5:
                    code = 0
            finally:
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert {e["consumer"] for e in fake.events.values()} == {"child"}
        assert parent.flush(30)
        assert len(fake.events) == 15
        assert parent.stats.sent == 10
        parent.close()


def test_interpreter_exit_sends_what_is_queued(fake: FakeApimeter):
    child = run_python(
        """
        import sys
        from apimeter_client import Client
        client = Client("amk_test", sys.argv[1], flush_interval=3600)
        for i in range(25):
            client.track(method="GET", endpoint="/bye", status=200)
        """,
        fake.url,
    )
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    assert len(fake.events) == 25


def test_a_spooled_client_starts_sending_leftovers_without_tracking(fake: FakeApimeter, tmp_path: Path):
    port = fake.port
    fake.stop()
    first = Client("amk_test", fake.url, spool_dir=tmp_path)
    for i in range(30):
        first.track(**call(i))
    first.close(timeout=0.1)
    fake.start(port)
    second = Client("amk_test", fake.url, spool_dir=tmp_path, flush_interval=0.1)
    assert wait_for(lambda: second.stats.sent == 30)
    assert len(fake.events) == 30
    second.close()


def test_interval_fsync_covers_rotated_segments_and_never_blocks_track(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from apimeter_client import _spool

    synced: list[int] = []
    release = threading.Event()
    syncing = threading.Event()

    def slow_fsync(fd: int) -> None:
        syncing.set()
        release.wait(60)
        synced.append(fd)

    spool = _spool.SpoolBacklog(tmp_path, max_bytes=2 << 20, batch_size=500, fsync="interval")
    line = b'{"event_id":"x","method":"GET","endpoint":"/a","status":200,"pad":"' + b"p" * 200 + b'"}\n'
    for _ in range(600):  # past one 64 KiB segment
        spool.put_line(line)
    written = {s.fd for s in spool._segments}
    assert len(written) >= 2
    monkeypatch.setattr(_spool.os, "fsync", slow_fsync)
    worker = threading.Thread(target=spool.sync)
    worker.start()
    assert syncing.wait(60)
    writer = threading.Thread(target=spool.put_line, args=(line,))
    writer.start()
    writer.join(60)
    assert not writer.is_alive(), "track() waited for the disk"
    release.set()
    worker.join(60)
    assert written <= set(synced)


def _line(i: int, pad: int = 0) -> bytes:
    return b'{"event_id":"s-%d","method":"GET","endpoint":"/a","status":200,"pad":"%s"}\n' % (i, b"p" * pad)


def test_a_spool_directory_that_goes_away_refuses_events_and_says_so(fake: FakeApimeter, tmp_path: Path):
    errors: list[ApimeterError] = []
    directory = tmp_path / "spool"
    client = Client("amk_test", fake.url, spool_dir=directory, on_error=errors.append)
    directory.rmdir()  # cleaned away under the running app
    client.track(**call(1))
    assert client.stats.dropped == 1
    assert wait_for(lambda: [(e.code, e.count) for e in errors] == [("SPOOL_ERROR", 1)])
    directory.mkdir()
    client.track(**call(2))
    assert client.flush(30)
    assert set(fake.events) == {"e-2"}
    client.close()


def test_an_event_larger_than_a_request_is_refused_alone(fake: FakeApimeter, tmp_path: Path):
    errors: list[ApimeterError] = []
    client = Client("amk_test", fake.url, spool_dir=tmp_path, on_error=errors.append)
    client.track(**call(1))
    client.track(**call(2, properties={"blob": "x" * (1 << 20)}))  # over the API's 1 MiB, alone
    client.track(**call(3))
    assert client.flush(60)
    assert set(fake.events) == {"e-1", "e-3"}
    assert [(e.code, e.status) for e in errors] == [("PAYLOAD_TOO_LARGE", 413)]
    assert errors[0].events[0]["event_id"] == "e-2"
    assert client.stats.rejected == 1
    client.close()
    assert segments(tmp_path) == []


def test_an_acknowledgement_the_disk_refuses_means_a_resend_never_a_loss(tmp_path: Path):
    from apimeter_client._spool import SpoolBacklog

    spool = SpoolBacklog(tmp_path, max_bytes=1 << 20, batch_size=10)
    assert spool.take(10) is None  # nothing written yet
    for i in range(3):
        spool.put_line(_line(i))
    batch = spool.take(10)
    assert batch is not None
    assert len(batch) == 3
    [segment] = segments(tmp_path)
    (tmp_path / (segment.name + ".ack")).mkdir()  # the ack file cannot be written (nor read back)
    spool.done(batch)
    assert spool.pending() == 0
    spool.forget()  # the process dies before close(): its segment is left behind
    after = SpoolBacklog(tmp_path, max_bytes=1 << 20, batch_size=10)
    assert after.adopt() == 1
    assert after.pending() == 3  # sent again; the server counts each event id once
    again = after.take(10)
    assert again is not None
    assert [e["event_id"] for e in again.events()] == ["s-0", "s-1", "s-2"]


def test_leftovers_past_the_bound_are_adopted_without_their_oldest_segments(tmp_path: Path):
    from apimeter_client._spool import SpoolBacklog

    writer = SpoolBacklog(tmp_path, max_bytes=1 << 20, batch_size=500)
    for i in range(300):  # about 1 KB each: five 64 KiB segments
        writer.put_line(_line(i, pad=1000))
    written = segments(tmp_path)
    assert len(written) >= 4
    writer.forget()
    reader = SpoolBacklog(tmp_path, max_bytes=150_000, batch_size=500)
    assert reader.adopt() == len(written)
    kept = segments(tmp_path)
    assert kept == written[-len(kept) :]  # the newest stay
    assert sum(p.stat().st_size for p in kept) <= 150_000
    assert reader.evicted > 0
    assert reader.evicted + reader.pending() == 300
    batch = reader.take(500)
    assert batch is not None
    assert batch.events()[-1]["event_id"] == f"s-{reader.evicted + len(batch) - 1}"  # oldest kept first


def test_a_torn_line_longer_than_a_read_and_a_dangling_name_are_no_events(tmp_path: Path):
    from apimeter_client._spool import SpoolBacklog

    orphan = tmp_path / "00000000000000000001-1-deadbeef.spool"
    orphan.write_bytes(_line(0) + _line(1) + b'{"event_id":"torn","pad":"' + b"p" * 70_000)
    (tmp_path / "00000000000000000002-2-deadbeef.spool").symlink_to(tmp_path / "gone")
    spool = SpoolBacklog(tmp_path, max_bytes=1 << 20, batch_size=10)
    assert spool.adopt() == 1
    assert spool.pending() == 2
    batch = spool.take(10)
    assert batch is not None
    assert [e["event_id"] for e in batch.events()] == ["s-0", "s-1"]


def test_a_flush_waits_for_what_came_before_it_not_for_later_segments(tmp_path: Path):
    from apimeter_client._spool import SpoolBacklog

    spool = SpoolBacklog(tmp_path, max_bytes=1 << 20, batch_size=10)
    for i in range(10):
        spool.put_line(_line(i, pad=1000))
    marker = spool.mark()
    i = 10
    while len(segments(tmp_path)) < 2:  # tracked after the flush began, into a second segment
        spool.put_line(_line(i, pad=1000))
        i += 1
    assert not spool.reached(marker)
    batch = spool.take(10)
    assert batch is not None
    spool.done(batch)
    assert spool.reached(marker)
    assert spool.pending() == i - 10


def test_an_event_that_is_not_json_is_refused_before_the_spool(fake: FakeApimeter, tmp_path: Path):
    circular: dict[str, Any] = {}
    circular["self"] = circular
    errors: list[ApimeterError] = []
    client = Client("amk_test", fake.url, spool_dir=tmp_path, on_error=errors.append)
    client.track(**call(1, properties=circular))
    client.track(**call(2))
    assert client.flush(30)
    assert set(fake.events) == {"e-2"}
    assert [e.code for e in errors] == ["VALIDATION_ERROR"]
    assert errors[0].message.startswith("not JSON: Circular reference")
    assert client.stats.spooled == 1
    assert client.stats.rejected == 1
    client.close()


def test_an_orphan_that_is_only_a_torn_line_holds_no_event_and_is_cleared(tmp_path: Path):
    from apimeter_client._spool import SpoolBacklog

    with pytest.raises(ValueError, match="spool_fsync must be one of never, interval, always"):
        SpoolBacklog(tmp_path, max_bytes=1 << 20, batch_size=10, fsync="sometimes")
    orphan = tmp_path / "00000000000000000001-1-deadbeef.spool"
    orphan.write_bytes(b'{"event_id":"torn","method":"GE')  # the machine died in the first write
    spool = SpoolBacklog(tmp_path, max_bytes=1 << 20, batch_size=10)
    assert spool.adopt() == 1
    assert spool.pending() == 0
    assert spool.take(10) is None
    spool.close()
    assert segments(tmp_path) == []
