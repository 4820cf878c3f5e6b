"""The web dashboard: what a browser downloads, and how soon the overview shows its figures.

    python bench/dashboard.py [--url http://127.0.0.1:3000] [--loads 10] [--demo .offline/demo.json]

1. Size: every JavaScript and CSS file the page loads (dashboard/src, style.css, the vendored
   uPlot), raw and gzip-compressed (level 6, as CloudFront or any gzip-serving origin sends it).
2. Paint (needs a running stack, e.g. ``make dev`` then ``make demo``): headless Chromium signs in
   as the demo user once, then loads the overview ``--loads`` times in that tab. Each load is a
   full page load, as opening the dashboard is: the page, config.json, the silent refresh of the
   session, the user, roles and projects, then the summary. The time of the overview's first paint
   with data is the ``apimeter:overview-data`` mark the page sets in the frame after the summary
   cards are in the document (Performance API, from navigation start); first-contentful-paint is
   the browser's own entry. Each load waits for every panel of the previous one (its charts and
   tables) before it starts, as one person opening the dashboard finds an idle stack; loads are one
   at a time, on the same cores as the stack.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DASHBOARD = ROOT / "dashboard"


def assets() -> list[Path]:
    files = [*sorted((DASHBOARD / "src").rglob("*.js")), DASHBOARD / "style.css"]
    files += sorted(p for p in (DASHBOARD / "vendor").glob("*") if p.suffix in (".js", ".css"))
    return files


MARK = "const m = performance.getEntriesByName('apimeter:overview-data'); return m.length && m[0].startTime"
CONTENTFUL = "const p = performance.getEntriesByName('first-contentful-paint'); return p.length ? p[0].startTime : null"
# The first request of each kind on the way to the figures: what the page waited for.
STEPS = """const seen = {};
for (const e of performance.getEntriesByType('resource')) {
  const u = new URL(e.name); const name = u.pathname.replace(/prj_[a-z0-9]+/, '{project}');
  if (!(name in seen)) seen[name] = e.responseEnd;
}
return seen;"""


def size_report() -> tuple[int, int]:
    raw = packed = 0
    print("file                                  raw      gzip")
    for path in assets():
        data = path.read_bytes()
        compressed = len(gzip.compress(data, compresslevel=6))
        raw, packed = raw + len(data), packed + compressed
        print(f"{path.relative_to(DASHBOARD)!s:34} {len(data):7,d}  {compressed:7,d}")
    print(
        f"{'total JavaScript and CSS':34} {raw:7,d}  {packed:7,d}   ({packed / 1024:.1f} KiB compressed; budget 300 KB)"
    )
    return raw, packed


def settled(driver: Any) -> bool:
    from selenium.webdriver.common.by import By

    return bool(driver.find_elements(By.CSS_SELECTOR, "main#main")) and not driver.find_elements(
        By.CSS_SELECTOR, ".loading"
    )


def paint_report(url: str, demo: dict[str, str], loads: int) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from tests.e2e.browser import chromium, console_errors

    summary = f"{url}/v1/projects/{demo['project_id']}/metrics/summary?window=24h"
    request = urllib.request.Request(summary, headers={"x-api-key": demo["api_key"]})  # our own loopback stack
    with urllib.request.urlopen(request, timeout=30) as answer:  # our own loopback stack
        requests = json.loads(answer.read())["requests"]
    with chromium() as driver:
        wait = WebDriverWait(driver, 120, poll_frequency=0.05)
        driver.get(url + "/")
        wait.until(lambda d: d.find_elements(By.ID, "email"))
        driver.find_element(By.ID, "email").send_keys(demo["email"])
        driver.find_element(By.ID, "password").send_keys(demo["password"])
        driver.find_element(By.ID, "sign-in").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-metric="requests"]'))
        wait.until(settled)
        target = f"{url}/#/p/{demo['project_id']}/overview"
        marks, contentful, shown = [], [], ""
        steps: dict[str, list[float]] = {}
        complete: list[float] = []
        for _ in range(loads):
            driver.get("about:blank")
            driver.get(target)
            marks.append(float(wait.until(lambda d: d.execute_script(MARK))))
            fcp = driver.execute_script(CONTENTFUL)
            if fcp is not None:
                contentful.append(float(fcp))
            wait.until(settled)  # every panel in: the next load starts on an idle stack, as a user's would
            complete.append(driver.execute_script("return performance.now()"))
            for name, end in driver.execute_script(STEPS).items():
                steps.setdefault(name, []).append(float(end))
            shown = driver.find_element(By.CSS_SELECTOR, '[data-metric="requests"]').text
        errors = console_errors(driver)
    print(f"\noverview of {url} ({requests:,d} requests in the last 24 h; the page showed {shown})")
    print(f"  first paint with data: median {statistics.median(marks):.0f} ms, min {min(marks):.0f}, "
          f"max {max(marks):.0f} over {loads} loads")  # fmt: skip
    print(f"  every panel loaded: median {statistics.median(complete):.0f} ms")
    if contentful:
        print(f"  first contentful paint: median {statistics.median(contentful):.0f} ms")
    print("  on the way (median ms from navigation start to each response's end):")
    for name, ends in sorted(steps.items(), key=lambda kv: statistics.median(kv[1])):
        print(f"    {statistics.median(ends):6.0f}  {name}")
    if errors:
        print(f"  console errors: {errors}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:3000")
    parser.add_argument("--loads", type=int, default=10)
    parser.add_argument("--demo", type=Path, default=ROOT / ".offline" / "demo.json", help="the demo account")
    args = parser.parse_args()
    if not (DASHBOARD / "vendor" / "uPlot.iife.min.js").exists():
        print("dashboard/vendor is missing: run `make dashboard` first", file=sys.stderr)
        return 2
    size_report()
    if not args.demo.exists():
        print(f"\nno {args.demo}: start the stack (make dev) and fill it (make demo) to measure the paint")
        return 0
    try:
        urllib.request.urlopen(args.url + "/health", timeout=5).close()  # our own loopback stack
    except OSError:
        print(f"\nno stack answers at {args.url}: start it (make dev), fill it (make demo), then run this again")
        return 0
    paint_report(args.url, json.loads(args.demo.read_text()), args.loads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
