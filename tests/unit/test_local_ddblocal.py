"""npm, bounded (local.ddblocal): an unreachable registry or a hung npm is an NpmError in seconds."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from local import ddblocal


def fake_npm(folder: Path, monkeypatch: pytest.MonkeyPatch, ping: str, install: str) -> None:
    """An ``npm`` first on PATH: ``ping`` and ``install`` are the shell bodies of its two commands."""
    folder.mkdir()
    script = folder / "npm"
    script.write_text(f'#!/bin/sh\nif [ "$1" = ping ]; then\n{ping}\nfi\n{install}\n')
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(ddblocal, "LOCAL_DIR", folder / "local")


def test_a_hung_install_is_stopped_at_its_timeout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pid_file = tmp_path / "child.pid"
    fake_npm(tmp_path / "bin", monkeypatch, "exit 0", f"sleep 60 & echo $! > {pid_file}; wait")
    started = time.monotonic()
    with pytest.raises(ddblocal.NpmError, match=r"did not finish within 2s \(is the npm registry reachable\?\)"):
        ddblocal.npm_install("some-package", timeout=1.5)
    assert time.monotonic() - started < 10
    child = int(pid_file.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{child}").exists() and time.monotonic() < deadline:  # its children go too
        time.sleep(0.1)
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)


def test_an_unreachable_registry_fails_before_installing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    refused = (
        "echo 'npm error code ECONNREFUSED' >&2; echo 'npm error FetchError: request to http://127.0.0.1:9/-/ping "
        "failed, reason: connect ECONNREFUSED 127.0.0.1:9' >&2; exit 1"
    )
    fake_npm(tmp_path / "bin", monkeypatch, refused, "exit 99")
    with pytest.raises(ddblocal.NpmError, match=r"registry is unreachable \(FetchError: .*ECONNREFUSED"):
        ddblocal.ensure_installed(timeout=30)


def test_a_registry_that_answers_http_is_reachable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Some private registries answer 404 to ``npm ping``: that is an answer, so the install runs."""
    fake_npm(
        tmp_path / "bin", monkeypatch, "echo 'npm error code E404' >&2; exit 1", "echo 'npm error boom' >&2; exit 2"
    )
    assert ddblocal.registry_problem() is None
    with pytest.raises(ddblocal.NpmError, match="failed: boom"):
        ddblocal.npm_install("some-package", timeout=30)


def test_npm_reason_picks_the_line_that_says_why() -> None:
    output = (
        "npm error code ECONNREFUSED\nnpm error syscall connect\nnpm error errno ECONNREFUSED\n"
        "npm error FetchError: request to http://127.0.0.1:9/x failed, reason: connect ECONNREFUSED 127.0.0.1:9\n"
        "npm error     at ClientRequest.<anonymous> (index.js:130:14)\n"
    )
    assert ddblocal.npm_reason(output, 1).startswith("FetchError: request to http://127.0.0.1:9/x failed, reason:")
    assert ddblocal.npm_reason("npm error code E403\nnpm error 403 Forbidden - GET x\n", 1) == "403 Forbidden - GET x"
    assert ddblocal.npm_reason("", 7) == "npm exited with 7"
