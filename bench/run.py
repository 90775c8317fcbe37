"""``make bench``: cold starts against their floor, the built artifacts, and the automation at scale;
writes ``bench/results.json`` and ``docs/benchmarks.md``.

A benchmark, not a test: it fails only if something it runs breaks (a handler answering wrongly,
a build or a subprocess crashing), never because a figure is slow. DynamoDB round trips per request
are asserted by the tests (tests/integration/test_atomicity.py, test_automation.py), not here.

    python -m bench.run                                   # everything (what `make bench` runs)
    python -m bench.run --only coldstart --runs 3 --doc none
    python -m bench.run --only scale --scales small
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

from .env import ROOT, TMP, machine_info

PARTS = ("coldstart", "artifacts", "scale")
# jobs in the table, and the due-record counts of its runs: 200 then 2,000 due on 20,000 jobs, and
# 200 due on a table ten times smaller
SCALES = {"large": (20_000, (200, 2_000)), "small": (2_000, (200,))}


def _log(msg: str) -> None:
    print(msg, flush=True)


def _commit() -> str | None:
    """The checked-out commit, with ``+changes`` when tracked files differ from it."""
    try:
        git = [["git", "rev-parse", "--short", "HEAD"], ["git", "status", "--porcelain", "--untracked-files=no"]]
        head, dirty = (
            subprocess.run(c, cwd=ROOT, capture_output=True, text=True, check=True, timeout=30).stdout.strip()
            for c in git
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+changes" if dirty else "")


def run_scale(jobs: int, due: tuple[int, ...]) -> dict[str, Any]:
    out = TMP / f"scale-{jobs}.json"
    TMP.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "bench.scale",
        "--jobs",
        str(jobs),
        "--due",
        ",".join(map(str, due)),
        "--out",
        str(out),
    ]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=3600, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"scale ({jobs} jobs) failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(PARTS), help=f"comma-separated subset of {', '.join(PARTS)}")
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per function (cold start)")
    parser.add_argument("--scales", default=",".join(SCALES), help=f"subset of {', '.join(SCALES)}")
    parser.add_argument("--results", default=str(ROOT / "bench" / "results.json"))
    parser.add_argument("--doc", default=str(ROOT / "docs" / "benchmarks.md"), help="'none' to skip")
    parser.add_argument(
        "--baseline",
        default=str(ROOT / "bench" / "baseline.json"),
        help="figures from before the performance changes, for the 'before' columns ('none')",
    )
    args = parser.parse_args(argv)
    parts = [p for p in args.only.split(",") if p]
    scales = [s for s in args.scales.split(",") if s]
    if set(parts) - set(PARTS) or set(scales) - set(SCALES):
        parser.error(f"unknown part or scale in {args.only!r} / {args.scales!r}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    started = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine_info(),
        "commit": _commit(),
        "load_average_start": os.getloadavg(),
        "seconds": {},
    }
    _log(
        f"bench: {results['machine']['cpu_model']}, {results['machine']['cores']} cores, {results['machine']['python']}"
    )
    for part in parts:
        t = time.perf_counter()
        if part == "coldstart":
            from . import coldstart

            _log(f"cold start: {args.runs} fresh interpreters per function and for the floor...")
            results["coldstart"] = coldstart.measure(runs=args.runs, log=_log)
        elif part == "artifacts":
            from . import artifacts

            _log("artifacts: sam build...")
            results["artifacts"] = artifacts.measure()
        else:
            results["scale"] = {}
            for name in scales:
                jobs, due = SCALES[name]
                _log(f"automation at scale: {jobs:,} jobs, due {' then '.join(f'{d:,}' for d in due)}...")
                results["scale"][name] = run_scale(jobs, due)
        results["seconds"][part] = time.perf_counter() - t
    results["seconds"]["total"] = time.perf_counter() - started
    results["load_average_end"] = os.getloadavg()
    Path(args.results).write_text(json.dumps(results, indent=1, default=str) + "\n")
    _log(f"wrote {args.results} ({results['seconds']['total']:.0f} s)")
    if args.doc != "none":
        from .report import render

        base = Path(args.baseline)
        baseline = json.loads(base.read_text()) if args.baseline != "none" and base.exists() else None
        Path(args.doc).write_text(render(results, baseline))
        _log(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
