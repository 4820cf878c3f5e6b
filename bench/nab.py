"""Numenta Anomaly Benchmark (NAB) scoring, re-implemented from NAB's own rules (github numenta/NAB, MIT).

Follows ``nab/sweeper.py`` (row weights, threshold sweep), ``nab/optimizer.py`` (one threshold per profile
over all files together), ``nab/runner.py`` (normalization) and ``nab/util.py`` (probationary period):

* The first ``min(floor(0.15 * rows), 0.15 * 5000)`` rows of a file are probationary and not scored.
* A row is a detection when its anomaly score is ``>= threshold``.
* A window (rows ``a..b`` inclusive, width ``w``) is worth ``-fnWeight`` when nothing in it is detected;
  otherwise only its earliest detection counts, worth ``tpWeight * S(-(b - i + 1) / w) / S(-1)``: exactly
  ``tpWeight`` on the first row, falling towards 0 at the last.
* A detection outside windows costs ``fpWeight * S((i - b) / (w - 1))`` measured from the end of the previous
  window (``S`` is negative past a window, so FPs right after a window cost little), or the full ``fpWeight``
  before any window. ``S(x) = 2 / (1 + exp(5x)) - 1``, and ``-1`` for ``x >= 3``.
* The threshold maximizing the corpus total is found by sorting every scored row of every file by score
  and sweeping it downwards once (as NAB's sweeper does); ties keep the highest threshold.
* Normalized score ``= 100 * (raw - null) / (perfect - null)`` where ``perfect = windows * tpWeight`` and
  ``null`` is the optimized raw score of the null detector (a constant score: it ends up flagging nothing,
  ``-windows * fnWeight``).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

PROBATION_FRACTION = 0.15
NO_DETECTION = 1.1  # NAB's first threshold: above any score in [0, 1], so nothing is detected


@dataclass(frozen=True)
class Costs:
    tp: float
    fp: float
    fn: float


@dataclass(frozen=True)
class DataFile:
    name: str  # "category/file.csv", as in combined_windows.json
    timestamps: list[datetime]
    values: list[float]
    windows: list[tuple[int, int]]  # first and last row of each window, inclusive

    @property
    def probation(self) -> int:
        return probation_length(len(self.values))


@dataclass(frozen=True)
class Result:
    threshold: float
    raw: float
    null: float
    perfect: float
    detected: int  # windows with a detection
    missed: int
    false_positives: int  # detected rows outside windows

    @property
    def score(self) -> float:
        return 100 * (self.raw - self.null) / (self.perfect - self.null)


def probation_length(rows: int) -> int:
    return int(min(math.floor(PROBATION_FRACTION * rows), PROBATION_FRACTION * 5000))


def scaled_sigmoid(position: float) -> float:
    if position >= 3.0:
        return -1.0
    return 2 / (1 + math.exp(5 * position)) - 1


def load_profiles(root: Path) -> dict[str, Costs]:
    profiles = json.loads((root / "profiles.json").read_text())
    return {
        name: Costs(tp=p["CostMatrix"]["tpWeight"], fp=p["CostMatrix"]["fpWeight"], fn=p["CostMatrix"]["fnWeight"])
        for name, p in profiles.items()
    }


def load_corpus(root: Path) -> list[DataFile]:
    """Every file of ``root`` that has an entry in ``combined_windows.json``, sorted by name."""
    labels: dict[str, list[list[str]]] = json.loads((root / "combined_windows.json").read_text())
    files = []
    for name in sorted(labels):
        path = root / name
        if not path.exists():
            continue
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        stamps = [datetime.fromisoformat(r["timestamp"]) for r in rows]
        windows = []
        for start, end in labels[name]:
            t1, t2 = datetime.fromisoformat(start), datetime.fromisoformat(end)
            inside = [i for i, t in enumerate(stamps) if t1 <= t <= t2]
            if inside:
                windows.append((inside[0], inside[-1]))
        files.append(DataFile(name, stamps, [float(r["value"]) for r in rows], windows))
    return files


def row_weights(file: DataFile, costs: Costs) -> list[tuple[int | None, float]]:
    """For each scored row (after the probationary period): its window's index in the file or None, and the
    score change a detection there would bring (TP worth for window rows, a negative FP cost otherwise)."""
    max_tp = scaled_sigmoid(-1.0)
    weights: list[tuple[int | None, float]] = []
    current, previous = -1, -1  # window containing / last window ending before the row
    for i in range(len(file.values)):
        while current + 1 < len(file.windows) and file.windows[current + 1][0] <= i:
            current += 1
        if current >= 0 and i > file.windows[current][1]:
            previous, inside = current, False
        else:
            inside = current >= 0
        if i < file.probation:
            continue
        if inside:
            start, end = file.windows[current]
            position = -(end - i + 1) / (end - start + 1)
            weights.append((current, costs.tp * scaled_sigmoid(position) / max_tp))
        elif previous < 0:
            weights.append((None, -costs.fp))
        else:
            start, end = file.windows[previous]
            position = (i - end) / (end - start) if end > start else 3.0
            weights.append((None, costs.fp * scaled_sigmoid(position)))
    return weights


def _scored_windows(file: DataFile) -> int:
    return sum(1 for _, end in file.windows if end >= file.probation)


def sweep(files: Sequence[DataFile], scores: Mapping[str, Sequence[float]], costs: Costs) -> list[tuple[float, float]]:
    """Raw corpus score for every threshold worth trying, from the highest threshold down."""
    rows: list[tuple[float, int, int | None, float]] = []  # score, window key, window index, weight
    windows = 0
    for n, file in enumerate(files):
        file_scores = scores[file.name]
        for i, (window, weight) in enumerate(row_weights(file, costs), start=file.probation):
            rows.append((file_scores[i], n, window, weight))
        windows += _scored_windows(file)
    rows.sort(key=lambda r: r[0], reverse=True)
    total = -costs.fn * windows
    best: dict[tuple[int, int], float] = {}  # earliest detection's worth so far, per window
    results = [(NO_DETECTION, total)]
    for k, (score, n, window, weight) in enumerate(rows):
        if window is None:
            total += weight
        else:
            previous = best.get((n, window), -costs.fn)
            if weight > previous:  # an earlier row of the window: window rows are worth more the earlier they are
                best[(n, window)] = weight
                total += weight - previous
        if k + 1 == len(rows) or rows[k + 1][0] != score:
            results.append((score, total))
    return results


def score_at(
    files: Sequence[DataFile], scores: Mapping[str, Sequence[float]], costs: Costs, threshold: float
) -> Result:
    """Score the corpus at one threshold, file by file (a separate path from the sweep, used to check it)."""
    raw, detected, missed, false_positives = 0.0, 0, 0, 0
    for file in files:
        first: dict[int, float] = {}
        for i, (window, weight) in enumerate(row_weights(file, costs), start=file.probation):
            if scores[file.name][i] < threshold:
                continue
            if window is None:
                raw += weight
                false_positives += 1
            elif window not in first:
                first[window] = weight
        scored = _scored_windows(file)
        raw += sum(first.values()) - costs.fn * (scored - len(first))
        detected, missed = detected + len(first), missed + scored - len(first)
    windows = sum(len(f.windows) for f in files)
    null = optimize(files, {f.name: [0.5] * len(f.values) for f in files}, costs)[1]
    return Result(threshold, raw, null, windows * costs.tp, detected, missed, false_positives)


def optimize(files: Sequence[DataFile], scores: Mapping[str, Sequence[float]], costs: Costs) -> tuple[float, float]:
    """The threshold with the best raw corpus score, and that score."""
    best_threshold, best_raw = NO_DETECTION, -math.inf
    for threshold, raw in sweep(files, scores, costs):
        if raw > best_raw:
            best_threshold, best_raw = threshold, raw
    return best_threshold, best_raw


def evaluate(
    files: Sequence[DataFile], scores: Mapping[str, Sequence[float]], profiles: Mapping[str, Costs]
) -> dict[str, Result]:
    """Per profile: optimize one threshold over all files together, then score the corpus with it."""
    results = {}
    for name, costs in profiles.items():
        threshold, raw = optimize(files, scores, costs)
        result = score_at(files, scores, costs, threshold)
        assert math.isclose(result.raw, raw, abs_tol=1e-9), (name, result.raw, raw)
        results[name] = result
    return results


def perfect_scores(files: Sequence[DataFile]) -> dict[str, list[float]]:
    """A detector that fires exactly on the first row of every window."""
    scores = {f.name: [0.0] * len(f.values) for f in files}
    for f in files:
        for start, _ in f.windows:
            scores[f.name][start] = 1.0
    return scores
