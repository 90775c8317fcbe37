"""The portal in a real browser, against the local stack over HTTP.

Starts ``python -m local.runner`` on a free port with a fresh data directory, registers an order
through the API, then drives the Billing tab in headless Chromium (Debian's ``/usr/bin/chromium``,
through Playwright for Python): a percent deposit from the form, a shipment (recorded, not invoiced),
an over-billing attempt and its error, a second deposit by amount (double-clicked: billed once), a
scheduled record, and the final invoice. It saves the finished page to ``docs/portal.png``.

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


def _ship(base: str, order_id: str, shipment_id: str) -> None:
    """Send a shipment message through the local queue, and wait until it is recorded."""
    message = {
        "shipment_id": shipment_id,
        "order_id": order_id,
        "ship_date": "2026-11-27",
        "lines": [{"line_id": "1", "quantity": "4"}],
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
