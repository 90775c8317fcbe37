"""Cold start of each function of ``template.yaml`` against a floor (docs/benchmarks.md, section 1): fresh
``python -S`` children (``bench/coldstart_child.py``) with only Lambda's distributions on ``sys.path``, their
tables in a moto server in this process (moto in the child would import the SDK before the clock), each run's
state set up untimed through the real handlers (``local.gateway``). Rounds interleave the floor and every function.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from .env import LAYER, ROOT, TABLES, TMP, paired_ratio, service_environment, summary, use_environment

FLOOR = "floor"
# each target's first event, and what it must answer (else its timing means nothing)
TARGETS: dict[str, tuple[str, dict[str, Any]]] = {
    FLOOR: ('`import boto3`, `boto3.client("dynamodb")`, one `GetItem` of a job', {"found": True}),
    "CreateProgressBillingFunction": ("POST /orders/{id}/progress-billings (create now, amount)", {"statusCode": 201}),
    "FinalizeFunction": ("POST /orders/{id}/final-invoice (job with one deposit)", {"statusCode": 201}),
    "ApiFunction": ("GET /orders/{id}", {"statusCode": 200}),
    "ProcessShipmentsFunction": ("SQS batch of one shipment message (auto-invoiced)", {"batchItemFailures": []}),
    "AutoGenerateFunction": ("scheduled event, one record due", {"invoiced": 1, "complete": True}),
}
FUNCTIONS = tuple(TARGETS)[1:]
DUE = "2030-01-01"  # the automation's business date
RUNTIME_PACKAGES = ["boto3"]  # the Lambda Python runtime ships boto3 (and with it botocore)


def distribution_closure(roots: list[str]) -> list[str]:
    """The installed distributions ``roots`` need, following requirements whose markers hold (no extras)."""
    from packaging.requirements import Requirement

    seen: dict[str, str] = {}
    todo = list(roots)
    while todo:
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        seen[key] = dist.metadata["Name"]
        for spec in dist.requires or []:
            req = Requirement(spec)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return sorted(seen.values())


def layer_requirements() -> list[str]:
    from packaging.requirements import Requirement

    lines = (raw.split("#", 1)[0].strip() for raw in (LAYER / "requirements.txt").read_text().splitlines())
    return [Requirement(line).name for line in lines if line and not line.startswith("-")]


def lambda_site() -> Path:
    """``.local/bench/lambda-site``: links to the top-level modules of the layer's and the runtime's
    distributions only, not this venv's others (awscrt, which botocore imports when present...)."""
    site = TMP / "lambda-site"
    shutil.rmtree(site, ignore_errors=True)
    site.mkdir(parents=True)
    for name in distribution_closure(layer_requirements() + RUNTIME_PACKAGES):
        dist = metadata.distribution(name)
        for top in {f.parts[0] for f in dist.files or []} - {"..", "__pycache__", "bin"}:
            src = Path(str(dist.locate_file(top)))
            if not top.endswith((".dist-info", ".data")) and src.exists() and not (site / top).exists():
                (site / top).symlink_to(src)
    return site


@contextmanager
def moto_server() -> Any:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _call(method: str, path: str, body: Any = None) -> Any:
    from local.fixtures import ADMIN
    from local.gateway import invoke

    r = invoke(method, path, body=None if body is None else json.dumps(body), claims=ADMIN)
    if r.status >= 300:
        raise RuntimeError(f"set-up {method} {path} failed: {r.status} {r.body}")
    return r.json()


def _http_event(method: str, path: str, body: Any = None) -> dict[str, Any]:
    from local import cfn
    from local.fixtures import ADMIN
    from local.gateway import http_event

    found = cfn.find_route(method, path)
    assert found is not None, path
    data = None if body is None else json.dumps(body)
    return http_event(method, path, found[0].route_key, found[1], body=data, claims=ADMIN)


def prepare(target: str, run: int, endpoint_url: str) -> dict[str, Any]:
    """The state and the first event of one run (untimed); returns the child's spec."""
    from local import cfn, fixtures
    from local.metering import intercept

    job_id = f"CS-{target[:12]}-{run}"
    path = f"/orders/{job_id}"
    _call("POST", "/orders", fixtures.order_body(job_id))
    if target == FLOOR:  # the floor's GetItem: the key the service's own get-job reads
        keys: list[Any] = []

        def read(operation: str, params: dict[str, Any], proceed: Callable[[], Any]) -> Any:
            keys.append(params.get("Key"))
            return proceed()

        with intercept(read):
            _call("GET", path)
        return {"target": target, "endpoint_url": endpoint_url, "table": TABLES["BillingTable"], "key": keys[0]}
    spec: dict[str, Any] = {
        "target": target,
        "function": target,
        "timeout_ms": int(cfn.function_property(target, "Timeout")) * 1000,
        "handler_path": str(ROOT / cfn.function_code_uri(target) / "app.py"),
    }
    if target == "CreateProgressBillingFunction":
        spec["event"] = _http_event("POST", f"{path}/progress-billings", {"amount": "100.00"})
    elif target == "FinalizeFunction":
        _call("POST", f"{path}/progress-billings", {"amount": "300.00"})
        spec["event"] = _http_event("POST", f"{path}/final-invoice")
    elif target == "ApiFunction":
        spec["event"] = _http_event("GET", path)
    elif target == "ProcessShipmentsFunction":
        body = fixtures.shipment_message(f"SH-{job_id}", job_id)
        spec["event"] = fixtures.sqs_event(
            [{"MessageId": f"m-{run}", "ReceiptHandle": "rh", "Body": body}],
            "arn:aws:sqs:us-east-1:123456789012:ShipmentQueue",
        )
    else:  # the earlier runs invoiced theirs: each run's automation finds its own record due
        _call("POST", f"{path}/progress-billings", {"amount": "100.00", "invoice_date": DUE, "schedule": True})
        spec["event"] = fixtures.scheduled_event(f"{DUE}T06:00:00Z")
    return spec


def served(target: str, result: Any) -> bool:
    return isinstance(result, dict) and all(result.get(k) == v for k, v in TARGETS[target][1].items())


def run_child(spec: dict[str, Any], env: dict[str, str]) -> dict[str, Any]:
    out_path = TMP / "coldstart-out.json"
    out_path.unlink(missing_ok=True)
    cmd = [sys.executable, "-S", str(ROOT / "bench" / "coldstart_child.py"), json.dumps(spec), str(out_path)]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    if proc.returncode != 0 or not out_path.exists():
        raise RuntimeError(f"cold start of {spec['target']} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(out_path.read_text())
    if not served(spec["target"], out["result"]):
        raise RuntimeError(f"cold start of {spec['target']}: unexpected result {str(out['result'])[:500]}")
    return out


def summarize(samples: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Per target: medians (min, max) of each timing, and the paired ratios to the floor."""
    floor = samples[FLOOR]
    rows = {}
    for target, outs in samples.items():
        rows[target] = {
            "first_event": TARGETS[target][0],
            **{k: summary([o[k] for o in outs]) for k in ("total_ms", "import_ms", "first_event_ms", "cpu_ms")},
            "ratio_to_floor": paired_ratio([o["total_ms"] for o in outs], [f["total_ms"] for f in floor]),
            "cpu_ratio_to_floor": paired_ratio([o["cpu_ms"] for o in outs], [f["cpu_ms"] for f in floor]),
            "modules_loaded": outs[-1]["modules"],
            "context_modules": outs[-1]["context_modules"],
            "samples_ms": [round(o["total_ms"], 1) for o in outs],
        }
    return rows


def measure(runs: int = 7, log: Callable[[str], None] = print) -> dict[str, Any]:
    site = lambda_site()
    samples: dict[str, list[dict[str, Any]]] = {t: [] for t in TARGETS}
    with moto_server() as url:
        use_environment(url)
        _call("PUT", "/settings", {"auto_invoice_on_shipment": True})
        env = {**service_environment(url), "PATH": "/usr/bin:/bin"}  # the template's log level
        context_path = [str(ROOT), sysconfig.get_paths()["purelib"]]
        for run in range(runs + 1):  # round 0 warms up (bytecode, page cache) and is discarded
            for target, outs in samples.items():
                spec = prepare(target, run, url)
                fdir = [str(Path(spec["handler_path"]).parent), str(LAYER)] if target != FLOOR else []
                spec.update(sys_path=[*fdir, str(site)], context_path=context_path)
                out = run_child(spec, env)
                if run:
                    outs.append(out)
            log(f"  cold start: round {run}/{runs}" + (" (warm-up)" if run == 0 else ""))
    return {"runs": runs, "site": [p.name for p in sorted(site.iterdir())], "targets": summarize(samples)}
