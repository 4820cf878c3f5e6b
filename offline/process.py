"""``python -m offline`` as a child process, for the end-to-end tests and the benchmarks: started on
a free loopback port, waited for until it says it is ready, its output kept, stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from offline.stack import free_port

ROOT = Path(__file__).resolve().parent.parent


class OfflineProcess:
    def __init__(self, state_dir: Path, arguments: Sequence[str] = ()) -> None:
        self.state_dir = state_dir
        self.arguments = list(arguments)
        self.port = free_port()
        self.process: subprocess.Popen[str] | None = None
        self.output: list[str] = []

    def start(self, timeout: float) -> float:
        """Start it and wait for its "ready in" line; the seconds that took. One that is not ready
        in ``timeout`` is stopped, and its output raised."""
        started = time.monotonic()
        command = [sys.executable, "-m", "offline", "--port", str(self.port), "--state-dir", str(self.state_dir),
                   *self.arguments]  # fmt: skip
        self.process = subprocess.Popen(  # noqa: S603 - this interpreter, our own module # nosec B603
            command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=dict(os.environ)
        )
        ready = threading.Event()

        def read(stream: Any) -> None:
            for line in stream:
                self.output.append(line)
                if "ready in" in line:
                    ready.set()

        threading.Thread(target=read, args=(self.process.stdout,), daemon=True).start()
        if not ready.wait(timeout):
            self.stop()
            raise RuntimeError("offline stack did not start:\n" + "".join(self.output))
        return time.monotonic() - started

    def stop(self) -> object:
        """Each user stops it its own way (``terminate`` is the common step)."""
        raise NotImplementedError

    def terminate(self, timeout: float) -> bool:
        """SIGTERM (it finishes requests, drains its streams and saves), then wait; False if it has
        not ended within ``timeout``."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True
