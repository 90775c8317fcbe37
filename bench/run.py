"""``make bench``: cold starts, built artifacts, DynamoDB round trips and the automation at scale,
each against its floor; writes ``bench/results.json`` and ``docs/benchmarks.md``.

A benchmark, not a test: it fails only if something it runs breaks (a handler answering wrongly,
a build or a subprocess crashing), never because a figure is slow.

    python -m bench.run                  # everything (what `make bench` runs)
    python -m bench.run --only roundtrips --doc none
    python -m bench.run --baseline bench/baseline.json   # the "before" columns (default if present)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .env import ROOT, TMP, ensure_import_path, machine_info

PARTS = ("coldstart", "artifacts", "roundtrips", "scale")
# (jobs, due-record counts per run): the 20,000-job table gets a 200-due run, then a 2,000-due run;
# a 2,000-job table gets 200 due: the same due count on a table ten times smaller.
SCALES = {"large": (20_000, (200, 2_000)), "small": (2_000, (200,))}


def _log(msg: str) -> None:
    print(msg, flush=True)


def _commit() -> str | None:
    """The checked-out commit, with ``+changes`` when the working tree differs from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+changes" if dirty else "")


def run_scale(name: str) -> dict[str, Any]:
    jobs, due = SCALES[name]
    out = TMP / f"scale-{name}.json"
    TMP.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "bench.scale", "--jobs", str(jobs), "--due", ",".join(map(str, due)),
           "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"scale {name} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated subset of {', '.join(PARTS)}")
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per function (cold start)")
    parser.add_argument("--scales", default="large,small", help=f"subset of {', '.join(SCALES)}")
    parser.add_argument("--results", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--doc", default=str(ROOT / "docs" / "benchmarks.md"), help="'none' to skip")
    parser.add_argument("--baseline", default=str(ROOT / "bench" / "baseline.json"),
                        help="results of the same benchmark before the changes ('none' for no before columns)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    parts = [p for p in args.only.split(",") if p]
    unknown = set(parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s): {', '.join(sorted(unknown))}")
    ensure_import_path()
    started = time.perf_counter()
    results: dict[str, Any] = {"machine": machine_info(), "commit": _commit(), "load_average_start": os.getloadavg(),
                               "seconds": {}}
    _log(f"bench: {results['machine']['cpu_model']}, {results['machine']['cores']} cores, "
         f"Python {results['machine']['python']}")
    if "coldstart" in parts:
        from . import coldstart

        t = time.perf_counter()
        _log(f"cold start: {args.runs} fresh interpreters per function and for the floor...")
        results["coldstart"] = coldstart.measure(runs=args.runs, log=_log)
        results["seconds"]["coldstart"] = time.perf_counter() - t
    if "artifacts" in parts:
        from . import artifacts

        t = time.perf_counter()
        _log("artifacts: sam build...")
        results["artifacts"] = artifacts.measure()
        results["seconds"]["artifacts"] = time.perf_counter() - t
    if "roundtrips" in parts:
        from . import roundtrips

        t = time.perf_counter()
        _log("round trips...")
        results["roundtrips"] = roundtrips.measure()
        results["seconds"]["roundtrips"] = time.perf_counter() - t
    if "scale" in parts:
        results["scale"] = {}
        for name in [s for s in args.scales.split(",") if s]:
            t = time.perf_counter()
            jobs, due = SCALES[name]
            _log(f"automation at scale: {jobs:,} jobs, due {' then '.join(f'{d:,}' for d in due)}...")
            results["scale"][name] = run_scale(name)
            results["seconds"][f"scale_{name}"] = time.perf_counter() - t
    results["seconds"]["total"] = time.perf_counter() - started
    results["load_average_end"] = os.getloadavg()
    Path(args.results).parent.mkdir(parents=True, exist_ok=True)
    Path(args.results).write_text(json.dumps(results, indent=1, default=str) + "\n")
    _log(f"wrote {args.results} ({results['seconds']['total']:.0f} s)")
    if args.doc != "none":
        from .report import render

        baseline = None
        if args.baseline != "none" and Path(args.baseline).exists():
            baseline = json.loads(Path(args.baseline).read_text())
        Path(args.doc).parent.mkdir(parents=True, exist_ok=True)
        Path(args.doc).write_text(render(results, baseline))
        _log(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
