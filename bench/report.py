"""``docs/benchmarks.md`` from ``bench/results.json`` (and, for the "before" columns, the results
of the same benchmark on the code before the performance changes, ``bench/baseline.json``)."""

from __future__ import annotations

from typing import Any

from .coldstart import FIRST_EVENT, FLOOR, FUNCTIONS

TIMEOUT_S = 300  # AutoGenerateFunction's Timeout in template.yaml
SAFETY_MARGIN_S = 20  # billing.automation.SAFETY_MARGIN_MS
MAX_CONTINUATIONS = 50  # billing.automation.MAX_CONTINUATIONS
LAMBDA_CPU_SHARE = 512 / 1769  # Lambda gives one full vCPU at 1,769 MB; AutoGenerateFunction has 512 MB
DDB_LATENCY_MS = {"BatchGetItem": 8, "TransactWriteItems": 20}  # assumed, in-region, small items


def _ms(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.0f}"


def _mb(b: float) -> str:
    return f"{b / 1e6:,.1f} MB"


def _x(r: float | None) -> str:
    return "n/a" if r is None else f"{r:.2f}x"


def _n(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _calls(n: int | None) -> str:
    return "? calls" if n is None else _n(n, "call")


def _table(header: list[str], rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _get(d: Any, *path: str) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


# ---- sections -----------------------------------------------------------------------------------


def machine(results: dict[str, Any]) -> str:
    m = results["machine"]
    pk = ", ".join(f"{k} {v}" for k, v in m["packages"].items() if v)
    secs = results["seconds"]
    parts = ", ".join(f"{k.replace('_', ' ')} {v:.0f} s" for k, v in secs.items() if k != "total")
    la0, la1 = results.get("load_average_start"), results.get("load_average_end")
    load = f"{la0[0]:.1f} at the start, {la1[0]:.1f} at the end" if la0 and la1 else "n/a"
    return "\n".join([
        "## Machine",
        "",
        _table(["CPU", "cores", "memory", "OS", "Python", "date (UTC)"],
               [[m["cpu_model"], str(m["cores"]), f"{m['memory_mb']:,} MB" if m.get("memory_mb") else "n/a",
                 m["os"], f"{m['python_implementation']} {m['python']}", m["date"]]]),
        "",
        f"Packages: {pk}. One-minute load average {load} (the machine is shared: timings move with its "
        "load; the floor is measured interleaved with the functions, so the ratios move less than the "
        "milliseconds).",
        "",
        f"`make bench` took **{secs['total']:.0f} s** ({parts}).",
    ])


def coldstart(results: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    cs = results["coldstart"]
    main = cs["scenarios"]["bytecode"]
    built = cs["scenarios"].get("as_built", {})
    before = _get(baseline, "coldstart", "scenarios", "bytecode") or {}
    sizes = _get(results, "artifacts", "functions") or {}
    rows = []
    for target in (FLOOR, *FUNCTIONS):
        r = main[target]
        t = r["total_ms"]
        size = _mb(sizes[target]["total_bytes"]) if target in sizes else ("n/a" if target != FLOOR else "-")
        b = before.get(target)
        bb = built.get(target)
        rows.append([
            f"**{target}**" if target != FLOOR else "*floor*",
            FIRST_EVENT[target],
            f"**{_ms(t['median'])}** ({_ms(t['min'])}-{_ms(t['max'])})",
            _ms(r["import_ms"]["median"]),
            f"{_ms(r['first_call_ms']['median'])} ({_calls(r.get('dynamodb_requests'))}, moto "
            f"{_ms(_get(r, 'server_ms', 'median'))})",
            _ms(r["cpu_ms"]["median"]),
            f"**{_x(r['ratio_to_floor'])}**", _x(r["cpu_ratio_to_floor"]),
            (f"{_ms(b['total_ms']['median'])} ms, {_x(b['ratio_to_floor'])}" if b else "-"),
            (f"{_ms(bb['total_ms']['median'])} ms, {_x(bb['ratio_to_floor'])}" if bb else "-"),
            size,
        ])
    over = [t for t in FUNCTIONS if main[t]["ratio_to_floor"] > 1.5]
    groups: list[str] = []
    for t in (FLOOR, *FUNCTIONS):
        for g in main[t].get("import_breakdown_ms", {}):
            if g not in groups:
                groups.append(g)
    brows = [[t if t != FLOOR else "*floor*"] + [_ms(main[t].get("import_breakdown_ms", {}).get(g, 0)) for g in groups]
             for t in (FLOOR, *FUNCTIONS)]
    loads = [[t if t != FLOOR else "*floor*", str(main[t]["modules_loaded"]),
              ", ".join(f"`{m}`" for m in main[t]["notable_modules"])] for t in (FLOOR, *FUNCTIONS)]
    lines = [
        "## 1. Cold start",
        "",
        f"Median of {cs['runs']} fresh interpreters per function (after one discarded warm-up each), "
        "timing **importing the handler module and serving its first event**; milliseconds. The floor is "
        "a handler that does the least a DynamoDB-backed function can: `import boto3`, "
        "`boto3.client(\"dynamodb\")`, one strongly consistent `GetItem` of a job (so that, like the "
        "functions, it serves a request from the table).",
        "",
        _table(["function", "first event", "import + first event (min-max)", "import",
                "first event (DynamoDB calls, moto server's time)", "CPU",
                "x floor", "x floor (CPU)", "before (x floor)", "as built today: no .pyc (x floor)",
                "artifact (code + layer)"], rows),
        "",
        "How it is measured (`bench/coldstart.py`, `bench/coldstart_child.py`):",
        "",
        "- Each run is a new `python -S` process whose `sys.path` is what Lambda gives the function: its "
        "directory, the layer's code, and a directory holding exactly the layer's and the runtime's "
        "distributions (the closure of `layers/billing/requirements.txt`, plus boto3's), so that packages "
        "this development venv has for its tools and Lambda has not (awscrt and pyOpenSSL, which "
        "botocore imports when present) cannot change the import path. Before its clock starts the child "
        "has imported only a few standard-library modules; Python's own start-up is not timed.",
        "- The tables live in a **moto server** in the parent process, created from `template.yaml` "
        "(`local.cfn.create_tables`) before any child starts. Moto in the child itself would have imported "
        "boto3 and botocore before the clock, hiding the largest part of what Lambda pays, for the functions "
        "and the floor alike. Over HTTP, every DynamoDB call of the first event, and the floor's `GetItem`, "
        "is a real (local) round trip.",
        "- Each run gets its own state, set up by the parent through the real handlers (`local.gateway`), "
        "untimed: a registered order (create-now, get job), one with a deposit (final invoice), an order "
        "and auto-invoicing on (shipment), one scheduled record due on the run's date (automation: it "
        "invoices exactly one). The child checks its answer (201, 200, no batch failure, one invoiced).",
        "- Rounds are interleaved (floor, then every function, round after round), so a change in the "
        "machine's load hits all alike. \"x floor\" is the median, over the rounds, of the function's time "
        "divided by the floor's in the same round (so drift between rounds cancels); "
        "\"CPU\" is the child's own CPU time (the moto server's is not in it), less sensitive to other load; "
        "\"moto server's time\" is what the server took to answer the first event's DynamoDB calls, which "
        "the wall time includes.",
        f"- \"as built today\": in the first {_as_built_runs(built)} rounds, each function also runs against a "
        "copy of the layer as `sam build` makes it: no `.pyc` "
        "anywhere, and its own botocore (pynamodb requires botocore, so pip puts it in the layer) ahead of "
        "the runtime's on `sys.path`; with `-B`, because Lambda's /opt is read-only: every cold start then "
        "compiles every module it imports from the layer. See section 2.",
        "",
        "Where the import time goes (`-X importtime` self time, summed per group; one extra run each, "
        "with the import profiler's own overhead):",
        "",
        _table(["function", *groups], brows),
        "",
        "What each function loads (modules new after its first event, and the notable ones among them):",
        "",
        _table(["function", "modules", "notable modules loaded"], loads),
        "",
    ]
    never = [m for m in ("boto3", "aws_xray_sdk") if not any(m in main[t]["notable_modules"] for t in FUNCTIONS)]
    if never:
        lines += [f"No function imports {' or '.join('`' + m + '`' for m in never)} on its first event.", ""]
    if over:
        lines += [f"Above 1.5x the floor in this run: {', '.join(over)}; see section 6 for why.", ""]
    return "\n".join(lines)


def _as_built_runs(built: dict[str, Any]) -> str:
    runs = {r.get("runs") for r in built.values()}
    return str(runs.pop()) if len(runs) == 1 and None not in runs else "few"


def artifacts_section(results: dict[str, Any]) -> str:
    a = results.get("artifacts")
    if not a:
        return "## 2. Built artifacts\n\nNot measured in this run.\n"
    lines = ["## 2. Built artifacts", "", f"Built with {a['method']} in {a['seconds']:.0f} s."]
    if a.get("build_error"):
        lines += ["", f"`sam build` failed: {a['build_error']}"]
    layer = a.get("layer")
    if not layer:
        return "\n".join(lines) + "\n"
    rows = [[f, f"{v['code']['bytes'] / 1e3:,.1f} kB", str(v["code"]["files"]), _mb(v["total_bytes"])]
            for f, v in a["functions"].items()]
    parts = layer["parts"][:10]
    lines += [
        "",
        _table(["function", "its code", "files", "code + layer (unzipped)"], rows),
        "",
        f"The layer: **{_mb(layer['bytes'])}** unzipped in {layer['files']:,} files ({_mb(layer['zipped_bytes'])} "
        f"zipped), **{layer['pyc_files']} `.pyc` files**. Largest parts:",
        "",
        _table(["top-level entry", "size"], [[f"`{p['name']}`", _mb(p["bytes"])] for p in parts]),
        "",
        f"Of it, **{_mb(layer['runtime_copies_bytes'])}** are copies of what the Lambda Python runtime already "
        f"ships ({', '.join('`' + p['name'] + '`' for p in layer['runtime_copies'])}): pynamodb requires "
        "botocore, so pip installs it into the layer. No boto3 (nothing in the layer requires it). The "
        "copy is not only size: Lambda puts the layer ahead of the runtime on `sys.path`, so this botocore "
        "is the one every function imports, and, with no `.pyc` in the layer and /opt read-only, it is "
        "compiled from source on every cold start (the \"as built today\" column of section 1).",
        "",
    ]
    prop = a.get("proposed_layer") or {}
    if prop.get("error"):
        lines += [f"The proposed layer (section 6) could not be built here: {prop['error']}.", ""]
    elif prop:
        removed = ", ".join("`" + r + "`" for r in prop["removed"] if ".dist-info" not in r)
        lines += [
            f"**The layer as section 6 proposes to build it** (built by the benchmark the same way, not "
            f"deployed): **{_mb(prop['bytes'])}** unzipped ({_mb(prop['zipped_bytes'])} zipped), "
            f"{prop['pyc_files']} `.pyc` files, without {removed}:",
            "",
            "```sh",
            *prop["recipe"].split("; "),
            "```",
            "",
        ]
    return "\n".join(lines)


def roundtrips(results: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    rt = results["roundtrips"]["operations"]
    before = {(o["operation"], o["idempotency_key"]): o for o in (_get(baseline, "roundtrips", "operations") or [])}
    rows = []
    for o in rt:
        b = before.get((o["operation"], o["idempotency_key"]))
        rows.append([
            o["operation"], "yes" if o["idempotency_key"] else "",
            f"**{o['calls']}**", str(o["floor_calls"]), f"**{o['items_read']}**", str(o["floor_items_read"]),
            o["verdict"], (f"{_calls(b['calls'])}, {_n(b['items_read'], 'item')}" if b else "-"),
            " ".join(f"`{x}`" for x in o["dynamodb_operations"]),
        ])
    why = [[o["operation"], str(o["floor_calls"]), o["floor_why"]] for o in rt if not o["idempotency_key"]]
    at = sum(1 for o in rt if o["verdict"] == "at floor")
    return "\n".join([
        "## 3. DynamoDB round trips",
        "",
        "Calls and items read per operation, counted by `local.metering.meter` (it wraps botocore's "
        "`BaseClient._make_api_call`, which pynamodb and Powertools both go through), after a warm-up of "
        "the same operation, through the real handlers against in-process moto (`bench/roundtrips.py`). "
        f"**{at} of {len(rt)} at their floor.**",
        "",
        _table(["operation", "Idempotency-Key", "calls", "floor", "items read", "floor", "", "before",
                "calls made"], rows),
        "",
        "The floors, and why nothing less is possible:",
        "",
        _table(["operation", "floor", "why"], why),
        "",
        "With an `Idempotency-Key`, Powertools adds exactly two calls to the idempotency table (a "
        "conditional `PutItem` marking the key in progress, an `UpdateItem` storing the response); a resend "
        "with the same key is answered by the failed conditional put alone (one call, nothing else read).",
        "",
    ])


def _run_row(name: str, sc: dict[str, Any], r: dict[str, Any], base: float) -> list[str]:
    split = r["ms_per_record"]
    return [
        name, f"{sc['jobs']:,}", f"{r['invoiced']:,}", f"**{r['invoiced_per_second']:.1f}**",
        f"**{r['calls_per_record']:.3f}**", f"**{r['items_read_per_record']:.2f}**",
        ", ".join(f"{k} {v}" for k, v in r["calls_by_operation"].items()),
        f"{split['total']:.1f} = {split['service (billing + pynamodb + Powertools)']:.1f} + "
        f"{split['botocore (client side)']:.1f} + {split['moto (the stand-in for DynamoDB)']:.1f}",
        f"{r['maxrss_mb_after']:,.0f} MB (+{r['maxrss_mb_after'] - base:,.0f})",
    ]


def scale(results: dict[str, Any], baseline: dict[str, Any] | None) -> tuple[str, dict[str, Any] | None]:
    sc = results.get("scale") or {}
    if not sc:
        return "## 4. Automation at scale\n\nNot measured in this run.\n", None
    rows = []
    headline = None
    for name, s in sc.items():
        base = s["maxrss_mb_after_seed"]
        for r in s["runs"]:
            rows.append(_run_row(f"{name}: {s['jobs']:,} jobs, {r['invoiced']:,} due", s, r, base))
            base = r["maxrss_mb_after"]
            if headline is None or r["invoiced"] > headline["invoiced"]:
                headline = r
    brows = []
    for name, s in (_get(baseline, "scale") or {}).items():
        base = s["maxrss_mb_after_seed"]
        for r in s["runs"]:
            brows.append(_run_row(f"before, {name}: {s['jobs']:,} jobs, {r['invoiced']:,} due", s, r, base))
            base = r["maxrss_mb_after"]
    seeds = [[name, f"{s['jobs']:,}", f"{s['seed']['items']:,}", f"{s['seed']['invoices_in_history']:,}",
              f"{s['seed']['pending_not_yet_due']:,}", f"{s['seed']['seconds']:.0f} s",
              f"{s['maxrss_mb_after_seed']:,.0f} MB"]
             for name, s in sc.items()]
    lines = [
        "## 4. Automation at scale",
        "",
        "`billing.automation.run` (the function's real code path) with a fake Lambda context that has "
        "plenty of time, on in-process moto holding the table below (`bench/scale.py`, one fresh process per "
        "table). Each job has two deposit invoices (records, invoices and their copies, journal entries), "
        "every tenth is finalized, every fourth open one has a record pending but not due before 2027; the "
        "due records sit on distinct open jobs. The 200-due run goes first, on its own business date, then "
        "the 2,000-due run on a later one, on the same table.",
        "",
        _table(["table", "jobs", "items", "invoices in history", "pending, not yet due", "seeding",
                "RSS after seeding"], seeds),
        "",
        _table(["run", "jobs", "invoiced", "records/s", "calls / record", "items read / record", "calls",
                "ms / record = service + botocore + moto", "peak RSS (growth in the run)"], rows + brows),
        "",
        "- **Per due record: 2 calls (one BatchGetItem of job, counter and settings; one transaction) and 4 "
        "items (the record from the index, then job, counter, settings), plus one Query per page of up to "
        "1 MB of due records**: the same on the 20,000-job table as on the 2,000-job one, and for 200 due "
        "as for 2,000. No Scan; the table's size never enters (the sparse `PendingByDate` index holds "
        "only pending records).",
        "- Time per record, split by where it is spent: our code (billing, pynamodb, Powertools) and "
        "botocore's client side are a few milliseconds; the rest is moto, a Python stand-in that is far "
        "slower than DynamoDB per call and whose GSI Query sorts the whole table (that, not the code, is "
        "why the 200-due run's rate is lower: one Query of 200,000 items shared by fewer records).",
        "- Peak RSS is the whole process, moto's copy of the table included (most of it). The growth "
        "during a run is moto's too: the items the run writes (an invoice, its copy and its journal entry "
        "per record) and its copies of the Query results (a `tracemalloc` comparison before and after a "
        "run finds nothing else retained). The automation itself holds one page of due records (at most "
        "1 MB of items from DynamoDB) and one job at a time.",
        "- Seeding goes around the API (far too slow for 20,000 jobs) but not around the store: "
        "`billing.books` decides each job's history and `store.commit` builds its transactions; the "
        "benchmark captures each `TransactWriteItems` instead of sending it and writes the items it would "
        "have put, 25 at a time, straight into moto's table (what moto's `BatchWriteItem` does with each "
        "item, without serializing a request for moto to parse back). The items have exactly the store's "
        "shape; `tests/unit/test_bench_counting.py` checks that the real code reads and invoices them.",
        "- Two stand-in costs are removed from moto (`bench/sandbox.py`), both growing with the table and "
        "none with our code: its `TransactWriteItems` deep-copies each table it touches to be able to roll "
        "back (now: only the items named), and its item class re-measures the whole item for each "
        "attribute set (now: once per item).",
        "",
    ]
    return "\n".join(lines), headline


def beyond(results: dict[str, Any], headline: dict[str, Any] | None) -> str:
    if headline is None:
        return ""
    split = headline["ms_per_record"]
    rate = headline["invoiced_per_second"]
    budget = TIMEOUT_S - SAFETY_MARGIN_S
    per_run_here = rate * budget
    client_ms = split["service (billing + pynamodb + Powertools)"] + split["botocore (client side)"]
    lambda_ms = client_ms / LAMBDA_CPU_SHARE + sum(DDB_LATENCY_MS.values())
    lambda_rate = 1000 / lambda_ms
    per_run_lambda = lambda_rate * budget
    chain = per_run_lambda * (MAX_CONTINUATIONS + 1)
    return "\n".join([
        "## 5. The automation beyond one Lambda invocation",
        "",
        f"`AutoGenerateFunction` has `Timeout: {TIMEOUT_S}` and `billing/automation.py` stops invoicing when "
        f"less than `SAFETY_MARGIN_MS` = {SAFETY_MARGIN_S * 1000:,} ms remain, so a run has about "
        f"**{budget} s** of invoicing.",
        "",
        f"- At the rate measured here ({rate:.1f} records/s on in-process moto), one run invoices about "
        f"**{per_run_here:,.0f} records**. That rate is moto's: per record, DynamoDB's share here is "
        f"{split['moto (the stand-in for DynamoDB)']:.1f} ms of {split['total']:.1f}.",
        f"- In Lambda, per record: our code and botocore's client side ({client_ms:.1f} ms here) at 512 MB, "
        f"which is {LAMBDA_CPU_SHARE:.2f} of a vCPU (a full one at 1,769 MB), about "
        f"{client_ms / LAMBDA_CPU_SHARE:.0f} ms; "
        f"plus the two round trips, assumed {DDB_LATENCY_MS['BatchGetItem']} ms (strongly consistent "
        f"BatchGetItem) and {DDB_LATENCY_MS['TransactWriteItems']} ms (TransactWriteItems): about "
        f"**{lambda_ms:.0f} ms, {lambda_rate:.0f} records/s, ~{per_run_lambda:,.0f} records per run**. "
        "An estimate, not a measurement: the assumed latencies and the CPU share are its inputs.",
        "- Past that, nothing is lost or doubled: `automation.run` checks the remaining time before each "
        "record, stops cleanly (the records not reached stay `pending` in the index), and invokes the "
        "function again asynchronously with `{\"business_date\": <the same date>, \"continuation\": n + 1}`. "
        "The continuation queries the index again and carries on with what is still pending; every record "
        "is invoiced by a transaction conditioned on the job's version and the record still being pending, "
        "so a record is never invoiced twice even if two runs overlap (R4). Tested by "
        "`tests/integration/test_automation.py::test_run_stops_before_the_timeout_and_continues` (a fake "
        "clock leaves time for two records: two invoiced, `complete: false`, one continuation for the same "
        "date, which invoices the other three, five invoices in all) and, for overlapping runs, "
        "`test_concurrent_runs_invoice_each_record_once`.",
        f"- The chain is bounded by `MAX_CONTINUATIONS` = {MAX_CONTINUATIONS}: {MAX_CONTINUATIONS + 1} runs, "
        f"about **{chain:,.0f} records in one business day** at the Lambda estimate above. Beyond that the "
        "last run logs an error (the `AutoGenerateErrorsAlarm` does not fire: it is not a failure) and "
        "leaves the rest pending; the next scheduled run picks them up, since it invoices everything due "
        "on or before its date. `ReservedConcurrentExecutions: 2` allows the chain and one scheduled "
        "firing at the same time.",
        "",
    ])


def changes(results: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    cs = results.get("coldstart", {}).get("scenarios", {}).get("bytecode", {})
    over = [t for t in FUNCTIONS if cs.get(t, {}).get("ratio_to_floor", 0) > 1.5]
    http = [t for t in FUNCTIONS if t in ("CreateProgressBillingFunction", "FinalizeFunction", "ApiFunction")]
    lines = [
        "## 6. What was changed for speed, and what cannot meet its floor",
        "",
        "Changes to production code (behaviour unchanged; the whole test suite passes):",
        "",
        "- **One botocore client per process** (`billing/store.py`, `bind`). pynamodb gives every model "
        "class its own connection, and every `Connection()` builds a new botocore session and client "
        "(loading the service model files again) the first time it is used; the store also made a new "
        "`Connection()` for every transaction. A cold start paid for two or three clients, and every write, "
        "warm or cold, paid for a new session and client (tens of milliseconds each). Now every model and "
        "every transaction share one.",
        "- **No pydantic in the automation** (`billing/service.py`, `billing/dates.py`). The service "
        "imported the request models only for type annotations, and the automation imported "
        "`billing.requests` for its date check: `AutoGenerateFunction` paid for pydantic and seven request "
        "models it never uses. The annotations are now type-checking-only imports and the date check "
        "lives in `billing/dates.py`.",
        "- **Request models built on first use** (`billing/requests.py`: pydantic's `defer_build`): a "
        "function builds the validator of the model it receives, not of all seven.",
        "- **Cancel in two calls instead of three** (`store.read_job_and_record`: job and record in one "
        "BatchGetItem), and **schedule reads one item instead of three** (`read_for_change(books=False)`: "
        "a scheduled record issues no invoice, so it needs neither the counter nor the settings).",
        "",
        "Already as they should be: Powertools idempotency is imported only when a request carries an "
        "`Idempotency-Key`; boto3 is imported only by the idempotency layer and the automation's "
        "self-invocation, never on the common path (pynamodb uses botocore directly); nothing imports "
        "`aws_xray_sdk` (no Tracer); the shipments and automation functions do not load the HTTP resolver.",
        "",
        "What cannot meet its floor, and why:",
        "",
    ]
    if cs:
        lines += [gap_table(cs), ""]
    libs = results.get("coldstart", {}).get("library_costs")
    floor_ms = results.get("coldstart", {}).get("floor_ms")
    if libs and floor_ms:
        lines += [
            "What the libraries cost to import, each on top of what a function has already loaded "
            "(`bench/coldstart.py`, `LIBRARY_PROBES`; median of 5 fresh interpreters):",
            "",
            _table(["library", "needed by", "ms", "x the floor's whole cold start"],
                   [[lib["library"], lib["used_by"], _ms(lib["ms"]["median"]), f"{lib['ms']['median'] / floor_ms:.2f}"]
                    for lib in libs]),
            "",
        ]
        http_ms = sum(lib["ms"]["median"] for lib in libs if lib["used_by"] in ("all", "HTTP")
                      and not lib["library"].startswith("botocore"))
        ship = sum(lib["ms"]["median"] for lib in libs if lib["used_by"] in ("all", "shipments")
                   and not lib["library"].startswith("botocore"))
        lines += [
            f"So before any of our code runs, an HTTP function imports about {http_ms:.0f} ms of libraries beyond "
            f"the SDK ({http_ms / floor_ms:.2f}x the floor), the shipments function about {ship:.0f} ms "
            f"({ship / floor_ms:.2f}x); add our own modules (`billing`, about 15 ms), the second DynamoDB "
            "call of a write and the validation of the first request, and 1.5x is out of reach without "
            "changing libraries.",
            "",
        ]
    lines += [
        f"- Above 1.5x the floor in this run: {', '.join(over) if over else 'none'}.",
        "- The HTTP functions (" + ", ".join(http) + ") need, before they can answer the first request, "
        "more than the floor's SDK: **pydantic** for request validation (R10: strings only, strict, exact "
        "decimals, a 422 naming each bad field; its compiled core alone is a 6 MB extension to load), "
        "**Powertools' event handler** with its OpenAPI validation (the package imports every resolver it "
        "has, AppSync and Bedrock included, and asyncio with them), **pynamodb**, and our own code. Each "
        "is used by the first request, so making it lazy moves the cost without removing it; what remains "
        "avoidable is inside the libraries. Reaching 1.5x reliably would mean dropping the Powertools "
        "resolver or pydantic validation for hand-written routing and validation: a change of the error "
        "contract's implementation (field names, messages), not a performance fix.",
        "- `ProcessShipmentsFunction` validates each message with pydantic (the rejection details recorded "
        "on a shipment are pydantic's messages) and reports partial batch failures with Powertools' batch "
        "utility, which imports Powertools' event data classes and asyncio.",
        "- The first event also differs from the floor's in kind: the floor makes one `GetItem`, a create-now "
        "or a final invoice makes a `BatchGetItem` and a `TransactWriteItems`, which moto answers slowly "
        "(the \"moto\" column).",
        "- **The bigger gap is the build, not the code** (section 2). As built, the layer has no bytecode "
        "and its own botocore, so each cold start compiles botocore, pydantic, Powertools and pynamodb from "
        "source (the \"as built today\" column, several times the figures above). Fixing it is a build "
        "change outside this change's files (`template.yaml`, a new `layers/billing/Makefile`): give "
        "`BillingLayer` `Metadata: {BuildMethod: makefile}` and a `build-BillingLayer` target running the "
        "commands at the end of section 2: arm64 / 3.13 wheels, without the runtime's botocore, urllib3, "
        "dateutil and six, `billing` copied in, all compiled with `--invalidation-mode unchecked-hash` "
        "(a timestamp-checked `.pyc` would be stale after the zip round trip, and /opt cannot be written "
        "to refresh it). The functions then run as in the main columns above. The trade-off: botocore's "
        "version becomes the runtime's (AWS updates it), not the one pip resolved.",
        "- Round trips: every operation is at its floor (section 3).",
        "",
    ]
    return "\n".join(lines)


def gap_table(cs: dict[str, Any]) -> str:
    """Where each function's cold start exceeds the floor's, from the measured medians."""
    floor = cs[FLOOR]
    fb = floor.get("import_breakdown_ms", {})
    rows = []
    for t in FUNCTIONS:
        r = cs[t]
        b = r.get("import_breakdown_ms", {})

        def extra(*groups: str, b: dict[str, float] = b) -> float:
            return float(sum(b.get(g, 0.0) - fb.get(g, 0.0) for g in groups))

        rows.append([
            t, _x(r["ratio_to_floor"]),
            f"{r['total_ms']['median'] - floor['total_ms']['median']:+.0f}",
            f"{r['import_ms']['median'] - floor['import_ms']['median']:+.0f}",
            _ms(extra("pydantic")), _ms(extra("Powertools")),
            _ms(extra("billing (the layer's own code)", "pynamodb", "handler module (app.py)")),
            f"{r['first_call_ms']['median'] - floor['first_call_ms']['median']:+.0f}",
            f"{r.get('dynamodb_requests', '?')} vs {floor.get('dynamodb_requests', '?')}",
            f"{_get(r, 'server_ms', 'median') - _get(floor, 'server_ms', 'median'):+.0f}"
            if _get(r, "server_ms", "median") is not None and _get(floor, "server_ms", "median") is not None
            else "n/a",
        ])
    return _table(["function", "x floor", "ms over the floor", "of which import", "pydantic", "Powertools",
                   "billing + pynamodb", "of which first event", "DynamoDB calls (vs floor's)",
                   "moto's time over the floor's"], rows) + (
        "\n\nImport columns: `-X importtime` self time over the floor's for the same group (one run each, so "
        "approximate); they do not add up to the import difference exactly, the SDK and standard library "
        "groups differ too (the floor imports boto3, the functions botocore through pynamodb).")


def headlines(results: dict[str, Any], baseline: dict[str, Any] | None) -> str:
    out = ["## Headlines", ""]
    cs = _get(results, "coldstart", "scenarios", "bytecode")
    if cs:
        before = _get(baseline, "coldstart", "scenarios", "bytecode") or {}
        built = _get(results, "coldstart", "scenarios", "as_built") or {}
        parts = []
        for t in FUNCTIONS:
            b = before.get(t)
            was = f" (before {_x(b['ratio_to_floor'])})" if b else ""
            parts.append(f"{t} **{_x(cs[t]['ratio_to_floor'])}**{was}")
        out.append(f"- Cold start, import + first event, x the floor ({_ms(cs[FLOOR]['total_ms']['median'])} ms): "
                   + "; ".join(parts) + ".")
        if built:
            out.append("- As the layer is built today (no `.pyc`, its own botocore): "
                       + "; ".join(f"{t} {_x(built[t]['ratio_to_floor'])}" for t in FUNCTIONS if t in built)
                       + " (section 2).")
    rt = _get(results, "roundtrips", "operations")
    if rt:
        at = sum(1 for o in rt if o["verdict"] == "at floor")
        before_rt = _get(baseline, "roundtrips", "operations") or []
        was_over = [f"{o['operation']}{' with a key' if o['idempotency_key'] else ''} ({_calls(o['calls'])}, "
                    f"{_n(o['items_read'], 'item')})" for o in before_rt if o["verdict"] != "at floor"]
        out.append(f"- DynamoDB round trips: {at} of {len(rt)} operations at their floor"
                   + (f"; before: {', '.join(was_over)} above it." if was_over else "."))
    sc = results.get("scale") or {}
    runs = [(name, s["jobs"], r) for name, s in sc.items() for r in s["runs"]]
    if runs:
        out.append("- Automation: " + "; ".join(
            f"{jobs:,} jobs / {r['invoiced']:,} due: {r['invoiced_per_second']:.1f} records/s on moto, "
            f"{r['calls_per_record']:.3f} calls and {r['items_read_per_record']:.2f} items read per record"
            for _, jobs, r in runs) + ".")
        for s in (_get(baseline, "scale") or {}).values():
            for r in s["runs"]:
                out.append(f"  Before ({s['jobs']:,} jobs / {r['invoiced']:,} due): "
                           f"{r['invoiced_per_second']:.1f} records/s, "
                           f"{r['ms_per_record']['service (billing + pynamodb + Powertools)']:.1f} ms of our "
                           "own code per record (a new botocore client for every transaction).")
    layer = _get(results, "artifacts", "layer")
    if layer:
        out.append(f"- Layer: {_mb(layer['bytes'])} unzipped, of which {_mb(layer['runtime_copies_bytes'])} are copies "
                   f"of the runtime's botocore and its dependencies; {layer['pyc_files']} `.pyc` files.")
    return "\n".join(out) + "\n"


def render(results: dict[str, Any], baseline: dict[str, Any] | None = None) -> str:
    when = results["machine"]["date"]
    parts = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`bench/run.py`) on {when}; the raw figures are in `bench/results.json`. "
        "A benchmark, not a test: it fails only if something it runs breaks, never on a timing. "
        + ("\"Before\" columns: the same benchmark on the code before the performance changes "
           f"(`bench/baseline.json`, commit {baseline.get('commit', '?')}, measured on {baseline['machine']['date']})."
           if baseline else ""),
        "",
        headlines(results, baseline),
        machine(results),
        "",
    ]
    if "coldstart" in results:
        parts += [coldstart(results, baseline), ""]
    parts += [artifacts_section(results), ""]
    if "roundtrips" in results:
        parts += [roundtrips(results, baseline), ""]
    text, headline = scale(results, baseline)
    parts += [text, "", beyond(results, headline), changes(results, baseline)]
    return "\n".join(parts).rstrip() + "\n"


def main() -> None:
    """``python -m bench.report``: docs/benchmarks.md again from bench/results.json (and the baseline)."""
    import json

    from .env import ROOT

    results = json.loads((ROOT / "bench" / "results.json").read_text())
    base = ROOT / "bench" / "baseline.json"
    baseline = json.loads(base.read_text()) if base.exists() else None
    (ROOT / "docs" / "benchmarks.md").write_text(render(results, baseline))


if __name__ == "__main__":
    main()
