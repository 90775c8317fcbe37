"""``docs/benchmarks.md`` from the results, with the "before" figures of ``bench/baseline.json``.
``python -m bench.report`` rewrites it from ``bench/results.json``."""

from __future__ import annotations

import json
from typing import Any

from .coldstart import FLOOR
from .env import ROOT


def _ms(x: float) -> str:
    return f"{x:,.0f}"


def _mb(b: float) -> str:
    return f"{b / 1e6:,.1f} MB"


def _x(r: float | None) -> str:
    return "-" if r is None else f"{r:.2f}x"


def _instructions(r: dict[str, Any]) -> list[str]:
    """The counted run's instructions (millions: import + first event) and their ratio to the floor's."""
    n, ratio = r.get("instructions"), r.get("instructions_ratio_to_floor")
    if not n:
        return ["-", "-"]
    counted = f"{n['total'] / 1e6:,.0f} ({n['import'] / 1e6:,.0f} + {n['first_event'] / 1e6:,.0f})"
    return [counted, "-" if ratio is None else f"{ratio:.3f}x"]


def _table(header: str, rows: list[list[str]]) -> str:
    """A markdown table; ``header`` is its first row, written as in markdown without the outer bars."""
    sep = "|" + "---|" * (header.count(" | ") + 1)
    return "\n".join(["| " + header + " |", sep, *("| " + " | ".join(r) + " |" for r in rows)])


def _get(d: Any, *path: str) -> Any:
    for p in path:
        d = d.get(p) if isinstance(d, dict) else None
    return d


def machine(results: dict[str, Any]) -> list[str]:
    m, secs, cs = results["machine"], results["seconds"], results.get("coldstart") or {}
    la0, la1 = results.get("load_average_start"), results.get("load_average_end")
    python, botocore = (cs["python"], cs["sdk"].get("botocore")) if cs else (m["python"], m["packages"].get("botocore"))
    memory = f"{m['memory_mb']:,} MB" if m.get("memory_mb") else "n/a"
    row = [m["cpu_model"], str(m["cores"]), memory, f"{m['os']} ({m['architecture']})", python, botocore or "n/a"]
    packages = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    sdk = ", ".join(f"{k} {v}" for k, v in sorted(cs.get("sdk", {}).items()))
    load = f"One-minute load average {la0[0]:.1f} at the start, {la1[0]:.1f} at the end. " if la0 and la1 else ""
    parts = ", ".join(f"{k} {v:.0f} s" for k, v in secs.items() if k != "total")
    return [
        "## Machine",
        _table("CPU | cores | memory | OS | Python | botocore | date (UTC)", [[*row, m["date"]]]),
        (sdk and f"Cold starts: {python}, the runtime's SDK {sdk} (`layers/billing/runtime-constraints.txt`). ")
        + f"The bench and section 3: the development venv, {m['python']}, {packages}. {load}"
        + f"This run took {secs['total']:.0f} s ({parts}).",
    ]


# Issue 13's targets, in "x floor": an HTTP function 1.35x, the queue's and the schedule's 1.15x.
HTTP_TARGET, EVENT_TARGET = 1.35, 1.15


def targets(built: dict[str, Any]) -> str:
    """Each function against its target: the ones met, the ones not (with their figure)."""
    from local import cfn

    http = {logical_id for logical_id, _, _ in cfn.function_events("HttpApi")}
    limits = {t: HTTP_TARGET if t in http else EVENT_TARGET for t in built["targets"] if t != FLOOR}

    def against(key: str, fmt: str) -> str:
        met: list[str] = []
        missed: list[str] = []
        for target, limit in limits.items():
            value = built["targets"][target].get(key)
            if value is None:
                return ""
            (met if value <= limit else missed).append(f"{target} {value:{fmt}}x (target {limit}x)")
        return f"met by {', '.join(met) or 'none'}; **not met** by {', '.join(missed) or 'none'}"

    counted = against("instructions_ratio_to_floor", ".3f")
    return (
        f"Targets (issue 13: an HTTP function at most {HTTP_TARGET}x the floor, the shipments and automation "
        f"functions {EVENT_TARGET}x). By the timed median: {against('ratio_to_floor', '.2f')}."
        + (f" By the instructions counted (which leave the kernel's time out): {counted}." if counted else "")
    )


def coldstart(results: dict[str, Any], baseline: dict[str, Any] | None) -> list[str]:
    built, arch = results["coldstart"], results["machine"]["architecture"]
    before = _get(baseline, "built", "coldstart") or {}
    rows = [
        [
            "*floor*" if target == FLOOR else f"**{target}**",
            r["first_event"],
            f"**{_ms(r['total_ms']['median'])}** ({_ms(r['total_ms']['min'])}-{_ms(r['total_ms']['max'])})",
            *(_ms(r[k]["median"]) for k in ("import_ms", "first_event_ms", "cpu_ms", "server_ms")),
            f"**{_x(r['ratio_to_floor'])}**",
            _x(r["cpu_ratio_to_floor"]),
            *_instructions(r),
            _x(_get(before, target, "ratio_to_floor")),
            str(r["modules_loaded"]),
        ]
        for target, r in built["targets"].items()
    ]
    loaded = {m for t, r in built["targets"].items() if t != FLOOR for m in r["context_modules"]}
    hidden = sorted(m for m in loaded if not any(m.startswith(h + ".") for h in loaded))
    names = ", ".join(f"`{m}`" for m in hidden)
    context = names and f"; importing it loads {names}, which the functions would not"
    swapped = ", ".join(built["swapped"])
    swap = swapped and (
        f" The layer and the functions are built for arm64, the template's architecture: to load them on this {arch} "
        f"machine, the compiled extensions of {swapped} are swapped for the {arch} build of the same release "
        "(`bench.coldstart.loadable`); every other file, bytecode included, is as built."
    )
    return [
        "## 1. Cold start of the built artifacts",
        f"Median of {built['runs']} interleaved rounds, milliseconds, timing **importing the handler module and "
        "serving its first event**, against a floor that does the least a DynamoDB-backed function can, on what "
        f"`sam build` ships (section 2): the function's directory and the layer, with the runtime's SDK, run by "
        f"{built['python']}.{swap}",
        _table(
            "function | first event | import + first event (min-max) | import | first event | CPU | in moto | "
            "x floor | x floor (CPU) | instructions, millions (import + first event) | x floor (instructions) | "
            "before (x floor) | modules loaded",
            rows,
        ),
        targets(built),
        '"before": the same measurement of the artifacts of commit '
        f"{_get(baseline, 'built', 'commit') or '?'} (`bench/baseline.json`, `built`), whose layer sam's python3.13 "
        "builder made: botocore inside, no bytecode.",
        "How (`bench/coldstart.py`, `bench/coldstart_child.py`):",
        "- Each run is a new `python -S` process that has imported only a few standard-library modules before the "
        "clock. Its `sys.path`: the function's built directory, the layer's `python/` and the runtime's SDK "
        "(installed for python3.13 with its bytecode in `.local/bench/runtime-site`); `PYTHONDONTWRITEBYTECODE`, "
        "as Lambda's `/var/task` and `/opt` are read-only: what the build did not compile is compiled every time; "
        "`AWS_LAMBDA_RUNTIME_API`, which Lambda sets (`billing.loading` freezes the imports only there).\n"
        "- The tables (from `template.yaml`) live in a moto server in the parent process: every DynamoDB call is a "
        "real local round trip. Each run's state (a registered order; a deposit for the final invoice; "
        "auto-invoicing on for the shipment; one record due for the automation; a deposit invoice for its PDF) is set "
        'up untimed through the real handlers, and the child checks its answer. "in moto", the time the server took '
        "to answer the child, is left out of the other columns: DynamoDB's latency is not the function's (round "
        "trips are asserted by the tests), and moto's transactions are far slower than DynamoDB's.\n"
        "- Each round runs every function, each right after a floor run of its own; one warm-up round is discarded. "
        "\"x floor\" is the median of the rounds' ratios of the function's time to the floor run just before it, so "
        "drift of the machine's speed (a virtual machine's neighbours) cancels; the floor's row is every floor run. "
        '"CPU" is the child\'s own CPU time.\n'
        '- "instructions": one more run of each, under valgrind\'s callgrind, counts the instructions the child '
        "executes while timed (`bench.coldstart.count_instructions`: the child marks its clock readings with a "
        "system call the count is cut at). Unlike time, the count does not move with the machine's load: it is the "
        "same to a few parts in ten thousand from run to run, so it tells a change of a percent where the timed "
        "medians cannot. It weighs every instruction alike (a cache miss, a page fault or a system call's wait not "
        "at all), so its ratios are close to, not equal to, the timed ones.\n"
        "- The Lambda context (`local.fixtures.lambda_context`) is made between import and first event, off "
        f"the clock{context}.",
    ]


def artifacts(results: dict[str, Any], baseline: dict[str, Any] | None) -> list[str]:
    a = results["artifacts"]
    layer, before = a.get("layer"), _get(baseline, "built", "layer") or {}
    if not layer:
        return ["## 2. Built artifacts", f"`sam build` failed, nothing measured: {a['build_error']}"]
    both = ("bytes", "zipped_bytes")
    rows = [
        [f, *(f"{v[k] / 1e3:,.1f} kB" for k in both), *(_mb(v[k] + layer[k]) for k in both)]
        for f, v in a["functions"].items()
    ]
    largest = ", ".join(f"`{name}` {_mb(b)}" for name, b in layer["largest"])
    was = before and (
        f" (before: {_mb(before['bytes'])} unzipped, {_mb(before['zipped_bytes'])} zipped, {before['files']:,} files, "
        f"{before['pyc_files']:,} `.pyc`)"
    )
    return [
        "## 2. Built artifacts",
        f"`sam build` (as `make build` runs it) in {a['seconds']:.0f} s (`bench/artifacts.py`); zipped: deflate, as "
        "`sam deploy` uploads. The layer is built by `layers/billing/Makefile` (`BuildMethod: makefile`): the "
        "requirements' wheels for CPython 3.13 on arm64, without the runtime's SDK, tests and stubs, compiled to "
        "bytecode with `--invalidation-mode unchecked-hash`.",
        _table("function | its code | zipped | code + layer | code + layer, zipped", rows),
        f"The layer: **{_mb(layer['bytes'])}** unzipped, **{_mb(layer['zipped_bytes'])}** zipped, "
        f"{layer['files']:,} files of which {layer['pyc_files']:,} `.pyc`{was}. Largest entries: {largest}.",
    ]


def _run_row(prefix: str, jobs: int, r: dict[str, Any]) -> list[str]:
    ms = r["ms_per_record"]
    service = next(v for k, v in ms.items() if k.startswith("service"))
    rss = r.get("maxrss_mb", r.get("maxrss_mb_after", 0))  # the baseline's runs: maxrss_mb_after
    rates = (f"{r['invoiced_per_second']:.1f}", f"{r['calls_per_record']:.3f}", f"{r['items_read_per_record']:.2f}")
    calls = ", ".join(f"{k} {v:,}" for k, v in r["calls_by_operation"].items())
    times = f"{ms['total']:.1f} = {service:.1f} + {ms['total'] - service:.1f}"
    head = [f"{prefix}{jobs:,} jobs, {r['invoiced']:,} due", f"{jobs:,}", f"{r['invoiced']:,}"]
    return [*head, *(f"**{x}**" for x in rates), calls, times, f"{rss:,.0f} MB"]


def scale(results: dict[str, Any], baseline: dict[str, Any] | None) -> list[str]:
    from billing.automation import SAFETY_MARGIN_MS
    from local import cfn

    sc = results["scale"]
    runs = [r for s in sc.values() for r in s["runs"]]
    rows = [
        _run_row(prefix, s["jobs"], r)
        for prefix, tables in (("", sc), ("before: ", _get(baseline, "scale") or {}))
        for s in tables.values()
        for r in s["runs"]
    ]
    keys = ("items", "invoices_in_history", "pending_not_yet_due")
    seeds = [
        [f"{s['jobs']:,}", *(f"{s['seed'][k]:,}" for k in keys), f"{s['seed']['seconds']:.0f} s", f"{rss:,.0f} MB"]
        for s in sc.values()
        for rss in [s["maxrss_mb_after_seed"]]
    ]
    # per due record, apart from the Query per page of due records and the run's own item (R18)
    per_run = ("Query", "PutItem")
    calls = [(r["calls"] - sum(r["calls_by_operation"].get(k, 0) for k in per_run)) / r["invoiced"] for r in runs]
    shapes = sorted({(round(c, 3), round(r["items_read_per_record"], 3)) for c, r in zip(calls, runs, strict=True)})
    tables = ", ".join(f"{t:,}" for t in sorted({s["jobs"] for s in sc.values()}))
    budget_s = int(cfn.function_property("AutoGenerateFunction", "Timeout")) - SAFETY_MARGIN_MS / 1000
    rate = max(r["invoiced_per_second"] for r in runs)
    return [
        "## 3. Automation at scale",
        "The auto-generate function's handler with a context that has a day to spare, on in-process moto "
        "(`bench/scale.py`, one fresh process per table). Each job has two deposit invoices (records, "
        "invoices, journal entries); every tenth is finalized; every fourth open one has a record pending but "
        "not yet due; the due records sit on distinct open jobs. Runs on one table go in order, each on its "
        "own business date.",
        _table("jobs | items | invoices in history | pending, not yet due | seeding | RSS after seeding", seeds),
        _table(
            "run | jobs | invoiced | records/s (moto) | calls / record | items read / record | calls | "
            "ms / record = service + in DynamoDB calls | peak RSS",
            rows,
        ),
        "- Per due record, apart from one `Query` per page of due records: "
        + "; ".join(f"{c:g} calls and {i:g} items read (the Query's included)" for c, i in shapes)
        + (
            f", the same on every table measured ({tables} jobs) and for every number due: the cost grows with "
            "the records due, not with the table."
            if len(shapes) == 1
            else " (they differ between runs: look at the table above)."
        )
        + '\n- "service" is our code, pynamodb and Powertools; "in DynamoDB calls" is botocore\'s client side '
        "and moto (timed by a `local.metering.intercept` handler). moto is a far slower stand-in than DynamoDB "
        "and its index Query sorts the whole table, so records/s are moto's, not Lambda's: at the fastest rate "
        f"here ({rate:.1f} records/s), one invocation's {budget_s:.0f} s (the function's timeout less "
        f"`SAFETY_MARGIN_MS`) would invoice about {rate * budget_s:,.0f} records before handing over to a "
        "continuation.\n"
        "- Peak RSS is the whole process, moto's copy of the table included (most of it).\n"
        "- Seeding goes around the API but not around the store: `billing.books` decides each job's history "
        "and `store.commit` builds its transactions, whose items go straight into moto's table. moto's "
        "`TransactWriteItems` copies each whole table it touches and its items re-measure themselves per "
        "attribute; both costs grow with the table, and the benchmark removes them (`bench.scale.fast_moto`, "
        "transactions still all-or-nothing).",
    ]


def render(results: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    m = results["machine"]
    blocks = [
        "# Benchmarks",
        f"Generated by `make bench` (`python -m bench.run`) on {m['date']} at commit {results.get('commit') or '?'}; "
        "the raw figures are in `bench/results.json`. A benchmark, not a test: it fails only if something it "
        "runs breaks, never on a timing. The figures come from the machine below (moto standing in for DynamoDB), "
        "not from Lambda: cold starts are those of the built artifacts (section 1), the automation at scale runs "
        "in the development venv (section 3).",
        "DynamoDB round trips per request are not measured here: the tests assert them "
        "([test_atomicity.py](../tests/integration/test_atomicity.py), with `local.metering.meter`, and "
        "[test_automation.py](../tests/integration/test_automation.py)).",
    ]
    if baseline:
        blocks.append(
            '"Before" figures (`bench/baseline.json`): the built artifacts of commit '
            f"{_get(baseline, 'built', 'commit') or '?'} (sections 1 and 2); the automation at scale on the code "
            f"before its performance changes, commit {baseline.get('commit', '?')}, {baseline['machine']['date']}."
        )
    blocks += machine(results)
    for key, section in (
        ("coldstart", lambda: coldstart(results, baseline)),
        ("artifacts", lambda: artifacts(results, baseline)),
        ("scale", lambda: scale(results, baseline)),
    ):
        blocks += section() if results.get(key) else [f"Not measured in this run: {key}."]
    return "\n\n".join(blocks) + "\n"


if __name__ == "__main__":
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    base = ROOT / "bench" / "baseline.json"
    baseline = json.loads(base.read_text()) if base.exists() else None
    (ROOT / "docs" / "benchmarks.md").write_text(render(results, baseline))
