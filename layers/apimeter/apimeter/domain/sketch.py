"""A mergeable latency sketch with a stated relative error (the DDSketch log mapping).

A value v > 0 falls in bin ``ceil(log_gamma(v))``; every value in a bin is within ``RELATIVE_ACCURACY``
of the bin's representative, so any quantile read from the bins is within 1 % of the exact
quantile of the same data. Bins are plain counts, so sketches merge by adding counts: minutes into
hours and days, endpoints into projects, with no raw data. Stored as one numeric attribute per bin,
which DynamoDB can increment with ``ADD`` without reading the item first.

Written here rather than taken from the ``ddsketch`` package because the value of a sketch for us is
its storage layout (top-level counters updated in place); the mapping itself is a few lines.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

RELATIVE_ACCURACY = 0.01
GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
_LOG_GAMMA = math.log(GAMMA)
# Latencies below one microsecond are indistinguishable from zero for API calls.
MIN_TRACKED_MS = 0.001
ZERO_BIN = "z"


def bin_of(value_ms: float) -> str:
    """The bin name for a latency in milliseconds."""
    if value_ms < MIN_TRACKED_MS:
        return ZERO_BIN
    return str(math.ceil(math.log(value_ms) / _LOG_GAMMA))


def representative(bin_name: str) -> float:
    if bin_name == ZERO_BIN:
        return 0.0
    index = int(bin_name)
    return 2 * GAMMA**index / (GAMMA + 1)


def quantiles(bins: Mapping[str, int], qs: Iterable[float]) -> dict[float, float | None]:
    """Quantiles (0..1) of the values counted in ``bins``; ``None`` for an empty sketch.

    The rank convention is "nearest rank": the q-quantile is the smallest value with at least a
    fraction q of the values at or below it (the element at 1-based rank ceil(q * n)).
    """
    ordered = sorted(((representative(b), c) for b, c in bins.items() if c > 0), key=lambda pair: pair[0])
    total = sum(count for _, count in ordered)
    wanted = sorted(set(qs))
    result: dict[float, float | None] = {}
    if total == 0:
        return dict.fromkeys(wanted)
    cumulative = 0
    position = 0
    for q in wanted:
        rank = max(0, math.ceil(q * total) - 1)
        while cumulative + ordered[position][1] <= rank:
            cumulative += ordered[position][1]
            position += 1
        result[q] = ordered[position][0]
    return result
