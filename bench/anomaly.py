"""Anomaly detector benchmark: the product's streaming detector scored with NAB's rules, no network.

Runs ``apimeter.domain.anomaly.Detector`` point by point over every labelled file of a Numenta Anomaly
Benchmark folder (default ../shared/data/nab: NAB's 17 realAWSCloudwatch series and realKnownCause
nyc_taxi, github numenta/NAB, MIT), one detector per file with the same configuration, and scores the
anomaly scores with ``bench/nab.py`` (one threshold per profile over all files, normalized so the
null detector is 0 and a perfect one 100). Prints per profile the normalized score and threshold, and
the detector's points/s on one core. ``--check`` also scores the null and perfect detectors.

    python bench/anomaly.py [NAB_DIR] [--check]
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import nab  # bench/ is on sys.path when run as a script

from apimeter.domain.anomaly import Detector

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT.parent / "shared" / "data" / "nab"
# Standard-profile scores on the whole NAB corpus (58 files), from NAB's scoreboard.
ANCHORS = {"ARTime": 74.9, "Numenta HTM": 70.1, "Windowed Gaussian": 39.6, "random": 11.0}


def detect(file: nab.DataFile) -> list[float]:
    stamps = [t.timestamp() for t in file.timestamps]
    step = statistics.median(b - a for a, b in itertools.pairwise(stamps))
    detector = Detector(step_seconds=round(step))
    return [detector.update(t, v).score for t, v in zip(stamps, file.values, strict=True)]


def table(title: str, results: dict[str, nab.Result]) -> None:
    print(title)
    for profile, r in results.items():
        print(
            f"  {profile:<20} {r.score:6.1f}   threshold {r.threshold:.4f}   raw {r.raw:7.2f}"
            f"   windows {r.detected}/{r.detected + r.missed}   false positives {r.false_positives}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("nab_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--check", action="store_true", help="also score the null and perfect detectors")
    args = parser.parse_args()
    if not (args.nab_dir / "combined_windows.json").exists():
        print(f"missing {args.nab_dir / 'combined_windows.json'}", file=sys.stderr)
        return 1
    files = nab.load_corpus(args.nab_dir)
    profiles = nab.load_profiles(args.nab_dir)
    points = sum(len(f.values) for f in files)
    windows = sum(len(f.windows) for f in files)

    started = time.perf_counter()
    scores = {f.name: detect(f) for f in files}
    elapsed = time.perf_counter() - started
    results = nab.evaluate(files, scores, profiles)

    print(f"NAB scoring of apimeter's Detector on {len(files)} files ({points:,} points, {windows} windows)")
    table("  normalized score per profile (null 0, perfect 100):", results)
    print(f"  detection: {elapsed:.2f} s, {points / elapsed:,.0f} points/s on one core")
    anchors = ", ".join(f"{name} {score}" for name, score in ANCHORS.items())
    print(f"  published standard scores on the whole 58-file corpus, for context only: {anchors}")
    print("  (this corpus is a subset: realAWSCloudwatch and nyc_taxi; the constants were tuned on it)")
    if args.check:
        null = {f.name: [0.5] * len(f.values) for f in files}
        table("check, null detector (expect 0):", nab.evaluate(files, null, profiles))
        table("check, perfect detector (expect 100):", nab.evaluate(files, nab.perfect_scores(files), profiles))
    return 0


if __name__ == "__main__":
    sys.exit(main())
