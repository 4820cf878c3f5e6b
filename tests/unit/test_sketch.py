from __future__ import annotations

import math
import random

import pytest

from apimeter.domain import sketch


def exact(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def bins_of(values: list[float]) -> dict[str, int]:
    bins: dict[str, int] = {}
    for value in values:
        name = sketch.bin_of(value)
        bins[name] = bins.get(name, 0) + 1
    return bins


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_quantiles_within_the_stated_relative_error(seed: int) -> None:
    rng = random.Random(seed)
    values = [rng.lognormvariate(3, 1) if rng.random() < 0.95 else rng.lognormvariate(7, 0.5) for _ in range(20_000)]
    qs = (0.5, 0.9, 0.95, 0.99, 0.999)
    estimated = sketch.quantiles(bins_of(values), qs)
    for q in qs:
        truth = exact(values, q)
        got = estimated[q]
        assert got is not None
        assert abs(got - truth) <= sketch.RELATIVE_ACCURACY * truth, (q, got, truth)


def test_merging_bins_equals_sketching_the_union() -> None:
    rng = random.Random(7)
    a = [rng.expovariate(0.01) for _ in range(3000)]
    b = [rng.expovariate(0.1) for _ in range(5000)]
    merged = bins_of(a)
    for name, count in bins_of(b).items():
        merged[name] = merged.get(name, 0) + count
    assert merged == bins_of(a + b)
    assert sketch.quantiles(merged, [0.5]) == sketch.quantiles(bins_of(a + b), [0.5])


def test_zero_and_tiny_latencies_and_empty_sketch() -> None:
    assert sketch.bin_of(0.0) == sketch.ZERO_BIN
    assert sketch.quantiles({sketch.ZERO_BIN: 3}, [0.5]) == {0.5: 0.0}
    assert sketch.quantiles({}, [0.5, 0.99]) == {0.5: None, 0.99: None}


def test_nearest_rank_takes_the_larger_of_two_for_high_quantiles() -> None:
    result = sketch.quantiles(bins_of([42.0, 420.0]), [0.5, 0.99])
    assert result[0.5] == pytest.approx(42.0, rel=sketch.RELATIVE_ACCURACY)
    assert result[0.99] == pytest.approx(420.0, rel=sketch.RELATIVE_ACCURACY)
