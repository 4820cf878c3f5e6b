"""Which endpoints and consumers a project's rollups keep apart, and folding the rest into ``other``.

A project may see unbounded endpoint paths (ids the normalizer missed) or consumers; each distinct
value costs rollup items in every bucket, so a project keeps at most ``distinct_endpoints`` and
``distinct_consumers`` of them (its plan's limits, overridable), first come first kept. An event
whose value is past the cap is marked folded when it is stored, so the stream and every later
recomputation count it as ``other`` alike.

The values a warm function has seen are remembered, so steady ingest costs no extra reads: a
batch's new values cost one BatchGetItem, and the values never seen before one small write each and
one more for the batch (two each when the project has no room left for all of them).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from apimeter.dal import rollups
from apimeter.domain.events import TrackedEvent
from apimeter.domain.rollups import CONSUMER, ENDPOINT, endpoint_name

FULL_RECHECK_SECONDS = 60.0  # how long a full project's refusal is remembered (a raised cap applies after)

_known: dict[tuple[str, str], set[str]] = {}
_full: dict[tuple[str, str], float] = {}


def _kept(project_id: str, dimension: str, values: set[str], cap: int) -> set[str]:
    """The subset of ``values`` the project keeps apart (registering new ones while under the cap)."""
    known = _known.setdefault((project_id, dimension), set())
    unknown = values - known
    if not unknown:
        return values
    known |= rollups.registered(project_id, dimension, unknown)
    full_until = _full.get((project_id, dimension), 0.0)
    new = sorted(unknown - known)
    if len(new) > 1 and full_until <= time.monotonic() and rollups.register_all(project_id, dimension, new, cap):
        known.update(new)
        return values & known
    for value in new:  # one at a time, first come first kept: the project is (nearly) full
        if full_until > time.monotonic():
            break
        if rollups.register(project_id, dimension, value, cap):
            known.add(value)
        else:
            full_until = time.monotonic() + FULL_RECHECK_SECONDS
            _full[(project_id, dimension)] = full_until
    return values & known


def fold(project_id: str, events: Sequence[TrackedEvent], caps: dict[str, int]) -> int:
    """Mark the events whose endpoint or consumer is past the project's caps; returns how many."""
    endpoints = _kept(project_id, ENDPOINT, {endpoint_name(e) for e in events}, caps["distinct_endpoints"])
    consumers = _kept(
        project_id, CONSUMER, {e.consumer for e in events if e.consumer is not None}, caps["distinct_consumers"]
    )
    folded = 0
    for event in events:
        marks = ("" if endpoint_name(event) in endpoints else "e") + (
            "c" if event.consumer is not None and event.consumer not in consumers else ""
        )
        if marks:
            event.folded = marks
            folded += 1
    return folded
