"""The portal in a real browser, against the local stack over HTTP.

Starts ``python -m local.runner`` on a free port with a fresh data directory, registers an order
through the API, then drives the Billing tab in headless Chromium (Debian's ``/usr/bin/chromium``,
through Playwright for Python): a percent deposit from the form, a shipment (recorded, not invoiced),
an over-billing attempt and its error, a second deposit by amount (double-clicked: billed once), a
scheduled record, and the final invoice. It saves the finished page to ``docs/portal.png``. Two more
tests edit a scheduled record (R21: a new amount, then one that over-bills) and retry a failed one
(still over-billing, then with room once another record is cancelled).

Set ``PORTAL_BASE_URL`` to drive an already running stack instead of starting one, and
``PORTAL_CHROMIUM`` to use another Chromium binary.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "portal.png"
CHROMIUM = Path(os.environ.get("PORTAL_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
STARTUP_SECONDS = 45
TIMEOUT_MS = 10_000

ORDER_LINES = [
    {
        "line_id": "1",
        "item_code": "WIDGET",
        "description": "Widget, powder-coated",
        "quantity": "10",
        "unit_price": "100.00",
    },
    {
        "line_id": "2",
        "item_code": "INSTALL",
        "description": "On-site installation",
        "quantity": "1",
        "unit_price": "500.00",
    },
]


# ---- the stack ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _call(base: str, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        base + path, data=data, method=method, headers={"Content-Type": "application/json"} if data else {}
    )
    try:
        with urllib.request.urlopen(request, timeout=15) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def _wait_until_up(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"local.runner exited with {proc.returncode} before answering:\n{log.read_text()[-4000:]}")
        try:
            if _call(base, "GET", "/orders?limit=1")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    pytest.fail(f"local.runner did not answer within {STARTUP_SECONDS}s:\n{log.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a local stack: started here, or PORTAL_BASE_URL."""
    given = os.environ.get("PORTAL_BASE_URL")
    if given:
        yield given.rstrip("/")
        return
    if not (ROOT / "local" / "runner.py").is_file():
        pytest.skip(
            "SKIPPED LOUDLY: local/runner.py does not exist, so there is no local stack to test the portal against"
        )
    tmp = tmp_path_factory.mktemp("portal-stack")
    port = _free_port()
    log = tmp / "runner.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "local.runner",
                "--port",
                str(port),
                "--data-dir",
                str(tmp / "data"),
                "--no-schedule",
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, proc, log)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# ---- the browser --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip(
            "SKIPPED LOUDLY: the portal browser test needs Playwright for Python "
            "(pip install -r requirements-dev.txt); it is not installed"
        )
    if not CHROMIUM.is_file():
        pytest.skip(
            f"SKIPPED LOUDLY: the portal browser test needs Chromium at {CHROMIUM} "
            "(Debian: apt-get install -y chromium); it is missing"
        )
    with sync_playwright() as p:
        try:
            launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except PlaywrightError as err:
            pytest.skip(f"SKIPPED LOUDLY: Chromium at {CHROMIUM} would not start: {err}")
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors in the portal: {errors}"


# ---- the test -----------------------------------------------------------------------------------


def _register(
    base: str, kind: str, job_id: str, customer_id: str, customer_name: str, lines: list[dict[str, str]]
) -> None:
    status, body = _call(
        base,
        "POST",
        f"/{kind}",
        {"id": job_id, "customer_id": customer_id, "customer_name": customer_name, "currency": "USD", "lines": lines},
    )
    assert status == 201, body


def _records(base: str, order_id: str) -> list[dict[str, Any]]:
    status, body = _call(base, "GET", f"/orders/{order_id}/progress-billings")
    assert status == 200, body
    return list(body["items"])


def _ship(base: str, order_id: str, shipment_id: str, quantity: str = "4", ship_date: str = "2026-11-27") -> None:
    """Send a shipment message (of line 1) through the local queue, and wait until it is recorded."""
    message = {
        "shipment_id": shipment_id,
        "order_id": order_id,
        "ship_date": ship_date,
        "lines": [{"line_id": "1", "quantity": quantity}],
    }
    status, body = _call(base, "POST", "/_local/shipments", message)
    assert status in (200, 202), body
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if _call(base, "GET", f"/orders/{order_id}/shipments")[1]["items"]:
            return
        time.sleep(0.2)
    pytest.fail(f"shipment {shipment_id} was not recorded within 15s")


def test_progress_billing_in_the_portal(stack: str, page: Any) -> None:
    from playwright.sync_api import expect

    fresh = "PORTAL_BASE_URL" not in os.environ
    suffix = "" if fresh else "-" + uuid.uuid4().hex[:6]
    order_id = f"SO-1001{suffix}"
    status, body = _call(stack, "PUT", "/settings", {"auto_invoice_on_shipment": True})
    assert status == 200, body
    _register(
        stack,
        "projects",
        f"PRJ-2001{suffix}",
        "C-12",
        "Northwind Builders",
        [
            {
                "line_id": "1",
                "item_code": "DESIGN",
                "description": "Design phase",
                "quantity": "1",
                "unit_price": "12000.00",
            }
        ],
    )
    _register(stack, "orders", order_id, "C-7", "Acme Corporation", ORDER_LINES)  # total 1500.00

    posts: list[Any] = []
    page.on("request", lambda r: posts.append(r) if r.method == "POST" else None)
    page.goto(stack + "/")
    page.locator(f'[data-job="orders/{order_id}"]').click()
    expect(page.locator("#job-title")).to_have_text(order_id)
    expect(page.locator("#job-status")).to_have_text("open")
    expect(page.locator("#progress-percent")).to_have_text("0.00%")

    form = page.locator("#record-form")
    error = page.locator("#record-error")
    invoices = page.locator("#invoices-table tbody tr")

    # 1. A 30% deposit, created now: the invoice appears, the progress bar moves.
    form.get_by_label("Title").fill("Design approval")
    form.get_by_label("Item description").fill("Deposit on order, 30%")
    form.get_by_role("radio", name="Percent").check()
    form.get_by_label("Percent of the job total").fill("30")
    form.get_by_role("button", name="Create").click()
    expect(invoices).to_have_count(1)
    expect(page.locator("#progress-percent")).to_have_text("30.00%")
    expect(page.locator("#progress")).to_have_attribute("aria-valuenow", "30.00")
    view = page.locator("#invoice-view")
    expect(view.locator(".invoice-number")).to_have_text(re.compile(r"^INV-\d{6,}$"))
    expect(view.locator("tbody tr")).to_contain_text(["DEPOSIT"])
    expect(view.locator("[data-total]")).to_contain_text("450.00 USD")
    expect(page.locator("#records-table tbody tr")).to_have_count(1)
    expect(page.locator("#records-table tbody tr").first).to_contain_text("invoiced")
    expect(error).to_be_hidden()

    # A shipment after a deposit is recorded but not invoiced, even with auto-invoicing on (R8).
    _ship(stack, order_id, f"SH-5001{suffix}")

    # 2. An amount that over-bills: the API's 422 is shown next to the form, nothing is billed.
    form.get_by_role("radio", name="Amount").check()
    amount = form.get_by_label("Amount in USD")
    form.get_by_label("Title").fill("Too much")
    amount.fill("2000.00")
    form.get_by_role("button", name="Create").click()
    expect(error).to_be_visible()
    expect(error).to_contain_text("more than the order total")
    expect(error).to_contain_text("1050.00 USD")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(invoices).to_have_count(1)

    # 3. A deposit by amount, double-clicked: one record, one invoice (the button locks, and the
    #    Idempotency-Key makes any resend a replay).
    form.get_by_label("Title").fill("Materials ordered")
    form.get_by_label("Item description").fill("Deposit for materials")
    amount.fill("450.00")
    form.get_by_role("button", name="Create").dblclick()
    expect(invoices).to_have_count(2)
    expect(page.locator("#progress-percent")).to_have_text("60.00%")
    expect(error).to_be_hidden()
    page.wait_for_timeout(300)
    assert len(_records(stack, order_id)) == 2

    # 4. A scheduled record: pending, counted in the summary, not invoiced.
    form.get_by_label("Invoice date").fill("2027-01-15")
    form.get_by_label("Title").fill("Installation complete")
    amount.fill("300.00")
    form.get_by_role("button", name="Schedule").click()
    pending_row = page.locator("#records-table tbody tr", has_text="Installation complete")
    expect(pending_row).to_contain_text("pending")
    expect(page.locator('[data-stat="Pending scheduled"] dd')).to_contain_text("300.00 USD")
    expect(invoices).to_have_count(2)

    # 5. The final invoice, after a confirmation: reverses both deposits, bills the balance due.
    page.get_by_role("button", name="Create Final Invoice").click()
    dialog = page.locator("#final-dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("600.00 USD")
    dialog.get_by_role("button", name="Create Final Invoice").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#job-status")).to_have_text("finalized")
    expect(page.locator("#progress-percent")).to_have_text("100.00%")
    expect(invoices).to_have_count(3)
    expect(view.locator(".doc-type")).to_have_text("Final invoice")
    expect(view.locator("tr.reversal")).to_have_count(2)
    expect(view.locator("tr.reversal").first).to_contain_text("Reverses INV-")
    expect(view.locator("[data-total]")).to_contain_text("600.00 USD")
    expect(pending_row).to_contain_text("cancelled")
    expect(page.locator("#rf-create")).to_be_disabled()
    expect(page.locator("#ledger-table tbody")).to_have_count(3)
    expect(page.locator("#shipments-table tbody tr")).to_have_count(1)
    expect(page.locator("#shipments-table tbody tr")).to_contain_text("progress billing")
    expect(page.locator("#toast")).to_be_hidden(timeout=8000)

    # Every POST carried an Idempotency-Key; amounts and percents went as the strings typed.
    assert posts and all(r.headers.get("idempotency-key") for r in posts)
    sent = [r.post_data_json for r in posts if r.url.endswith("/progress-billings")]
    assert sent[0] == {"title": "Design approval", "item_description": "Deposit on order, 30%", "percent": "30"}
    assert [b.get("amount") for b in sent[1:]] == ["2000.00", "450.00", "300.00"]
    assert sent[-1]["schedule"] is True and sent[-1]["invoice_date"] == "2027-01-15"

    page.mouse.move(0, 0)
    page.evaluate("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0)")
    page.wait_for_timeout(400)  # let the progress bar's transition finish
    SCREENSHOT.parent.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)


def _schedule(base: str, kind: str, job_id: str, body: dict[str, str]) -> dict[str, Any]:
    status, created = _call(base, "POST", f"/{kind}/{job_id}/progress-billings", {**body, "schedule": True})
    assert status == 201, created
    return dict(created["record"])


def _open_job(page: Any, base: str, kind: str, job_id: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{base}/#/{kind}/{job_id}")
    expect(page.locator("#job-title")).to_have_text(job_id)


def test_edit_a_scheduled_record(stack: str, page: Any) -> None:
    from playwright.sync_api import expect

    suffix = "" if "PORTAL_BASE_URL" not in os.environ else "-" + uuid.uuid4().hex[:6]
    order_id = f"SO-1101{suffix}"
    _register(stack, "orders", order_id, "C-8", "Globex", ORDER_LINES)  # total 1500.00
    _schedule(stack, "orders", order_id, {"invoice_date": "2027-02-01", "title": "Commissioning", "amount": "300.00"})
    patches: list[Any] = []
    page.on("request", lambda r: patches.append(r) if r.method == "PATCH" else None)
    _open_job(page, stack, "orders", order_id)
    row = page.locator("#records-table tbody tr", has_text="Commissioning")
    expect(row).to_contain_text("pending")
    expect(row.get_by_role("button", name="Cancel scheduled record Commissioning")).to_be_visible()

    # The dialog opens prefilled with the record; Save sends only what changed.
    dialog = page.locator("#edit-dialog")
    row.get_by_role("button", name="Edit scheduled record Commissioning").click()
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("Invoice date")).to_have_value("2027-02-01")
    expect(dialog.get_by_label("Title")).to_have_value("Commissioning")
    expect(dialog.get_by_role("radio", name="Amount")).to_be_checked()
    amount = dialog.get_by_label("Amount in USD")
    expect(amount).to_have_value("300.00")
    amount.fill("400.00")
    dialog.get_by_label("Item description").fill("Commissioning deposit")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("400.00 USD")
    expect(row).to_contain_text("Commissioning deposit")
    expect(page.locator('[data-stat="Pending scheduled"] dd')).to_contain_text("400.00 USD")
    assert [r.post_data_json for r in patches] == [{"amount": "400.00", "item_description": "Commissioning deposit"}]
    assert _records(stack, order_id)[0]["amount"] == "400.00"

    # An edit that over-bills: the API's 422 is shown in the dialog, the record keeps its amount.
    row.get_by_role("button", name="Edit scheduled record Commissioning").click()
    expect(amount).to_have_value("400.00")
    amount.fill("2000.00")
    dialog.get_by_role("button", name="Save").click()
    error = page.locator("#edit-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("more than the order total")
    expect(amount).to_have_attribute("aria-invalid", "true")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("400.00 USD")
    assert _records(stack, order_id)[0]["amount"] == "400.00"
    assert patches[-1].post_data_json == {"amount": "2000.00"}


def test_retry_a_failed_record(stack: str, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    suffix = "" if "PORTAL_BASE_URL" not in os.environ else "-" + uuid.uuid4().hex[:6]
    order_id = f"SO-1201{suffix}"
    assert _call(stack, "PUT", "/settings", {"auto_invoice_on_shipment": True})[0] == 200
    _register(stack, "orders", order_id, "C-9", "Initech", ORDER_LINES)  # total 1500.00
    # Two scheduled records of 400.00: A dated today, B a month later (800.00 committed).
    a = _schedule(stack, "orders", order_id, {"title": "Milestone A", "amount": "400.00"})
    today = a["invoice_date"]
    later = (date.fromisoformat(today) + timedelta(days=30)).isoformat()
    _schedule(stack, "orders", order_id, {"invoice_date": later, "title": "Milestone B", "amount": "400.00"})
    # A shipment of all 10 widgets, before any deposit: invoiced (1000.00, R8). When the automation
    # reaches A, 1000.00 shipped + 400.00 (B) + 400.00 > 1500.00: A fails (R6).
    _ship(stack, order_id, f"SH-5201{suffix}", quantity="10", ship_date=today)
    status, run = _call(stack, "POST", "/_local/automation", {"business_date": today})
    assert status == 200, run
    assert [r["status"] for r in _records(stack, order_id) if r["title"] == "Milestone A"] == ["failed"]

    _open_job(page, stack, "orders", order_id)
    row_a = page.locator("#records-table tbody tr", has_text="Milestone A")
    row_b = page.locator("#records-table tbody tr", has_text="Milestone B")
    expect(row_a).to_contain_text("failed")
    expect(row_a.locator(".reason")).not_to_be_empty()
    reason = row_a.locator(".reason").inner_text()
    retry = row_a.get_by_role("button", name="Retry failed record Milestone A")
    expect(retry).to_be_visible()
    expect(row_a.get_by_role("button", name="Edit")).to_have_count(0)
    expect(row_b.get_by_role("button", name="Edit scheduled record Milestone B")).to_be_visible()
    page.locator("#records-table").screenshot(path=str(tmp_path / "records-actions.png"))

    # Retry, confirmed: it still does not fit, so the 422 is shown and A stays failed.
    confirm = page.locator("#confirm-dialog")
    retry.click()
    expect(confirm).to_be_visible()
    expect(confirm).to_contain_text(reason)
    confirm.get_by_role("button", name="Retry record").click()
    error = page.locator("#record-error")
    expect(error).to_be_visible()
    expect(error).to_contain_text("more than the order total")
    expect(row_a).to_contain_text("failed")

    # Declining the confirmation sends nothing.
    retry.click()
    confirm.get_by_role("button", name="Keep it").click()
    expect(confirm).to_be_hidden()

    # Cancel B: now A fits, and Retry returns it to pending (with Edit and Cancel again).
    row_b.get_by_role("button", name="Cancel scheduled record Milestone B").click()
    confirm.get_by_role("button", name="Cancel record").click()
    expect(row_b).to_contain_text("cancelled")
    retries: list[Any] = []
    page.on("request", lambda r: retries.append(r) if r.url.endswith("/retry") else None)
    retry.click()
    confirm.get_by_role("button", name="Retry record").click()
    expect(row_a).to_contain_text("pending")
    expect(row_a.locator(".reason")).to_have_count(0)
    expect(row_a.get_by_role("button", name="Edit scheduled record Milestone A")).to_be_visible()
    expect(page.locator('[data-stat="Pending scheduled"] dd')).to_contain_text("400.00 USD")
    assert len(retries) == 1 and retries[0].method == "POST" and retries[0].headers.get("idempotency-key")
    assert [r["status"] for r in _records(stack, order_id) if r["title"] == "Milestone A"] == ["pending"]
