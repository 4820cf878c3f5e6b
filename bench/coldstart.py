"""Cold start: how long a handler module takes to import in a fresh interpreter, as Lambda's first
invocation pays it.

    python bench/coldstart.py [FunctionLogicalId ...] [--runs 7]   (default: the authorizer and ingest)

Each run starts a new Python (this one's version), puts the layer and the function's folder on the
path as Lambda does, sets the template's environment for the function (tracing on, as deployed),
and times the import of the handler module only: not the interpreter's own start, not the first
invocation. Prints the median and the range of the runs per function, in milliseconds. Bytecode is
whatever the tree holds: run it twice to see a warm ``__pycache__`` (Lambda cannot write one, so
a package that does not ship compiled bytecode pays compilation on every cold start).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ("AuthorizerFunction", "IngestFunction")
# What Lambda sets that the code may read; no credentials: nothing is called at import.
LAMBDA = {"AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
          "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "LAMBDA_TASK_ROOT": "/var/task"}  # fmt: skip
PROBE = """
import importlib.util, sys, time
started = time.perf_counter()
spec = importlib.util.spec_from_file_location("app", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(time.perf_counter() - started)
"""


def environment(logical_id: str) -> tuple[Path, dict[str, str]]:
    sys.path.insert(0, str(ROOT))
    from offline.template import read_stack

    function = read_stack(ROOT).functions[logical_id]
    code = function.code_dir / f"{function.handler.rsplit('.', 1)[0].replace('.', '/')}.py"
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    path = os.pathsep.join((str(function.code_dir), str(ROOT / "layers" / "apimeter"), *sys.path[1:]))
    env = keep | LAMBDA | dict(function.environment) | {"PYTHONPATH": path, "AWS_LAMBDA_FUNCTION_NAME": logical_id}
    return code, env


def measure(logical_id: str, runs: int) -> list[float]:
    code, env = environment(logical_id)
    seconds = []
    for _ in range(runs):
        out = subprocess.run([sys.executable, "-c", PROBE, str(code)], env=env, capture_output=True, text=True,
                             check=True, cwd=code.parent)  # fmt: skip # nosec B603
        seconds.append(float(out.stdout.strip().splitlines()[-1]))
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("functions", nargs="*", default=list(DEFAULT))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = {}
    for logical_id in args.functions:
        seconds = measure(logical_id, args.runs)
        results[logical_id] = [round(s * 1000, 1) for s in seconds]
        print(f"cold start {logical_id}: import {statistics.median(seconds) * 1000:.0f} ms median of {args.runs} "
              f"(range {min(seconds) * 1000:.0f}-{max(seconds) * 1000:.0f} ms, Python "
              f"{sys.version_info.major}.{sys.version_info.minor})")  # fmt: skip
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
