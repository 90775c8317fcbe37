"""Schemathesis against the running local stack, driven by its own OpenAPI document (docs/openapi.json).

Every operation of ``/openapi.json``, all four phases (the document's examples, the coverage phase's
boundary and negative values, random fuzzing, stateful sequences) and these checks: no 5xx
(``not_a_server_error``), every status code documented (``status_code_conformance``), the documented
content type (``content_type_conformance``) and body (``response_schema_conformance``), and invalid
input refused (``negative_data_rejection``: a body that is not JSON, a wrong type, a value out of the
document's bounds must not get a 2xx).

Bounded and repeatable: a fixed seed, ``MAX_EXAMPLES`` cases per operation and phase, no shrinking,
one worker (the runner serves one invocation per function at a time anyway, and two workers trip a
CPython 3.11 ``ast`` thread-safety error inside Hypothesis), and a hard wall-clock cap
(``HARD_CAP_SECONDS``) after which the run is stopped and the test fails. The budget is the number of
cases, not the clock, so a seed sends the same cases on every machine; ``--max-time`` is not used
because under it schemathesis keeps drawing cases until the time is spent.

No Authorization header is sent (schemathesis is told not to generate the bearer token the document
declares: the local stack would answer 401 to a random one), so every request is the local admin
(docs/local.md). Run it alone, figures and failures printed: ``.venv/bin/pytest -s tests/e2e/test_fuzz.py``.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import subprocess
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_local_stack import ROOT, Runner

SCHEMATHESIS = ROOT / ".venv" / "bin" / "schemathesis"
SEED = 20261201
MAX_EXAMPLES = 100  # per operation and phase
HARD_CAP_SECONDS = 900  # against a hang, not a speed check (docs/development.md has the run's usual time)
REQUEST_TIMEOUT = 15  # seconds, one request
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)
PHASES = ("examples", "coverage", "fuzzing", "stateful")
# The runner's line per request (docs/local.md): "HH:MM:SS METHOD PATH STATUS MSms FUNCTION"
REQUEST_LINE = re.compile(r"^\d\d:\d\d:\d\d [A-Z]+ \S+ \d{3} \d+ms ", re.MULTILINE)


@dataclass(frozen=True)
class Failure:
    check: str
    operation: str
    title: str
    message: str
    method: str
    url: str
    headers: tuple[tuple[str, str], ...]
    body: bytes | None
    status: int | None
    response: str

    @property
    def key(self) -> tuple[str, str, str, str, int | None]:
        """Distinct: one check on one operation (and method sent: the coverage phase also sends
        undeclared ones) with one outcome and status."""
        outcome = self.message.splitlines()[0] if self.message else self.title
        return (self.operation, self.method, self.check, outcome, self.status)

    def curl(self) -> str:
        parts = ["curl", "-sS", "-X", self.method, self.url]
        for name, value in self.headers:
            parts += ["-H", f"{name}: {value}"]
        if self.body is not None:
            try:
                parts += ["--data-binary", self.body.decode()]
            except UnicodeDecodeError:
                parts += ["--data-binary", f"<{len(self.body)} bytes, not UTF-8: {self.body[:60]!r}>"]
        return shlex.join(parts)


def _decode(raw: Any) -> bytes | None:
    if raw is None:
        return None
    if isinstance(raw, dict) and "$base64" in raw:
        return base64.b64decode(raw["$base64"])
    return str(raw).encode()


_SENT_BY_REQUESTS = {"user-agent", "accept-encoding", "accept", "connection", "content-length"}


def read_events(path: Path) -> tuple[int, Counter[int], list[Failure]]:
    """From schemathesis' NDJSON event stream: requests sent, statuses answered, every failed check."""
    sent, statuses = 0, Counter[int]()
    failures: list[Failure] = []
    if not path.exists():
        return sent, statuses, failures
    with path.open() as events:
        for line in events:
            finished = json.loads(line).get("ScenarioFinished")
            recorder = (finished or {}).get("recorder")
            if not recorder:
                continue
            interactions = recorder.get("interactions") or {}
            for interaction in interactions.values():
                sent += 1
                if interaction.get("response"):
                    statuses[interaction["response"]["status_code"]] += 1
            for case_id, checks in (recorder.get("checks") or {}).items():
                for check in checks:
                    if check["status"] == "success":
                        continue
                    info = (check.get("failure_info") or {}).get("failure") or {}
                    interaction = interactions.get(case_id) or {}
                    request, response = interaction.get("request") or {}, interaction.get("response") or {}
                    content = _decode(response.get("content")) or b""
                    failures.append(
                        Failure(
                            check=check["name"],
                            operation=info.get("operation") or recorder.get("label", "?"),
                            title=info.get("title", ""),
                            message=info.get("message", ""),
                            method=request.get("method", "?"),
                            url=request.get("uri", "?"),
                            headers=tuple(
                                (k, v[0] if isinstance(v, list) else v)
                                for k, v in (request.get("headers") or {}).items()
                                if k.lower() not in _SENT_BY_REQUESTS
                            ),
                            body=_decode(request.get("body")),
                            status=response.get("status_code"),
                            response=content.decode(errors="replace")[:300],
                        )
                    )
    return sent, statuses, failures


def distinct(failures: list[Failure]) -> list[Failure]:
    """The first (smallest request) example of each distinct failure, in a stable order."""
    chosen: dict[tuple[str, str, str, str, int | None], Failure] = {}
    for failure in failures:
        best = chosen.get(failure.key)
        if best is None or len(failure.url) + len(failure.body or b"") < len(best.url) + len(best.body or b""):
            chosen[failure.key] = failure
    return sorted(chosen.values(), key=lambda f: (f.check, f.status or 0, f.message, f.operation, f.method))


def describe(unique: list[Failure]) -> list[str]:
    """Every distinct failure, grouped by what went wrong (check, outcome, status), one repro each."""
    groups: dict[tuple[str, str, int | None], list[Failure]] = {}
    for failure in unique:
        groups.setdefault((failure.check, failure.key[3], failure.status), []).append(failure)
    lines = []
    for n, ((check, outcome, status), members) in enumerate(groups.items(), 1):
        lines.append(f"{n}. [{check}] {outcome} -> {status}, {len(members)} request(s)")
        for f in members:
            sent = "" if f.operation.startswith(f"{f.method} ") else f" (sent as {f.method})"
            lines.append(f"   {f.operation}{sent}\n     {f.curl()}")
        lines.append(f"     -> {status} {' '.join(members[0].response.split())[:240]}")
    return lines


def test_schemathesis_finds_no_failure(tmp_path: Path) -> None:
    if not SCHEMATHESIS.exists():
        pytest.fail(f"{SCHEMATHESIS} is missing: pip install -r requirements-dev.txt (schemathesis is pinned there)")
    runner = Runner(tmp_path / "ddb", tmp_path / "runner.log", "--dynamodb", "moto").start()
    ndjson, report, output = tmp_path / "events.ndjson", tmp_path / "report.json", tmp_path / "schemathesis.txt"
    command = [
        str(SCHEMATHESIS),
        "run",
        f"{runner.url}/openapi.json",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        ",".join(PHASES),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        "--no-shrink",
        "--continue-on-failure",
        "--workers",
        "1",
        "--request-timeout",
        str(REQUEST_TIMEOUT),
        "--generation-database",
        "none",
        "--generation-with-security-parameters",
        "false",
        "--output-sanitize",
        "false",
        "--no-color",
        "--report",
        "json,ndjson",
        "--report-json-path",
        str(report),
        "--report-ndjson-path",
        str(ndjson),
    ]
    started = time.monotonic()
    capped = False
    try:
        with output.open("wb") as out:
            process = subprocess.run(
                command, check=False, cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, timeout=HARD_CAP_SECONDS
            )
        code: int | None = process.returncode
    except subprocess.TimeoutExpired:
        capped, code = True, None
    finally:
        seconds = time.monotonic() - started
        runner.stop()

    # a run stopped at the cap leaves its report empty: say so below, rather than fail to read it
    summary = json.loads(report.read_text()) if report.exists() and report.stat().st_size else {}
    sent, statuses, failures = read_events(ndjson)
    unique = distinct(failures)
    operations = summary.get("operations", {})
    by_check = Counter(f.check for f in unique)
    received = len(REQUEST_LINE.findall(runner.log.read_text(errors="replace")))
    figures = [
        f"schemathesis {summary.get('schemathesis_version', '?')}, seed {SEED}, {MAX_EXAMPLES} examples per"
        f" operation and phase, phases {', '.join(PHASES)}: {seconds:.0f} s"
        + (f" (STOPPED at the {HARD_CAP_SECONDS} s cap)" if capped else ""),
        f"operations: {operations.get('tested', '?')} tested of {operations.get('total', '?')}",
        f"requests sent: {sent} (test cases generated: {summary.get('test_cases', {}).get('generated', '?')};"
        f" lines in the runner's request log: {received})",
        "statuses: " + ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items())),
        f"distinct failures: {len(unique)}"
        + "".join(f"\n  {check}: {by_check.get(check, 0)}" for check in CHECKS)
        + "".join(f"\n  {check}: {n}" for check, n in by_check.items() if check not in CHECKS),
    ]
    errors = summary.get("errors") or []
    if errors:
        figures.append("schemathesis errors: " + ", ".join(f"{e['title']} x{e['count']}" for e in errors))
    print("\n== schemathesis against the local stack\n" + "\n".join(figures))

    listing = describe(unique)
    if listing:
        print("\n".join(listing))
    details = f"\nfull output: {output}; runner log: {runner.log}\n"
    assert not capped, f"schemathesis ran past the {HARD_CAP_SECONDS} s cap\n" + "\n".join(figures) + details
    assert report.exists(), f"schemathesis wrote no report (exit {code}):\n{output.read_text()[-5000:]}"
    assert not errors, "schemathesis could not run every case:\n" + output.read_text()[-5000:]
    assert not unique and code == 0, (
        "\n".join(figures) + "\n" + "\n".join(listing) + details + ("" if unique else output.read_text()[-5000:])
    )
