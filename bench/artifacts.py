"""What each function ships: ``sam build`` (as ``make build`` runs it) into ``.local/bench/sam``, then
every function's directory and the layer, unzipped and zipped (deflate, as ``sam deploy`` uploads)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from .env import ROOT, TMP


def sizes(path: Path) -> dict[str, int]:
    """Bytes unzipped and zipped, files and ``.pyc`` files of a directory."""
    files = [p for p in sorted(path.rglob("*")) if p.is_file()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for p in files:
            z.write(p, p.relative_to(path))
    return {
        "bytes": sum(p.stat().st_size for p in files),
        "zipped_bytes": len(buffer.getvalue()),
        "files": len(files),
        "pyc_files": sum(p.suffix == ".pyc" for p in files),
    }


def sam_build() -> tuple[Path | None, str]:
    """``sam build`` into ``.local/bench/sam/build``: (the build directory, "") or (None, why not)."""
    sam = Path(sys.executable).parent / "sam"
    if not sam.exists():
        return None, f"{sam} not found (aws-sam-cli is in requirements-dev.txt)"
    build_dir = TMP / "sam" / "build"
    shutil.rmtree(build_dir, ignore_errors=True)
    # python3.13 for the build (pyenv on the development machines: make bench sets PYENV_VERSION)
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0", "PATH": f"{sam.parent}:{os.environ.get('PATH', '')}"}
    cmd = [str(sam), "build", "--build-dir", str(build_dir), "--cache-dir", str(TMP / "sam" / "cache")]
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False)
    except subprocess.TimeoutExpired:
        return None, "sam build took longer than 10 minutes"
    if proc.returncode != 0:
        return None, f"sam build exited {proc.returncode}: " + " / ".join(proc.stderr.strip().splitlines()[-8:])
    return build_dir, ""


def measure() -> dict[str, Any]:
    from local import cfn

    started = time.perf_counter()
    build_dir, error = sam_build()
    out: dict[str, Any] = {"build_error": error or None, "build_dir": build_dir}
    if build_dir is None:
        return out
    layer_dir = build_dir / "BillingLayer"
    layer: dict[str, Any] = sizes(layer_dir)
    parts = [
        (p.name, sizes(p)["bytes"] if p.is_dir() else p.stat().st_size)
        for p in (layer_dir / "python").iterdir()
        if not p.name.endswith(".dist-info")
    ]
    layer["largest"] = sorted(parts, key=lambda part: -part[1])[:6]
    out["layer"] = layer
    out["functions"] = {f: sizes(build_dir / f) for f in cfn.resources("AWS::Serverless::Function")}
    out["seconds"] = time.perf_counter() - started
    return out
