"""Cold start of each function of ``template.yaml``, against the floor, in fresh interpreters.

Set-up (not timed), in this process: a moto server on a local port, the template's tables created
in it, and, for every run, its own job registered through the real handlers (``local.gateway``), so
each fresh interpreter finds exactly the state its first event needs: an open job for create-now,
a job with a deposit for the final invoice, an order for the shipment, one due record for the
automation. The child (``bench/coldstart_child.py``) then times import + first event only.

Why a moto *server* and not moto in the child: moto imports boto3 and botocore, so starting it in
the child before the clock would pre-import the SDK, the biggest part of both the functions' and the
floor's cold start, and leave out exactly what Lambda pays. Over HTTP the child imports nothing
before the clock, and the floor and the functions both pay real (local) round trips.

Runs are interleaved (run 1 of every target, then run 2...), after one discarded warm-up run per
target (bytecode caches written, files in the page cache), so drift in the machine's speed spreads
over all targets alike.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .env import LAYER, ROOT, TABLES, TMP, apply_environment, create_tables, moto_server, service_environment, summary
from .sandbox import fast_moto, lambda_site, layer_as_built

FUNCTIONS = ("CreateProgressBillingFunction", "FinalizeFunction", "ApiFunction", "ProcessShipmentsFunction",
             "AutoGenerateFunction")
FLOOR = "floor"
CLAIMS = {"sub": "u-bench", "cognito:username": "bench", "cognito:groups": "[billing-admins]"}
BUSINESS_DATE = "2026-12-01"
FIRST_EVENT = {
    "CreateProgressBillingFunction": "POST /orders/{id}/progress-billings (create now, amount)",
    "FinalizeFunction": "POST /orders/{id}/final-invoice (job with one deposit)",
    "ApiFunction": "GET /orders/{id}",
    "ProcessShipmentsFunction": "SQS batch of one shipment message (auto-invoiced)",
    "AutoGenerateFunction": "scheduled event, one due record",
    FLOOR: "import boto3; boto3.client('dynamodb'); one GetItem of a job",
}

# Top-level packages, grouped for the import-time breakdown.
GROUPS = {
    "SDK (botocore, boto3 and their dependencies)": ("botocore", "boto3", "s3transfer", "urllib3", "dateutil",
                                                     "jmespath", "six", "certifi", "charset_normalizer", "idna"),
    "pynamodb": ("pynamodb",),
    "pydantic": ("pydantic", "pydantic_core", "annotated_types", "typing_inspection", "typing_extensions"),
    "Powertools": ("aws_lambda_powertools",),
    "billing (the layer's own code)": ("billing",),
    "handler module (app.py)": ("app",),
}


def _body(job_id: str) -> str:
    return json.dumps({
        "id": job_id, "customer_id": "C-1", "customer_name": "Bench Co", "currency": "USD",
        "lines": [{"line_id": "1", "item_code": "WIDGET", "description": "Widget", "quantity": "10",
                   "unit_price": "100.00"},
                  {"line_id": "2", "item_code": "SERVICE", "description": "Installation", "quantity": "1",
                   "unit_price": "500.00"}],
    })


def _call(method: str, path: str, body: Any = None) -> Any:
    from local.gateway import invoke

    text = body if isinstance(body, str) or body is None else json.dumps(body)
    r = invoke(method, path, body=text, claims=CLAIMS)
    if r.status >= 300:
        raise RuntimeError(f"set-up {method} {path} failed: {r.status} {r.body}")
    return r.json()


def _http_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    from local import cfn
    from local.gateway import http_event

    found = cfn.find_route(method, path)
    assert found is not None, path
    route, params = found
    return http_event(method, path, route.route_key, params, body=None if body is None else json.dumps(body),
                      claims=CLAIMS)


def prepare(target: str, run: int, tag: str = "") -> dict[str, Any]:
    """State and first event of one run (this process, not timed). Returns the child's spec,
    without the paths, which depend on the scenario (``Scenario.paths``)."""
    from billing.store import JOB_SK, job_pk
    from local import cfn
    from local.sqs import sqs_event

    job_id = f"CS-{tag}{target[:12]}-{run}"
    _call("POST", "/orders", _body(job_id))
    spec: dict[str, Any] = {"target": target, "function": target, "timeout_ms": 15_000}
    if target == FLOOR:
        spec.update(key={"pk": {"S": job_pk("order", job_id)}, "sk": {"S": JOB_SK}}, table=TABLES["BillingTable"],
                    endpoint_url=os.environ["DYNAMODB_ENDPOINT_URL"])
        return spec
    code_uri = cfn.function_code_uri(target)
    spec.update(code_uri=code_uri, timeout_ms=int(cfn.function_property(target, "Timeout")) * 1000)
    path = f"/orders/{job_id}"
    if target == "CreateProgressBillingFunction":
        spec["event"] = _http_event("POST", f"{path}/progress-billings", {"amount": "100.00", "title": "Deposit"})
        spec["expect"] = 201
    elif target == "FinalizeFunction":
        _call("POST", f"{path}/progress-billings", {"amount": "300.00", "title": "Deposit"})
        spec["event"] = _http_event("POST", f"{path}/final-invoice")
        spec["expect"] = 201
    elif target == "ApiFunction":
        spec["event"] = _http_event("GET", path)
        spec["expect"] = 200
    elif target == "ProcessShipmentsFunction":
        body = json.dumps({"shipment_id": f"SH-{job_id}", "order_id": job_id, "ship_date": "2026-11-27",
                           "lines": [{"line_id": "1", "quantity": "2"}]})
        spec["event"] = sqs_event([{"MessageId": f"m-{run}", "ReceiptHandle": f"rh-{run}", "Body": body}],
                                  "arn:aws:sqs:us-east-1:123456789012:ShipmentQueue")
    elif target == "AutoGenerateFunction":
        _call("POST", f"{path}/progress-billings", {"amount": "100.00", "invoice_date": BUSINESS_DATE,
                                                    "schedule": True})
        event = json.loads((ROOT / "events" / "auto_generate" / "scheduled.json").read_text())
        event["time"] = f"{BUSINESS_DATE}T06:00:00Z"
        spec["event"] = event
    return spec


def _check(spec: dict[str, Any], out: dict[str, Any]) -> None:
    """The first event must have been served correctly, or the timing means nothing."""
    target, result = spec["target"], out["result"]
    if target == FLOOR:
        good = out["ok"]
    elif "expect" in spec:
        good = isinstance(result, dict) and result.get("statusCode") == spec["expect"]
    elif target == "ProcessShipmentsFunction":
        good = isinstance(result, dict) and result.get("batchItemFailures") == []
    else:
        good = isinstance(result, dict) and result.get("invoiced") == 1 and result.get("complete") is True
    if not good:
        raise RuntimeError(f"cold start of {target}: unexpected result {str(result)[:500]}")


@dataclass(frozen=True)
class Scenario:
    """Where a child finds its code: what it puts on ``sys.path``, and Python flags."""

    name: str
    site: Path  # the layer's and the runtime's distributions
    layer_code: Path  # the directory holding ``billing``
    functions: Path | None = None  # a copy of functions/ (None: the repository's)
    flags: tuple[str, ...] = ()
    runtime: Path | None = None  # after the layer, as Lambda orders them

    def paths(self, spec: dict[str, Any]) -> dict[str, Any]:
        spec = dict(spec)
        if spec["target"] == FLOOR:
            spec["sys_path"] = [str(self.runtime or self.site)]
            return spec
        code_uri = spec.pop("code_uri")
        fdir = (self.functions / Path(code_uri).name) if self.functions else ROOT / code_uri
        spec["handler_path"] = str(fdir / "app.py")
        spec["sys_path"] = [str(fdir), str(self.layer_code), str(self.site)] + ([str(self.runtime)] if self.runtime
                                                                                  else [])
        return spec


class ServerClock:
    """Time the moto server (in this process) spends answering requests: the DynamoDB side of a
    child's first event, which the child's wall time includes and its CPU time does not."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.requests = 0

    def install(self) -> None:
        from moto.core.responses import BaseResponse

        original = BaseResponse._dispatch
        clock = self

        def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return original(self, *args, **kwargs)
            finally:
                clock.seconds += time.perf_counter() - start
                clock.requests += 1

        BaseResponse._dispatch = timed  # type: ignore[method-assign]
        self._original = original

    def uninstall(self) -> None:
        from moto.core.responses import BaseResponse

        BaseResponse._dispatch = self._original  # type: ignore[method-assign]


def run_child(spec: dict[str, Any], env: dict[str, str], flags: tuple[str, ...] = (),
              importtime: bool = False, clock: ServerClock | None = None) -> dict[str, Any]:
    TMP.mkdir(parents=True, exist_ok=True)
    spec_path = TMP / f"coldstart-{spec['target']}.json"
    out_path = TMP / f"coldstart-{spec['target']}.out.json"
    spec_path.write_text(json.dumps(spec))
    out_path.unlink(missing_ok=True)
    cmd = [sys.executable, "-S", *flags, *(["-X", "importtime"] if importtime else []),
           str(ROOT / "bench" / "coldstart_child.py"), str(spec_path), str(out_path)]
    before = (clock.seconds, clock.requests) if clock else (0.0, 0)
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0 or not out_path.exists():
        raise RuntimeError(f"cold start child for {spec['target']} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(out_path.read_text())
    if clock:
        out["server_ms"] = (clock.seconds - before[0]) * 1000
        out["server_requests"] = clock.requests - before[1]
    _check(spec, out)
    if importtime:
        out["import_breakdown_ms"] = import_breakdown(proc.stderr)
    return out


_IMPORTTIME = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def import_breakdown(stderr: str) -> dict[str, float]:
    """``-X importtime`` output -> self time (ms) per group of top-level packages."""
    owner = {pkg: group for group, pkgs in GROUPS.items() for pkg in pkgs}
    out: dict[str, float] = defaultdict(float)
    for line in stderr.splitlines():
        m = _IMPORTTIME.match(line)
        if not m:
            continue
        top = m.group(4).partition(".")[0]
        out[owner.get(top, "standard library and other")] += int(m.group(1)) / 1000
    return dict(out)


# What each library costs to import on top of what is already loaded (prelude, untimed): the part
# of a function's cold start that is the library's, whatever our code does with it.
LIBRARY_PROBES = (
    ("botocore (the SDK, through pynamodb)", "all", "", "import botocore.session"),
    ("pynamodb", "all", "import botocore.session",
     "import pynamodb.models, pynamodb.attributes, pynamodb.transactions"),
    ("Powertools Logger and Metrics", "all", "import botocore.session", "import aws_lambda_powertools"),
    ("Powertools event handler (the HTTP resolver)", "HTTP", "import botocore.session, aws_lambda_powertools",
     "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver"),
    ("its request validation (pydantic, OpenAPI models)", "HTTP",
     "import botocore.session, aws_lambda_powertools\n"
     "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver",
     "APIGatewayHttpResolver(enable_validation=True)"),
    ("pydantic (BaseModel)", "shipments", "import botocore.session, aws_lambda_powertools",
     "from pydantic import BaseModel, ValidationError"),
    ("Powertools batch utility (partial batch responses)", "shipments",
     "import botocore.session, aws_lambda_powertools",
     "from aws_lambda_powertools.utilities.batch import BatchProcessor"),
)


def library_costs(site: Path, runs: int = 5) -> list[dict[str, Any]]:
    """Median import time of each ``LIBRARY_PROBES`` entry, each run in a fresh ``python -S``."""
    out = []
    for name, used_by, prelude, code in LIBRARY_PROBES:
        script = (f"import sys, time\nsys.path.insert(0, {str(site)!r})\n{prelude}\n"
                  f"t = time.perf_counter()\n{code}\nprint((time.perf_counter() - t) * 1000)\n")
        times = []
        for _ in range(runs + 1):  # the first run warms the page cache and is dropped
            proc = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, timeout=60,
                                  check=True, env={"PATH": "/usr/bin:/bin", "AWS_DEFAULT_REGION": "us-east-1"})
            times.append(float(proc.stdout.strip().splitlines()[-1]))
        out.append({"library": name, "used_by": used_by, "ms": summary(times[1:])})
    return out


def paired_ratio(values: list[float], floors: list[float]) -> float:
    """Median over the rounds of value / floor, each pair measured in the same round: a change in the
    machine's load between rounds cancels out, where a ratio of medians would carry it."""
    if len(values) != len(floors) or not values:
        raise ValueError("one floor per value")
    return summary([v / f for v, f in zip(values, floors, strict=True)])["median"]


def measure(runs: int = 7, as_built: bool = True, as_built_runs: int = 5, log: Any = print) -> dict[str, Any]:
    """Cold starts of the floor and of every function, ``runs`` times each (after a warm-up).

    Scenario ``bytecode``: the layer's code and dependencies with their ``.pyc`` (what a precompiled
    layer gives). Scenario ``as_built`` (functions only): the layer as ``sam build`` makes it, no
    ``.pyc`` anywhere in it and its own botocore ahead of the runtime's; run with ``-B``, as
    nothing can be written to Lambda's read-only /opt. It is a diagnosis, several times slower, so it
    gets ``as_built_runs`` rounds (the first ones), not ``runs``.
    """
    from local import cfn

    scenarios = [Scenario("bytecode", lambda_site(), LAYER)]
    if as_built:
        built = layer_as_built([ROOT / cfn.function_code_uri(f) for f in FUNCTIONS])
        scenarios.append(Scenario("as_built", built["layer"], built["layer"], functions=built["functions"],
                                  flags=("-B",), runtime=built["runtime"]))
    fast_moto()  # the server runs in this process
    clock = ServerClock()
    clock.install()
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {sc.name: {} for sc in scenarios}
    breakdown: dict[str, dict[str, float]] = {}
    with moto_server() as url:
        apply_environment(service_environment(url, log_level="WARNING"))
        create_tables(url)
        _call("PUT", "/settings", {"auto_invoice_on_shipment": True})
        child_env = service_environment(url)  # the template's log level, as in Lambda
        child_env["PATH"] = "/usr/bin:/bin"
        for run in range(runs + 1):  # run 0 warms up and is discarded
            for sc in scenarios:
                if sc.name != "bytecode" and run > as_built_runs:
                    continue
                for target in (FLOOR, *FUNCTIONS) if sc.name == "bytecode" else FUNCTIONS:
                    out = run_child(sc.paths(prepare(target, run, sc.name[:1])), child_env, sc.flags, clock=clock)
                    if run:
                        samples[sc.name].setdefault(target, []).append(out)
            log(f"  cold start: round {run}/{runs} done" + (" (warm-up)" if run == 0 else ""))
        for target in (FLOOR, *FUNCTIONS):
            spec = scenarios[0].paths(prepare(target, runs + 1, "i"))
            breakdown[target] = run_child(spec, child_env, importtime=True)["import_breakdown_ms"]
    clock.uninstall()
    floor_runs = samples["bytecode"][FLOOR]
    floor = summary([s["total_ms"] for s in floor_runs])["median"]
    floor_cpu = summary([s["cpu_ms"] for s in floor_runs])["median"]
    result: dict[str, Any] = {"runs": runs, "floor_ms": floor, "floor_cpu_ms": floor_cpu, "scenarios": {},
                              "library_costs": library_costs(scenarios[0].site)}
    for name, per_target in samples.items():
        rows = {}
        for target, outs in per_target.items():
            total = summary([o["total_ms"] for o in outs])
            cpu = summary([o["cpu_ms"] for o in outs])
            rows[target] = {
                "first_event": FIRST_EVENT[target],
                "total_ms": total,
                "import_ms": summary([o["import_ms"] for o in outs]),
                "first_call_ms": summary([o["first_call_ms"] for o in outs]),
                "cpu_ms": cpu,
                "server_ms": summary([o["server_ms"] for o in outs]),
                "dynamodb_requests": outs[-1]["server_requests"],
                # per round, the function over the floor measured in the same round; then the median
                "ratio_to_floor": paired_ratio([o["total_ms"] for o in outs],
                                               [f["total_ms"] for f in floor_runs[:len(outs)]]),
                "cpu_ratio_to_floor": paired_ratio([o["cpu_ms"] for o in outs],
                                                   [f["cpu_ms"] for f in floor_runs[:len(outs)]]),
                "runs": len(outs),
                "ratio_of_medians": total["median"] / floor,
                "samples_ms": [round(o["total_ms"], 2) for o in outs],
                "samples_cpu_ms": [round(o["cpu_ms"], 2) for o in outs],
                "modules_loaded": outs[-1]["modules"],
                "notable_modules": outs[-1]["notable"],
            }
            if name == "bytecode":
                rows[target]["import_breakdown_ms"] = breakdown[target]
        result["scenarios"][name] = rows
    return result
