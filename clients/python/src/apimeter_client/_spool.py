"""A bounded, append-only spool on disk: what ``track()`` wrote survives a crash or a ``kill -9``.

The directory holds segment files of JSON lines, ``<created_ns>-<pid>-<random>.spool``, each with an
``.ack`` file recording how far the server has acknowledged it. A process writes only its own
segments and holds an exclusive ``flock`` on each while it lives; a segment nobody holds belongs to a
process that is gone, and the next client to find it adopts and sends it. Several processes (a
gunicorn's workers) may share one directory.

``track()`` returns once its line is in the kernel (``os.write``), which survives the process being
killed; ``fsync`` ("interval" or "always") also covers the machine crashing. Past ``max_bytes`` the
oldest segment is dropped whole and its unsent events counted (per process: each bounds its own).
Acknowledgements are appended after the server answers, so a crash between the two re-sends one batch,
which the server recognises as duplicates by ``event_id``.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from apimeter_client._backlog import FULL, MAX_BODY_BYTES, QUEUED, REFUSED, Batch

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: one process per spool directory
    fcntl = None  # type: ignore[assignment]

FSYNC_POLICIES = ("never", "interval", "always")
SUFFIX = ".spool"
_READ_CHUNK = 1 << 20


@dataclass(slots=True, eq=False)  # one object per file: compared and hashed by identity
class _Segment:
    path: Path
    fd: int
    size: int  # bytes of complete lines
    lines: int  # complete lines
    acked: int = 0  # bytes acknowledged
    acked_lines: int = 0
    ack_fd: int | None = None
    gone: bool = False
    reading: bool = False  # its fd is in use by the worker outside the lock
    evicted_inflight: int = 0  # events of it in the worker's hands when it was dropped

    @property
    def name(self) -> str:
        return self.path.name


@dataclass(frozen=True, slots=True)
class Marker:
    name: str
    size: int


class SpoolBacklog:
    def __init__(
        self, directory: str | os.PathLike[str], max_bytes: int, batch_size: int, fsync: str = "never"
    ) -> None:
        if fsync not in FSYNC_POLICIES:
            raise ValueError(f"spool_fsync must be one of {', '.join(FSYNC_POLICIES)}")
        self._dir = Path(directory)
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._max_bytes = max_bytes
        self._segment_bytes = max(64 << 10, min(8 << 20, max_bytes // 16))
        self._fsync = fsync
        self._batch_size = batch_size
        self._unsent = 0
        self._lock = threading.RLock()  # re-entrant: a signal handler may flush() while track() holds it
        self._segments: list[_Segment] = []  # oldest first
        self._active: _Segment | None = None
        self._bytes = 0
        self._inflight: Batch | None = None
        self._dirty: set[_Segment] = set()  # written since the last fsync ("interval")
        self.written = 0  # lines this process wrote
        self.evicted = 0  # unsent events dropped by the bound
        self.refused = 0  # events the disk would not take

    # -- the app's side -------------------------------------------------------------------------

    def put_line(self, line: bytes) -> int:
        """Appends one encoded event (with its newline): FULL when a batch is ready, QUEUED, or REFUSED
        when the disk would not take it."""
        with self._lock:
            try:
                active = self._active
                if active is None or active.size >= self._segment_bytes:
                    active = self._rotate()
                view = memoryview(line)
                while view:
                    view = view[os.write(active.fd, view) :]
                if self._fsync == "always":
                    os.fsync(active.fd)
                elif self._fsync == "interval":
                    self._dirty.add(active)
            except OSError:
                self.refused += 1
                return REFUSED
            active.size += len(line)
            active.lines += 1
            self._bytes += len(line)
            self._unsent += 1
            self.written += 1
            if self._bytes > self._max_bytes:
                self._evict()
            return FULL if self._unsent >= self._batch_size else QUEUED

    def _rotate(self) -> _Segment:
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        path = self._dir / name
        # Locked under a name nobody adopts, then renamed: another process never sees it unlocked.
        hidden = self._dir / (name + ".new")
        fd = os.open(hidden, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(hidden, path)
        except OSError:
            os.close(fd)
            raise
        if self._fsync != "never":
            _sync_directory(self._dir)
        segment = _Segment(path, fd, size=0, lines=0)
        self._segments.append(segment)
        self._active = segment
        return segment

    def _evict(self) -> None:
        """Drop the oldest segments (never the one being written) until the spool fits its bound."""
        while self._bytes > self._max_bytes and self._segments[0] is not self._active:
            oldest = self._segments[0]
            inflight = len(self._inflight) if self._inflight and self._inflight.source is oldest else 0
            lost = max(oldest.lines - oldest.acked_lines - inflight, 0)
            self.evicted += lost
            self._unsent -= lost
            oldest.evicted_inflight = inflight  # still being sent: settled by the worker
            self._remove(oldest)

    # -- the worker's side ------------------------------------------------------------------------

    def take(self, max_items: int) -> Batch | None:
        with self._lock:
            segment = next((s for s in self._segments if s.acked < s.size), None)
            if segment is None:
                return None
            start, stop = segment.acked, min(segment.size, segment.acked + MAX_BODY_BYTES)
            segment.reading = True
        try:
            data = os.pread(segment.fd, stop - start, start)
        finally:
            with self._lock:
                segment.reading = False
                if segment.gone:
                    _close(segment)
        if segment.gone:
            return self.take(max_items)
        cut = data.rfind(b"\n")
        if cut < 0:  # one line longer than any request may be: it can never be sent
            return self._oversized(segment, start)
        lines = data[:cut].split(b"\n")[:max_items]
        batch = Batch(lines, source=segment, end=start + sum(len(line) + 1 for line in lines))
        with self._lock:
            self._inflight = batch
        return batch

    def _oversized(self, segment: _Segment, start: int) -> Batch:
        """A line longer than a request body: hand it on alone, so that it is refused and reported."""
        end = start
        while True:
            chunk = os.pread(segment.fd, _READ_CHUNK, end)
            cut = chunk.find(b"\n")
            if cut >= 0 or not chunk:
                end += cut + 1 if cut >= 0 else len(chunk)
                break
            end += len(chunk)
        line = os.pread(segment.fd, end - start, start).rstrip(b"\n")
        batch = Batch([line], source=segment, end=end)
        with self._lock:
            self._inflight = batch
        return batch

    def done(self, batch: Batch) -> None:
        """The batch is settled (sent, refused or dropped): it is never read again."""
        segment: _Segment = batch.source
        with self._lock:
            if self._inflight is batch:
                self._inflight = None
            if segment.gone:
                self._unsent -= segment.evicted_inflight
                segment.evicted_inflight = 0
                return
            segment.acked = max(segment.acked, batch.end)
            segment.acked_lines += len(batch)
            self._unsent -= len(batch)
            try:
                if segment.ack_fd is None:
                    segment.ack_fd = os.open(_ack_path(segment.path), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                os.write(segment.ack_fd, b"%d\n" % segment.acked)
            except OSError:
                pass  # not recorded: a later client re-sends these, and the server counts them once
            if segment.acked >= segment.size and (
                segment is not self._active or segment.size >= self._segment_bytes // 4
            ):
                if segment is self._active:
                    self._active = None
                self._remove(segment)

    def pending(self) -> int:
        with self._lock:
            return self._unsent

    def mark(self) -> Marker | None:
        with self._lock:
            newest = self._segments[-1] if self._segments else None
            return Marker(newest.name, newest.size) if newest else None

    def reached(self, marker: Marker | None) -> bool:
        if marker is None:
            return True
        with self._lock:
            for segment in self._segments:
                if segment.name > marker.name:
                    break
                target = marker.size if segment.name == marker.name else segment.size
                if segment.acked < target:
                    return False
            return True

    def sync(self) -> None:
        """The "interval" policy: the worker fsyncs every segment written since its last wake-up,
        outside the lock, so that ``track()`` never waits for the disk."""
        if not self._dirty:
            return
        with self._lock:
            dirty = [s for s in self._dirty if not s.gone]
            self._dirty.clear()
            for segment in dirty:
                segment.reading = True
        for segment in dirty:
            try:
                with contextlib.suppress(OSError):
                    os.fsync(segment.fd)
            finally:
                with self._lock:
                    segment.reading = False
                    if segment.gone:
                        _close(segment)

    def adopt(self) -> int:
        """Takes over the segments of processes that are gone; returns how many were found. The worker
        calls it (it reads each segment once to count its events), first before any flush is judged."""
        with self._lock:
            known = {s.name for s in self._segments}
        found: list[_Segment] = []
        for path in sorted(self._dir.glob("*" + SUFFIX)):
            if path.name not in known and (segment := _claim(path)) is not None:
                found.append(segment)
        if found:
            with self._lock:
                self._segments = sorted(self._segments + found, key=lambda s: s.name)
                self._bytes += sum(s.size for s in found)
                self._unsent += sum(s.lines - s.acked_lines for s in found)
                if self._bytes > self._max_bytes:
                    self._evict()
        return len(found)

    def close(self) -> int:
        """Releases the spool to the next client; a fully sent segment is removed. Nothing is lost."""
        with self._lock:
            for segment in list(self._segments):
                if segment.acked >= segment.size:
                    self._remove(segment)
                else:
                    segment.gone = True
                    _close(segment)
            self._segments.clear()
            self._active = None
            self._unsent = 0
            return 0

    def forget(self) -> None:
        """In a forked child: the parent's segments stay the parent's (its locks are untouched)."""
        for segment in self._segments:
            segment.gone = True
            _close(segment)
        self._segments = []
        self._active = None
        self._bytes = self._unsent = 0
        self.written = self.evicted = self.refused = 0
        self._inflight = None
        self._dirty.clear()
        self._lock = threading.RLock()

    def _remove(self, segment: _Segment) -> None:
        """Unlink first, then unlock: nobody can adopt a removed segment."""
        for path in (segment.path, _ack_path(segment.path)):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        self._segments.remove(segment)
        self._bytes -= segment.size
        segment.gone = True
        if not segment.reading:
            _close(segment)


def _ack_path(path: Path) -> Path:
    return path.with_name(path.name + ".ack")


def _claim(path: Path) -> _Segment | None:
    """Locks an orphaned segment, or None when its writer still lives (or it vanished)."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        if os.fstat(fd).st_ino != os.stat(path).st_ino:
            raise FileNotFoundError(path)  # removed and replaced meanwhile
        size = _complete_size(fd, os.fstat(fd).st_size)
        acked = min(_acked(_ack_path(path)), size)
        return _Segment(path, fd, size, _lines(fd, 0, size), acked, _lines(fd, 0, acked))
    except OSError:
        os.close(fd)
        return None


def _lines(fd: int, start: int, stop: int) -> int:
    count = 0
    while start < stop:
        chunk = os.pread(fd, min(_READ_CHUNK, stop - start), start)
        if not chunk:
            break
        count += chunk.count(b"\n")
        start += len(chunk)
    return count


def _complete_size(fd: int, size: int) -> int:
    """Bytes up to the last newline: a line torn by a machine crash is not an event."""
    end = size
    while end > 0:
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        end = start
    return 0


def _acked(path: Path) -> int:
    try:
        records = path.read_bytes().split(b"\n")
    except OSError:
        return 0
    complete = [r for r in records[:-1] if r.isdigit()]  # the last record may be torn
    return int(complete[-1]) if complete else 0


def _close(segment: _Segment) -> None:
    for fd in (segment.fd, segment.ack_fd):
        if fd is not None and fd >= 0:
            with contextlib.suppress(OSError):
                os.close(fd)
    segment.fd = -1
    segment.ack_fd = None


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
