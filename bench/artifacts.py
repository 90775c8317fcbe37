"""What each function ships: ``sam build`` (as ``make build`` runs it) into ``bench/tmp/sam``, then
the size of every function's directory and of the layer, and what the layer is made of.

If ``sam build`` fails, the reason is recorded and the layer is approximated by pip-installing
``layers/billing/requirements.txt`` (for this machine's platform and Python, not arm64 / 3.13) into a
temporary directory, with the package's own source beside it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from .env import LAYER, ROOT, TMP

SAM_BUILD_ENV = {"PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.11.7:3.13.0"), "SAM_CLI_TELEMETRY": "0"}
# Distributions the Lambda Python runtime already has (boto3 and what it needs): a copy in the
# layer only adds size, and shadows the runtime's own.
RUNTIME_TOP_LEVEL = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six.py")


def tree_size(path: Path) -> dict[str, int]:
    files = size = pyc = 0
    for p in path.rglob("*"):
        if p.is_file() and not p.is_symlink():
            files += 1
            size += p.stat().st_size
            pyc += p.suffix == ".pyc"
    return {"bytes": size, "files": files, "pyc_files": pyc}


def zipped_size(path: Path) -> int:
    """Bytes of a deflate zip of ``path`` (what ``sam deploy`` uploads), built in ``bench/tmp``."""
    target = TMP / "size-probe.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(path.rglob("*")):
            if p.is_file():
                z.write(p, p.relative_to(path))
    size = target.stat().st_size
    target.unlink()
    return size


def sam_build() -> tuple[Path | None, str]:
    """Run ``sam build``; returns (build dir, "") or (None, why it failed)."""
    sam = Path(sys.executable).parent / "sam"
    if not sam.exists():
        return None, f"{sam} not found (aws-sam-cli is in requirements-dev.txt)"
    build_dir, cache_dir = TMP / "sam" / "build", TMP / "sam" / "cache"
    shutil.rmtree(build_dir, ignore_errors=True)
    env = {**os.environ, **SAM_BUILD_ENV, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    cmd = [str(sam), "build", "--build-dir", str(build_dir), "--cache-dir", str(cache_dir)]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        return None, "sam build took longer than 10 minutes"
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-12:]
        return None, f"sam build exited {proc.returncode}: " + " / ".join(tail)
    return build_dir, ""


def pip_fallback() -> tuple[Path | None, str]:
    layer = TMP / "layer-fallback"
    shutil.rmtree(layer, ignore_errors=True)
    target = layer / "BillingLayer" / "python"
    cmd = [sys.executable, "-m", "pip", "install", "-q", "--no-compile", "--target", str(target), "-r",
           str(LAYER / "requirements.txt")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        return None, f"pip install failed too: {proc.stderr.strip()[-500:]}"
    shutil.copytree(LAYER / "billing", target / "billing", ignore=shutil.ignore_patterns("__pycache__"))
    return layer, ""


PROPOSED_RECIPE = (
    "pip install --target $ARTIFACTS_DIR/python --platform manylinux2014_aarch64 --implementation cp "
    "--python-version 3.13 --only-binary=:all: -r requirements.txt; "
    "rm -rf $ARTIFACTS_DIR/python/{botocore,urllib3,dateutil,six.py}*; "
    "cp -r billing $ARTIFACTS_DIR/python/; "
    "python3.13 -m compileall -q -j 0 --invalidation-mode unchecked-hash $ARTIFACTS_DIR/python"
)


def proposed_layer() -> dict[str, Any]:
    """The layer as docs/benchmarks.md proposes to build it (``PROPOSED_RECIPE``): arm64 / 3.13 wheels,
    without the runtime's botocore and its dependencies, compiled to bytecode. Measured, not deployed."""
    started = time.perf_counter()
    root = TMP / "proposed-layer"
    shutil.rmtree(root, ignore_errors=True)
    site = root / "python"
    env = {**os.environ, "PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.11.7:3.13.0")}
    py313 = shutil.which("python3.13", path=env.get("PATH"))
    if py313 is None:
        return {"error": "python3.13 not on PATH"}
    pip = [py313, "-m", "pip", "install", "-q", "--target", str(site), "--platform", "manylinux2014_aarch64",
           "--implementation", "cp", "--python-version", "3.13", "--only-binary=:all:", "-r",
           str(LAYER / "requirements.txt")]
    proc = subprocess.run(pip, env=env, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        return {"error": f"pip install failed: {proc.stderr.strip()[-400:]}"}
    removed = []
    for entry in sorted(site.iterdir()):
        stem = entry.name.split("-")[0].removesuffix(".py")
        if stem in ("botocore", "urllib3", "dateutil", "python_dateutil", "six"):
            removed.append(entry.name)
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    shutil.copytree(LAYER / "billing", site / "billing", ignore=shutil.ignore_patterns("__pycache__"))
    compile_cmd = [py313, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(site)]
    proc = subprocess.run(compile_cmd, env=env, capture_output=True, text=True, timeout=600, check=False)
    if proc.returncode != 0:
        return {"error": f"compileall failed: {proc.stderr.strip()[-400:]}"}
    size = tree_size(root)
    return {**size, "zipped_bytes": zipped_size(root), "removed": removed, "recipe": PROPOSED_RECIPE,
            "seconds": time.perf_counter() - started}


def measure() -> dict[str, Any]:
    from local import cfn

    started = time.perf_counter()
    build_dir, why = sam_build()
    method = "sam build (python3.13, arm64)"
    if build_dir is None:
        build_dir, why2 = pip_fallback()
        method = "pip install -r layers/billing/requirements.txt (fallback: this machine's platform)"
        why = why + ("; " + why2 if why2 else "")
    out: dict[str, Any] = {"method": method, "build_error": why or None,
                           "seconds": time.perf_counter() - started}
    if build_dir is None:
        return out
    layer_dir = build_dir / "BillingLayer"
    layer: dict[str, Any] = dict(tree_size(layer_dir))
    layer["zipped_bytes"] = zipped_size(layer_dir)
    site = layer_dir / "python"
    parts: list[dict[str, Any]] = []
    for entry in sorted(site.iterdir()) if site.exists() else []:
        if entry.name.endswith(".dist-info"):
            continue
        size = tree_size(entry)["bytes"] if entry.is_dir() else entry.stat().st_size
        parts.append({"name": entry.name, "bytes": size})
    parts.sort(key=lambda p: -int(p["bytes"]))
    runtime = [p for p in parts if p["name"] in RUNTIME_TOP_LEVEL]
    layer["parts"] = parts
    layer["runtime_copies"] = runtime
    layer["runtime_copies_bytes"] = sum(int(p["bytes"]) for p in runtime)
    out["layer"] = layer
    functions = {}
    for logical_id in cfn.resources("AWS::Serverless::Function"):
        fdir = build_dir / logical_id
        code = tree_size(fdir) if fdir.exists() else {"bytes": 0, "files": 0, "pyc_files": 0}
        functions[logical_id] = {"code": code, "total_bytes": code["bytes"] + layer["bytes"]}
    out["functions"] = functions
    out["proposed_layer"] = proposed_layer()
    return out
