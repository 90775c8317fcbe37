"""``make bench``: cold starts against their floor, the built artifacts, and the automation at scale;
writes ``bench/results.json`` and ``docs/benchmarks.md``. A benchmark, not a test: it fails only if
something it runs breaks, never because a figure is slow.

    python -m bench.run                                   # everything (what `make bench` runs)
    python -m bench.run --only coldstart --runs 3 --doc none
    python -m bench.run --only scale --scales small
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from . import artifacts, coldstart
from .env import ROOT, TMP, machine_info
from .report import render

PARTS = ("artifacts", "coldstart", "scale")
# jobs in the table, and the due-record counts of its runs: 200 then 2,000 due on 20,000 jobs, and
# 200 due on a table ten times smaller
SCALES = {"large": (20_000, (200, 2_000)), "small": (2_000, (200,))}
log = functools.partial(print, flush=True)


def _commit() -> str | None:
    """The checked-out commit, with ``+changes`` when tracked files differ from it."""
    try:
        head, dirty = (
            subprocess.run(["git", *c], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30).stdout.strip()
            for c in (["rev-parse", "--short", "HEAD"], ["status", "--porcelain", "--untracked-files=no"])
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+changes" if dirty else "")


def run_scale(jobs: int, due: tuple[int, ...]) -> dict[str, Any]:
    """``bench.scale`` in a fresh process (its peak memory is its own)."""
    log(f"automation at scale: {jobs:,} jobs, due {' then '.join(f'{d:,}' for d in due)}...")
    out = TMP / f"scale-{jobs}.json"
    TMP.mkdir(parents=True, exist_ok=True)
    args = ["--jobs", str(jobs), "--due", ",".join(map(str, due)), "--out", str(out)]
    cmd = [sys.executable, "-m", "bench.scale", *args]
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
        "--baseline", default=str(ROOT / "bench" / "baseline.json"), help="the 'before' figures ('none')"
    )
    args = parser.parse_args(argv)
    only, scales = [p for p in args.only.split(",") if p], [s for s in args.scales.split(",") if s]
    if set(only) - set(PARTS) or set(scales) - set(SCALES):
        parser.error(f"unknown part or scale in {args.only!r} / {args.scales!r}")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    started = time.perf_counter()
    m = machine_info()
    results: dict[str, Any] = {"machine": m, "commit": _commit(), "load_average_start": os.getloadavg(), "seconds": {}}
    measures = {  # the cold starts run what the artifacts part built (else they build it)
        "artifacts": artifacts.measure,
        "coldstart": lambda: coldstart.measure(args.runs, log, results.get("artifacts", {}).get("build_dir")),
        "scale": lambda: {name: run_scale(*SCALES[name]) for name in scales},
    }
    log(f"bench: {m['cpu_model']}, {m['cores']} cores, {m['python']}")
    for part in (p for p in PARTS if p in only):
        t = time.perf_counter()
        log(f"{part}...")
        results[part] = measures[part]()
        results["seconds"][part] = time.perf_counter() - t
    results["seconds"]["total"] = time.perf_counter() - started
    results["load_average_end"] = os.getloadavg()
    Path(args.results).write_text(json.dumps(results, indent=1, default=str) + "\n")
    log(f"wrote {args.results} ({results['seconds']['total']:.0f} s)")
    if args.doc != "none":
        base = Path(args.baseline)
        baseline = json.loads(base.read_text()) if args.baseline != "none" and base.exists() else None
        Path(args.doc).write_text(render(results, baseline))
        log(f"wrote {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
