"""The soak under faults (tools/soak.py, ``make soak``), short: the same code path, every fault kind.

Rates are raised above the full soak's so that each kind happens in 1,500 events and a few dozen
invocations (a few minutes of moto on a busy machine); the checks are the full soak's: rollups
against a direct count of the events table, every accepted event stored, each crossed threshold
alerting once, every answer accepted or retryable. A third of the requests go over HTTP.
"""

from __future__ import annotations

import pytest

from offline.faults import KINDS
from tools import soak

pytestmark = pytest.mark.slow  # a couple of minutes of moto writes: make test runs it apart

RATES = {"throttle": 0.03, "throttle_exhausted": 0.001, "unprocessed": 0.03, "timeout": 0.12,
         "stream_crash": 0.12, "redeliver": 0.15, "reorder": 0.3, "late": 0.03}  # fmt: skip


def test_a_short_soak_under_every_fault_has_no_mismatch() -> None:
    report = soak.run(events=1500, seed=7, batch=150, rates=RATES, say=lambda _: None, http_share=0.35)
    text = "\n".join(report.lines())
    print(text)
    assert report.mismatches == [], text
    assert report.events == 1500, text
    assert 0 < report.over_http < report.requests, text
    assert all(report.faults[kind] > 0 for kind in KINDS), text
    assert report.alerts == len(soak.THRESHOLDS), text
    assert set(report.answers) <= {"202", "429 with Retry-After", "503 with Retry-After",
                                   "gateway 500 (invocation timed out)"}, text  # fmt: skip
