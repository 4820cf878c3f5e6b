"""Cold start: how long a handler module takes to import in a fresh interpreter, as Lambda's first
invocation pays it.

    python bench/coldstart.py [FunctionLogicalId ...] [--runs 7]   (default: the authorizer and ingest)

The layer is built as ``sam build`` builds it (layers/apimeter/Makefile: the pinned requirements
and the apimeter package, compiled to bytecode), for this machine's platform instead of arm64, into
.cache/coldstart. Each run starts a new Python (this one's version) that sees only the standard
library, the layer and the function's folder, as on Lambda (none of the development virtualenv's
extra packages), sets the template's environment for the function (tracing on, as deployed), and
times the import of the handler module only: not the interpreter's own start, not the first
invocation. Prints the median and the range per function, in milliseconds, with the layer's
bytecode (as shipped) and without it (what a layer without bytecode pays: Lambda cannot write
``__pycache__``, so it compiles every module on every cold start).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAYER = ROOT / ".cache" / "coldstart" / "layer"
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


def build_layer() -> Path:
    """The layer as the build makes it, for this platform; rebuilt when its inputs change."""
    source = ROOT / "layers" / "apimeter"
    digest = hashlib.sha256((source / "requirements.txt").read_bytes() + (source / "Makefile").read_bytes())
    for module in sorted((source / "apimeter").rglob("*.py")):
        digest.update(module.read_bytes())
    stamp = LAYER / ".inputs"
    if stamp.exists() and stamp.read_text() == digest.hexdigest():
        return LAYER / "python"
    shutil.rmtree(LAYER, ignore_errors=True)
    LAYER.mkdir(parents=True)
    subprocess.run(["make", "--no-print-directory", "-s", "-C", str(source), "build-ApimeterLayer",
                    f"ARTIFACTS_DIR={LAYER}", f"PYTHON={sys.executable}", "PLATFORMS="],
                   check=True, env=os.environ | {"PIP_QUIET": "2"})  # fmt: skip # nosec B603 B607
    stamp.write_text(digest.hexdigest())
    return LAYER / "python"


def environment(logical_id: str, layer: Path) -> tuple[Path, dict[str, str]]:
    sys.path.insert(0, str(ROOT))
    from offline.template import read_stack

    function = read_stack(ROOT).functions[logical_id]
    code = function.code_dir / f"{function.handler.rsplit('.', 1)[0].replace('.', '/')}.py"
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    path = os.pathsep.join((str(function.code_dir), str(layer)))
    env = keep | LAMBDA | dict(function.environment) | {"PYTHONPATH": path, "AWS_LAMBDA_FUNCTION_NAME": logical_id}
    return code, env


def measure(logical_id: str, runs: int, layer: Path, bytecode: bool) -> list[float]:
    """Import times of the handler in fresh interpreters (-S: no site-packages; -B: write no
    bytecode, as Lambda cannot), the layer's bytecode used or not."""
    code, env = environment(logical_id, layer)
    seconds = []
    with tempfile.TemporaryDirectory() as empty:
        if not bytecode:  # compiled files are looked for here, and none is found
            env = env | {"PYTHONPYCACHEPREFIX": empty}
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-S", "-B", "-c", PROBE, str(code)], env=env, capture_output=True,
                                 text=True, check=True, cwd=code.parent)  # fmt: skip # nosec B603
            seconds.append(float(out.stdout.strip().splitlines()[-1]))
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("functions", nargs="*", default=list(DEFAULT))
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    layer = build_layer()
    results = {}
    version = f"Python {sys.version_info.major}.{sys.version_info.minor}"
    for logical_id in args.functions:
        for bytecode in (True, False):
            seconds = measure(logical_id, args.runs, layer, bytecode)
            label = "" if bytecode else " (layer without bytecode)"
            results[logical_id + label] = [round(s * 1000, 1) for s in seconds]
            print(f"cold start {logical_id}{label}: import {statistics.median(seconds) * 1000:.0f} ms median of "
                  f"{args.runs} (range {min(seconds) * 1000:.0f}-{max(seconds) * 1000:.0f} ms, {version})")  # fmt: skip
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
