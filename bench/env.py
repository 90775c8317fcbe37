"""What the parts of the benchmark share: paths, the service's environment (``template.yaml``'s, as
Lambda would set it), the machine's description and the statistics."""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TMP = ROOT / ".local" / "bench"  # scratch space (git-ignored, not linted)
LAYER = ROOT / "layers" / "billing"
TABLES = {"BillingTable": "bench-billing", "IdempotencyTable": "bench-idempotency"}
PACKAGES = ("boto3", "botocore", "moto", "pynamodb", "pydantic", "aws-lambda-powertools", "aws-sam-cli")

for _p in (str(LAYER), str(ROOT)):  # ``billing`` and ``local`` importable, as pytest's pythonpath makes them
    if _p not in sys.path:
        sys.path.insert(0, _p)


def service_environment(endpoint_url: str | None = None) -> dict[str, str]:
    """The functions' environment from ``template.yaml`` (``local.cfn``, with the bench's tables), the
    offline credentials (``local.sandbox``), and the DynamoDB endpoint if any."""
    from local import cfn, sandbox

    env = {k: v for k, v in sandbox.OFFLINE_ENV.items() if k.startswith("AWS_")}
    env.update(cfn.function_environment(TABLES))
    if endpoint_url:
        env["DYNAMODB_ENDPOINT_URL"] = endpoint_url
    return env


def use_environment(endpoint_url: str | None = None) -> None:
    """The service's environment in this process (quiet logs), and its tables (``local.cfn``)."""
    import boto3

    from billing import config
    from local import cfn, sandbox

    sandbox.go_offline({cfn.TABLE_ENV[logical_id]: name for logical_id, name in TABLES.items()})
    os.environ.update(service_environment(endpoint_url), POWERTOOLS_LOG_LEVEL="WARNING")
    config.reset()  # the service reads its configuration once
    cfn.create_tables(boto3.client("dynamodb", endpoint_url=endpoint_url), TABLES)


def machine_info() -> dict[str, Any]:
    def first(path: str, key: str) -> str | None:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError:
            return None
        return next((ln.split(":", 1)[1].strip() for ln in lines if ln.lower().startswith(key)), None)

    memory = first("/proc/meminfo", "memtotal")
    return {
        "cpu_model": first("/proc/cpuinfo", "model name") or platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "architecture": platform.machine(),
        "memory_mb": int(memory.split()[0]) // 1024 if memory else None,
        "os": f"{platform.system()} {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "executable": sys.executable,
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "packages": {d: next((x.version for x in metadata.distributions(name=d)), None) for d in PACKAGES},
    }


def summary(values: list[float]) -> dict[str, float]:
    """Median (the figure reported), min, max and count of a series of timings."""
    if not values:
        raise ValueError("no values")
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values)}


def paired_ratio(values: list[float], floors: list[float]) -> float:
    """Median over the rounds of value / floor, each pair measured in the same round: a change in the
    machine's speed between rounds cancels out, where a ratio of medians would carry it."""
    if len(values) != len(floors) or not values:
        raise ValueError("one floor per value")
    if min(floors) <= 0:
        raise ValueError("the floor must be positive")
    return statistics.median(v / f for v, f in zip(values, floors, strict=True))
