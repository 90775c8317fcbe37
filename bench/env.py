"""What every part of the benchmark shares: paths, the service's environment (taken from
``template.yaml``, as Lambda would set it), a moto server, machine information and statistics."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TMP = ROOT / "bench" / "tmp"  # scratch space (git-ignored): specs, build output
LAYER = ROOT / "layers" / "billing"

TABLES = {"BillingTable": "bench-billing", "IdempotencyTable": "bench-idempotency"}
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_SESSION_TOKEN": "bench",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}


def ensure_import_path() -> None:
    """``billing`` (the layer) and ``local`` importable, as pytest's ``pythonpath`` makes them."""
    for p in (str(LAYER), str(ROOT)):
        if p not in sys.path:
            sys.path.insert(0, p)


def service_environment(endpoint_url: str | None = None, log_level: str | None = None) -> dict[str, str]:
    """The function environment of ``template.yaml``'s ``Globals`` (Refs resolved to the bench's
    table names and the parameters' defaults), plus fake credentials and, for a moto server, its URL."""
    ensure_import_path()
    from local import cfn

    env: dict[str, str] = dict(CREDENTIALS)
    variables = cfn.template()["Globals"]["Function"]["Environment"]["Variables"]
    for name, value in variables.items():
        if isinstance(value, dict) and "Ref" in value:
            ref = value["Ref"]
            env[name] = TABLES[ref] if ref in TABLES else cfn.parameter_default(ref)
        else:
            env[name] = str(value)
    if log_level:
        env["POWERTOOLS_LOG_LEVEL"] = log_level
    if endpoint_url:
        env["DYNAMODB_ENDPOINT_URL"] = endpoint_url
    else:
        env.pop("DYNAMODB_ENDPOINT_URL", None)
    return env


def apply_environment(env: dict[str, str]) -> None:
    """Use ``env`` in this process (the service reads its configuration once; forget it)."""
    os.environ.update(env)
    if "DYNAMODB_ENDPOINT_URL" not in env:
        os.environ.pop("DYNAMODB_ENDPOINT_URL", None)
    ensure_import_path()
    from billing import config

    config.reset()


def create_tables(endpoint_url: str | None = None) -> None:
    import boto3

    from local import cfn

    cfn.create_tables(boto3.client("dynamodb", endpoint_url=endpoint_url), dict(TABLES))


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server on a free local port, in a thread of this process; yields its URL."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


# ---- machine and statistics ---------------------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_total_mb() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) // 1024
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    versions: dict[str, str | None] = {}
    for dist in ("boto3", "botocore", "moto", "pynamodb", "pydantic", "aws-lambda-powertools", "aws-sam-cli"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {
        "cpu_model": cpu_model(),
        "cores": os.cpu_count(),
        "architecture": platform.machine(),
        "memory_mb": memory_total_mb(),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "packages": versions,
    }


def summary(values: list[float]) -> dict[str, float]:
    """Median (the figure reported), min, max and count of a series of timings."""
    if not values:
        raise ValueError("no values")
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def ratio(value: float, floor: float) -> float:
    if floor <= 0:
        raise ValueError("the floor must be positive")
    return value / floor
