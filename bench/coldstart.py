"""Cold start of each function of ``template.yaml`` against a floor (docs/benchmarks.md, section 1): fresh
``python -S`` children (``bench/coldstart_child.py``), their tables in a moto server in this process (moto in the
child would import the SDK before the clock), each run's state set up untimed through the real handlers
(``local.gateway``). What runs is what ships: ``sam build``'s function directories and layer, with the runtime's
SDK, on python3.13.
"""

from __future__ import annotations

import functools
import json
import platform
import shutil
import subprocess
import sysconfig
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from . import artifacts
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
    "InvoicePdfFunction": ("GET /invoices/{id}/pdf (a deposit invoice)", {"statusCode": 200}),
}
FUNCTIONS = tuple(TARGETS)[1:]
DUE = "2030-01-01"  # the automation's business date
PYTHON = "python3.13"  # the runtime's Python (pyenv on the development machines: make bench sets PYENV_VERSION)
TIMINGS = ("total_ms", "import_ms", "first_event_ms", "cpu_ms", "server_ms")


@functools.cache
def python() -> str:
    """The executable of the ``python3.13`` on PATH (which may be pyenv's shim)."""
    cmd = [PYTHON, "-c", "import sys; print(sys.executable)"]
    return subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=60).stdout.strip()


def _pip(*args: str) -> None:
    proc = subprocess.run(
        [python(), "-m", "pip", "-q", *args], capture_output=True, text=True, timeout=600, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"pip {' '.join(args)} failed:\n{proc.stderr[-3000:]}")


def runtime_site() -> Path:
    """``.local/bench/runtime-site``: the runtime's SDK (``layers/billing/runtime-constraints.txt``) for python3.13,
    with its bytecode, as the runtime has it; installed again when the constraints change."""
    site, pins = TMP / "runtime-site", LAYER / "runtime-constraints.txt"
    if not (site / ".pins").exists() or (site / ".pins").read_text() != pins.read_text():
        shutil.rmtree(site, ignore_errors=True)
        _pip("install", "--target", str(site), "-c", str(pins), "boto3")
        (site / ".pins").write_text(pins.read_text())
    return site


def _dist_info(root: Path, top: str) -> Path:
    """The dist-info of what installed the package ``top``: the one whose ``top_level.txt`` names it (PIL ->
    pillow-13.0.0.dist-info), else the one named after it (pydantic_core -> pydantic_core-2.46.4.dist-info)."""
    for info in sorted(root.glob("*.dist-info")):
        if (info / "top_level.txt").exists() and top in (info / "top_level.txt").read_text().split():
            return info
    return next(root.glob(f"{top}-*.dist-info"))


def loadable(built: Path, name: str = "layer") -> tuple[Path, list[str]]:
    """The built layer (``python/``) or a function's directory as this machine can load it, and what was swapped:
    off arm64, a copy whose compiled extensions (and the libraries a wheel bundles with them, ``*.libs``) are this
    machine's build of the same release; every other file, bytecode included, as built."""
    machine = platform.machine()
    if machine in ("aarch64", "arm64"):
        return built, []
    out, swapped = TMP / f"{name}-{machine}", set()
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(built, out)
    for so in sorted(out.rglob("*-aarch64-linux-gnu.so")):
        top = so.relative_to(out).parts[0]
        dist, version = _dist_info(out, top).name.removesuffix(".dist-info").rsplit("-", 1)
        wheel = TMP / "wheels" / f"{dist}-{version}-{machine}"
        if not wheel.exists():
            platform_args = [f"--platform=manylinux{tag}_{machine}" for tag in ("2014", "_2_28")] + [
                "--python-version=3.13"
            ]
            _pip(
                "install",
                "--no-deps",
                "--only-binary=:all:",
                *platform_args,
                "--target",
                str(wheel),
                f"{dist}=={version}",
            )
        so.unlink()
        for new in (wheel / top).rglob(f"*-{machine}-linux-gnu.so"):
            shutil.copy2(new, out / new.relative_to(wheel))
        for libs in wheel.glob("*.libs"):
            shutil.copytree(libs, out / libs.name, dirs_exist_ok=True)
        swapped.add(f"{dist} {version}")
    return out, sorted(swapped)


SERVED: list[float] = []  # seconds the moto server took to answer, per request


@contextmanager
def moto_server() -> Any:
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    wsgi: Any = server._server  # the WSGI server behind it: its application, timed

    def timed(environ: Any, start_response: Any, app: Any = wsgi.app) -> Any:
        t = time.perf_counter()
        try:
            return app(environ, start_response)
        finally:
            SERVED.append(time.perf_counter() - t)

    wsgi.app = timed
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


def prepare(target: str, run: int, endpoint_url: str, code: Path) -> dict[str, Any]:
    """The state and the first event of one run (untimed); returns the child's spec. ``code``: the function's
    directory as ``sam build`` made it (``loadable``)."""
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
        "handler_path": str(code / "app.py"),
    }
    if target == "CreateProgressBillingFunction":
        spec["event"] = _http_event("POST", f"{path}/progress-billings", {"amount": "100.00"})
    elif target == "FinalizeFunction":
        _call("POST", f"{path}/progress-billings", {"amount": "300.00"})
        spec["event"] = _http_event("POST", f"{path}/final-invoice")
    elif target == "ApiFunction":
        spec["event"] = _http_event("GET", path)
    elif target == "InvoicePdfFunction":
        invoice = _call("POST", f"{path}/progress-billings", {"amount": "300.00"})["invoice"]
        spec["event"] = _http_event("GET", f"/invoices/{invoice['invoice_id']}/pdf")
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


def run_child(spec: dict[str, Any], env: dict[str, str], prefix: tuple[str, ...] = ()) -> dict[str, Any]:
    out_path = TMP / "coldstart-out.json"
    out_path.unlink(missing_ok=True)
    cmd = [*prefix, python(), "-S", str(ROOT / "bench" / "coldstart_child.py"), json.dumps(spec), str(out_path)]
    answered = len(SERVED)
    timeout = 900 if prefix else 120  # under callgrind, a run is some 50 times slower
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0 or not out_path.exists():
        raise RuntimeError(f"cold start of {spec['target']} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out: dict[str, Any] = json.loads(out_path.read_text())
    # the stand-in's time to answer is not the function's (moto's transactions are far slower than DynamoDB's)
    out["server_ms"] = sum(SERVED[answered:]) * 1000
    out["total_ms"] -= out["server_ms"]
    out["first_event_ms"] -= out["server_ms"]
    if not served(spec["target"], out["result"]):
        raise RuntimeError(f"cold start of {spec['target']}: unexpected result {str(out['result'])[:500]}")
    return out


CALLGRIND = TMP / "callgrind" / "out"
# the child's parts between its marks (coldstart_child.mark), as callgrind numbers its dumps
PARTS = {"import": ".2", "off_clock": ".3", "first_event": ".4"}


def count_instructions(spec: dict[str, Any], env: dict[str, str]) -> dict[str, int] | None:
    """One run under callgrind: the instructions the child executed while timed (import, first event), without
    its start-up, the context made off the clock and its exit. Instruction counts do not depend on what else
    the machine does: one run says what many timed ones only estimate. ``None`` without valgrind, or with a
    Python whose symbols do not show the marks."""
    if (valgrind := shutil.which("valgrind")) is None:
        return None
    shutil.rmtree(CALLGRIND.parent, ignore_errors=True)
    CALLGRIND.parent.mkdir(parents=True)
    args = ("--tool=callgrind", "--dump-before=os_getppid", f"--callgrind-out-file={CALLGRIND}")
    run_child(spec, env, (valgrind, *args))
    parts = {}
    for dump in CALLGRIND.parent.iterdir():
        for line in dump.read_text(errors="replace").splitlines():
            if line.startswith("summary:"):
                parts[dump.suffix] = int(line.split()[1])
    if set(parts) != {"", ".1", *PARTS.values()}:  # a mark missing or one more: the parts would be shifted
        return None
    counted = {name: parts[part] for name, part in PARTS.items()}
    return {"total": counted["import"] + counted["first_event"], **counted}


def summarize(
    samples: dict[str, list[dict[str, Any]]],
    floors: dict[str, list[dict[str, Any]]] | None = None,
    counted: dict[str, dict[str, int] | None] | None = None,
) -> dict[str, Any]:
    """Per target: medians (min, max) of each timing, and the ratios to the floor paired run by run:
    ``floors[target][i]`` is the floor run just before the target's ``i``-th (default: the floor's own
    ``i``-th run); with ``counted``, each target's instructions and their ratio to the floor's."""
    counted = counted or {}
    floor_count = counted.get(FLOOR)
    rows = {}
    for target, outs in samples.items():
        floor = (floors or {}).get(target) or samples[FLOOR]
        rows[target] = {
            "first_event": TARGETS[target][0],
            **{k: summary([o[k] for o in outs]) for k in TIMINGS},
            "ratio_to_floor": paired_ratio([o["total_ms"] for o in outs], [f["total_ms"] for f in floor]),
            "cpu_ratio_to_floor": paired_ratio([o["cpu_ms"] for o in outs], [f["cpu_ms"] for f in floor]),
            "instructions": (count := counted.get(target)),
            "instructions_ratio_to_floor": count and floor_count and count["total"] / floor_count["total"],
            "modules_loaded": outs[-1]["modules"],
            "context_modules": outs[-1]["context_modules"],
            "samples_ms": [round(o["total_ms"], 1) for o in outs],
        }
    return rows


def measure(runs: int = 7, log: Callable[[str], None] = print, build_dir: Path | None = None) -> dict[str, Any]:
    """``build_dir``: ``sam build``'s output (built now when not given)."""
    if (build_dir := build_dir or artifacts.sam_build()[0]) is None:
        raise RuntimeError("sam build failed: nothing to measure (python -m bench.run --only artifacts says why)")
    layer, swapped = loadable(build_dir / "BillingLayer" / "python")
    code = {f: loadable(build_dir / f, f) for f in FUNCTIONS}
    swapped = sorted({*swapped, *(s for _, more in code.values() for s in more)})
    site = runtime_site()
    samples: dict[str, list[dict[str, Any]]] = {t: [] for t in TARGETS}
    floors: dict[str, list[dict[str, Any]]] = {t: [] for t in FUNCTIONS}  # the floor run just before each
    counted: dict[str, dict[str, int] | None] = {}
    with moto_server() as url:
        use_environment(url)
        _call("PUT", "/settings", {"auto_invoice_on_shipment": True})
        # the template's log level; Lambda's /var/task and /opt are read-only: nothing a run compiles is kept;
        # the runtime API's address, which Lambda sets (billing.loading freezes the imports only there)
        env = {
            **service_environment(url),
            "PATH": "/usr/bin:/bin",
            "PYTHONDONTWRITEBYTECODE": "1",
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
        }
        context_path = [str(ROOT), sysconfig.get_paths()["purelib"]]

        def child(who: str, n: int) -> dict[str, Any]:
            spec = prepare(who, n, url, code[who][0] if who != FLOOR else build_dir)
            fdir = [str(Path(spec["handler_path"]).parent), str(layer)] if who != FLOOR else []
            return {**spec, "sys_path": [*fdir, str(site)], "context_path": context_path}

        for run in range(runs + 1):  # round 0 warms up (the page cache) and is discarded
            # Each function right after a floor of its own: the machine's speed (a VM's neighbours) drifts
            # within a round too, and a ratio is only as good as its pair is close.
            for i, target in enumerate(FUNCTIONS):
                pair = []
                for who, n in ((FLOOR, run * len(FUNCTIONS) + i), (target, run)):
                    pair.append(run_child(child(who, n), env))
                if run:
                    samples[FLOOR].append(pair[0])
                    floors[target].append(pair[0])
                    samples[target].append(pair[1])
            log(f"  cold start: round {run}/{runs}" + (" (warm-up)" if run == 0 else ""))
        # one more run of each, counted; a fixed hash seed makes the count repeatable (set iteration order)
        for n, target in enumerate(TARGETS, start=(runs + 1) * len(FUNCTIONS)):
            counted[target] = count_instructions(child(target, n), {**env, "PYTHONHASHSEED": "0"})
        log("  cold start: instructions " + ("counted" if counted[FLOOR] else "not counted (no valgrind)"))
    return {
        "runs": runs,
        "python": f"CPython {samples[FLOOR][-1]['python']}",
        "sdk": dict(p.name.removesuffix(".dist-info").split("-") for p in site.glob("boto*-*.dist-info")),
        "swapped": swapped,
        "targets": summarize(samples, floors, counted),
    }
