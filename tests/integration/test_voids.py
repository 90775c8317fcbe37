"""R14 through the handlers, for orders and projects: the credit note is the original negated, on the
original's accounts, and the original keeps every field; every refusal changes nothing; a resend
never voids twice (R11), even after the idempotency cache is gone."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from billing import config as billing_config
from local.fixtures import CLERK, READER, job_line, order_body, ship, shipment_message
from tests.conftest import table_snapshot
from tests.integration.test_corrections import (
    ADMIN_ACTOR,
    balances,
    deposit,
    entries,
    fields,
    final,
    forget_idempotency_cache,
    invoices,
    refused,
    void,
    voided,
)

CLERK_ACTOR = {"sub": CLERK["sub"], "username": CLERK["cognito:username"]}


@pytest.fixture(params=["orders", "projects"])
def job(request, client):
    """A 10,000.00 job: ten lines of 1,000.00."""
    assert client.post(f"/{request.param}", order_body("J-1", lines=[job_line("1", "10", "1000.00")])).status == 201
    return f"/{request.param}/J-1"


@pytest.fixture
def order(client):
    """A 1,000.00 order (10 x 100.00) whose shipments are invoiced: auto-invoice on, no deposit."""
    assert client.put("/settings", {"auto_invoice_on_shipment": True}).status == 200
    assert client.post("/orders", order_body("SO-9")).status == 201
    return "/orders/SO-9"


def shipped(client: Any, order: str, quantity: str = "4", shipment_id: str = "SH-1") -> dict[str, Any]:
    """Ship ``quantity`` of line 1; its shipment invoice."""
    assert ship(
        shipment_message(shipment_id, order.rsplit("/", maxsplit=1)[-1], [{"line_id": "1", "quantity": quantity}])
    ) == {"batchItemFailures": []}
    (invoice,) = [i for i in invoices(client, order).values() if i.get("shipment_id") == shipment_id]
    return invoice


def negated(value: str) -> str:
    return value[1:] if value.startswith("-") else f"-{value}"


def number(invoice: dict[str, Any]) -> int:
    assert re.fullmatch(r"INV-\d{6,}", invoice["number"]), invoice["number"]
    return int(invoice["number"][4:])


def check_credit_note(client: Any, job: str, before: dict[str, Any], r: Any, reason: str, date: str) -> dict[str, Any]:
    """R14 for any invoice type: the credit note of ``before`` (the original as it was) and the
    original now. Returns the credit note."""
    assert r.status == 201, r.body
    credit, original = r.json()["credit_note"], r.json()["invoice"]
    assert (credit["type"], credit["status"], credit["invoice_id"]) == ("credit_note", "issued", credit["number"])
    others = [i for i in invoices(client, job).values() if i["invoice_id"] != credit["invoice_id"]]
    assert number(credit) > max(number(i) for i in others)  # R13: the next number of the one series
    assert (credit["voids_invoice_id"], credit["voids_invoice_type"], credit["reason"]) == (
        before["invoice_id"], before["type"], reason)  # fmt: skip
    assert (credit["invoice_date"], credit["created_by"]) == (date, ADMIN_ACTOR)
    for key in ("kind", "job_id", "customer_id", "customer_name", "currency"):
        assert credit[key] == before[key], key
    assert credit["total"] == negated(before["total"])
    # each line negated, naming the line it reverses (a final's deposit line reverses the final's, not
    # the deposit invoice: whether it still names that invoice is not the contract's)
    assert [{k: v for k, v in ln.items() if k != "reverses_invoice_id"} for ln in credit["lines"]] == [
        {**{k: v for k, v in ln.items() if k != "reverses_invoice_id"}, "quantity": negated(ln["quantity"]),
         "amount": negated(ln["amount"]), "reverses_line": i}
        for i, ln in enumerate(before["lines"], start=1)
    ]  # fmt: skip
    assert credit["billing"]["this_invoice"] == credit["total"]
    # its journal entry: the original's, debits and credits swapped, on the same accounts, dated void_date
    ledger = entries(client, job)
    entry, original_entry = ledger[credit["invoice_id"]], ledger[before["invoice_id"]]
    assert credit["journal_entry_id"] == entry["entry_id"] != original_entry["entry_id"]
    assert (entry["date"], entry["currency"]) == (date, before["currency"])
    assert entry["lines"] == [{**ln, "debit": ln["credit"], "credit": ln["debit"]} for ln in original_entry["lines"]]
    assert (entry["total_debit"], entry["total_credit"]) == (
        original_entry["total_credit"],
        original_entry["total_debit"],
    )
    # the original keeps every field and gains the void's
    now = client.get(f"/invoices/{before['invoice_id']}").json()
    assert before["status"] == "issued"
    assert {k: now.get(k) for k in before if k != "status"} == {k: v for k, v in before.items() if k != "status"}
    assert (now["status"], now["voided_by_invoice_id"], now["void_reason"], now["voided_by"]) == (
        "voided", credit["invoice_id"], reason, ADMIN_ACTOR)  # fmt: skip
    assert dt.datetime.fromisoformat(now["voided_at"]) >= dt.datetime.fromisoformat(before["issued_at"])
    assert original == now  # the answer is what is stored
    assert invoices(client, job)[before["invoice_id"]] == now  # the job's copy too
    assert client.get(f"/invoices/{credit['invoice_id']}").json() == credit
    return credit


# ---- the credit note, per invoice type ------------------------------------------------------------


def test_void_of_a_deposit_issues_its_credit_note_and_frees_its_record(client, job):
    r = client.post(f"{job}/progress-billings", {"percent": "25", "title": "Milestone 1", "item_description": "Design",
                    "invoice_date": "2026-12-01"}, claims=CLERK)  # fmt: skip
    assert r.status == 201, r.body
    first = r.json()["invoice"]
    second = deposit(client, job, amount="1000.00")
    before = client.get(f"/invoices/{first['invoice_id']}").json()
    assert before["created_by"] == CLERK_ACTOR
    answer = void(client, first["invoice_id"], reason="billed the wrong milestone", void_date="2026-12-20")
    credit = check_credit_note(client, job, before, answer, "billed the wrong milestone", "2026-12-20")
    assert number(credit) == number(second) + 1
    assert [(ln["code"], ln["percent"], ln["amount"]) for ln in credit["lines"]] == [("DEPOSIT", "25", "-2500.00")]
    billing = credit["billing"]
    assert (billing["job_total"], billing["billed_before"], billing["billed_to_date"], billing["remaining"]) == (
        "10000.00", "3500.00", "1000.00", "9000.00")  # fmt: skip
    records = {r["record_id"]: r for r in client.get(f"{job}/progress-billings").json()["items"]}
    assert (records[first["record_id"]]["status"], records[first["record_id"]]["credit_note_id"]) == (
        "voided", credit["invoice_id"])  # fmt: skip
    assert records[second["record_id"]]["status"] == "invoiced"
    assert client.get(f"/invoices/{second['invoice_id']}").json()["status"] == "issued"
    billing = client.get(job).json()["billing"]
    assert (billing["deposits_billed"], billing["deposit_invoice_count"]) == ("1000.00", 1)
    assert balances(client) == {"1200": "1000.00", "2400": "-1000.00"}


def test_void_of_a_shipment_invoice_issues_its_credit_note_and_unbills_the_shipment(client, order):
    invoice = shipped(client, order)
    before = client.get(f"/invoices/{invoice['invoice_id']}").json()
    credit = check_credit_note(client, order, before, void(client, invoice["invoice_id"]), "wrong amount", "2026-12-15")
    assert [(ln["line_id"], ln["quantity"], ln["amount"]) for ln in credit["lines"]] == [("1", "-4", "-400.00")]
    (shipment,) = client.get(f"{order}/shipments").json()["items"]
    assert (shipment["status"], shipment["credit_note_id"], shipment["invoice_id"]) == (
        "invoice_voided", credit["invoice_id"], invoice["invoice_id"])  # fmt: skip
    job = client.get(order).json()
    assert job["billing"]["shipments_billed"] == "0.00"
    line = job["lines"][0]
    assert (line["shipped_quantity"], line["billed_quantity"], line["billed_amount"]) == ("4", "0", "0.00")
    assert balances(client) == {"1200": "0.00", "4000": "0.00"}


def test_void_of_a_final_issues_its_credit_note_and_reopens_the_job(client, job):
    cancelled = client.post(f"{job}/progress-billings", {"amount": "500.00", "schedule": True,
                            "invoice_date": "2027-01-15"}).json()["record"]  # fmt: skip
    held = deposit(client, job, percent="30")
    closing = final(client, job, body={"title": "Final", "invoice_date": "2026-12-10"})
    before = client.get(f"/invoices/{closing['invoice_id']}").json()
    credit = check_credit_note(client, job, before, void(client, closing["invoice_id"]), "wrong amount", "2026-12-15")
    assert [(ln["code"], ln["amount"], ln["reverses_line"]) for ln in credit["lines"]] == [
        ("WIDGET", "-10000.00", 1), ("DEPOSIT", "3000.00", 2)]  # fmt: skip
    assert credit["total"] == "-7000.00"
    reopened = client.get(job).json()
    assert (reopened["status"], reopened["final_invoice_id"], reopened["reopen_count"]) == ("open", None, 1)
    assert reopened["reopened_at"] is not None
    billing = reopened["billing"]
    assert (billing["deposit_balance"], billing["remaining"], billing["pending_scheduled"]) == (
        "3000.00", "7000.00", "0.00")  # fmt: skip
    records = {r["record_id"]: r["status"] for r in client.get(f"{job}/progress-billings").json()["items"]}
    assert records == {cancelled["record_id"]: "cancelled", held["record_id"]: "invoiced"}
    assert balances(client) == {"1200": "3000.00", "2400": "-3000.00", "4000": "0.00"}


def test_the_void_date_defaults_to_todays_business_date(client, job, monkeypatch):
    zone = "Pacific/Kiritimati"  # UTC+14: its date is not UTC's for most of the day
    monkeypatch.setenv("BUSINESS_TIMEZONE", zone)
    billing_config.reset()
    try:
        held = deposit(client, job, amount="100.00")
        today = {dt.datetime.now(ZoneInfo(zone)).date().isoformat()}
        r = client.post(f"/invoices/{held['invoice_id']}/void", {"reason": "duplicate"})
        today.add(dt.datetime.now(ZoneInfo(zone)).date().isoformat())  # the request may straddle midnight
        assert r.status == 201, r.body
        credit = r.json()["credit_note"]
        assert credit["invoice_date"] in today
        assert entries(client, job)[credit["invoice_id"]]["date"] == credit["invoice_date"]
    finally:
        monkeypatch.delenv("BUSINESS_TIMEZONE")
        billing_config.reset()


# ---- refusals: nothing changed ----------------------------------------------------------------------


def _credit_note(client: Any, job: str) -> str:
    return str(voided(client, deposit(client, job, amount="100.00")["invoice_id"])["invoice_id"])


def _credit_note_of_a_final(client: Any, job: str) -> str:
    return str(voided(client, final(client, job)["invoice_id"])["invoice_id"])


def _already_voided(client: Any, job: str) -> str:
    held = deposit(client, job, amount="100.00")
    voided(client, held["invoice_id"])
    return str(held["invoice_id"])


def _final_already_voided(client: Any, job: str) -> str:
    closing = final(client, job)
    voided(client, closing["invoice_id"])
    return str(closing["invoice_id"])


def _deposit_of_a_finalized_job(client: Any, job: str) -> str:
    held = deposit(client, job, amount="100.00")
    final(client, job)
    return str(held["invoice_id"])


@pytest.mark.parametrize(
    ("setup", "status", "code"),
    [
        (_credit_note, 409, "NOT_VOIDABLE"),
        (_credit_note_of_a_final, 409, "NOT_VOIDABLE"),
        (_already_voided, 409, "ALREADY_VOIDED"),
        (_final_already_voided, 409, "ALREADY_VOIDED"),
        (_deposit_of_a_finalized_job, 409, "JOB_FINALIZED"),
        (lambda client, job: "INV-999999", 404, "NOT_FOUND"),
    ],
    ids=["credit note", "credit note of a final", "voided deposit", "voided final", "deposit of a finalized job",
         "unknown invoice"],
)  # fmt: skip
def test_a_void_the_state_refuses_changes_nothing(client, job, setup, status, code):
    invoice_id = setup(client, job)
    before = table_snapshot()
    refused(void(client, invoice_id, reason="again"), status, code)
    assert table_snapshot() == before


def test_invoices_of_a_finalized_order_are_voided_only_after_its_final(client, order):
    shipment = shipped(client, order)
    held = deposit(client, order, amount="100.00")
    closing = final(client, order)
    before = table_snapshot()
    for invoice in (shipment, held):
        body = refused(void(client, invoice["invoice_id"]), 409, "JOB_FINALIZED")
        assert closing["invoice_id"] in body["error"]["message"]  # it says which invoice to void first
    assert table_snapshot() == before
    voided(client, closing["invoice_id"])
    voided(client, shipment["invoice_id"])
    voided(client, held["invoice_id"])
    again = final(client, order)  # the shipped revenue and no deposit
    assert (again["total"], [ln["code"] for ln in again["lines"]]) == ("1000.00", ["WIDGET"])
    assert balances(client) == {"1200": "1000.00", "2400": "0.00", "4000": "-1000.00"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "reason"),
        ({"reason": ""}, "reason"),
        ({"reason": "   "}, "reason"),
        ({"reason": 5}, "reason"),
        ({"reason": "x" * 501}, "reason"),
        ({"reason": "x", "void_date": "2026-02-30"}, "void_date"),
        ({"reason": "x", "void_date": "15/12/2026"}, "void_date"),
        ({"reason": "x", "void_date": 20261215}, "void_date"),
        ({"reason": "x", "status": "voided"}, "status"),
        ({"reason": "x", "total": "-1.00"}, "total"),
    ],
)
def test_an_invalid_void_request_is_422_naming_the_field_and_changes_nothing(client, job, body, field):
    held = deposit(client, job, amount="100.00")
    before = table_snapshot()
    assert fields(client.post(f"/invoices/{held['invoice_id']}/void", body)) == [field]
    assert table_snapshot() == before


def _post(client: Any, url: str, body: Any, **kw: Any) -> Any:
    return client.post(url, raw=body, **kw) if isinstance(body, str) else client.post(url, body, **kw)


def test_a_void_dated_before_the_invoice_it_voids_is_422_and_changes_nothing(client, job):
    held = deposit(client, job, amount="100.00", invoice_date="2026-12-20")
    before = table_snapshot()
    assert fields(void(client, held["invoice_id"], void_date="2026-12-19")) == ["void_date"]
    assert table_snapshot() == before
    assert voided(client, held["invoice_id"], void_date="2026-12-20")["invoice_date"] == "2026-12-20"


@pytest.mark.parametrize("claims", [CLERK, READER], ids=["clerk", "reader"])
@pytest.mark.parametrize(
    ("body", "admin_gets"),
    [({"reason": "duplicate"}, 201), ({}, 422), ({"reason": "x", "extra": 1}, 422), ("{not json", 400)],
    ids=["valid", "empty", "extra field", "malformed"],
)
def test_only_an_admin_may_void_and_the_role_is_checked_before_the_body(client, job, claims, body, admin_gets):
    held = deposit(client, job, amount="100.00")
    url = f"/invoices/{held['invoice_id']}/void"
    before = table_snapshot()
    refused(_post(client, url, body, claims=claims), 403, "FORBIDDEN")
    refused(_post(client, url, body, claims=None), 401, "UNAUTHORIZED")
    assert table_snapshot() == before
    assert client.get(f"/invoices/{held['invoice_id']}").json()["status"] == "issued"
    assert _post(client, url, body).status == admin_gets  # the same request from an admin passes the role check


# ---- retries (R11) ------------------------------------------------------------------------------------


def test_the_same_void_with_the_same_key_answers_the_first_credit_note_again(client, job):
    held = deposit(client, job, amount="100.00")
    h = {"Idempotency-Key": "void-1"}
    first = void(client, held["invoice_id"], headers=h)
    assert first.status == 201, first.body
    before = table_snapshot()
    again = void(client, held["invoice_id"], headers=h)
    assert (again.status, again.json(), again.headers["idempotent-replay"]) == (201, first.json(), "true")
    assert table_snapshot() == before
    refused(void(client, held["invoice_id"], reason="other reason", headers=h), 409, "IDEMPOTENCY_CONFLICT")
    refused(void(client, held["invoice_id"], void_date="2026-12-16", headers=h), 409, "IDEMPOTENCY_CONFLICT")
    assert table_snapshot() == before
    assert [i["type"] for i in invoices(client, job).values()].count("credit_note") == 1


def test_a_void_resent_after_the_idempotency_cache_is_gone_answers_the_same_credit_note(client, job):
    held = deposit(client, job, amount="100.00")
    h = {"Idempotency-Key": "void-2"}
    first = void(client, held["invoice_id"], headers=h)
    assert first.status == 201, first.body
    forget_idempotency_cache()
    before = table_snapshot()
    again = void(client, held["invoice_id"], headers=h)
    assert (again.status, again.json()) == (201, first.json())
    assert table_snapshot() == before
    # without the key, or with another, a resend is a new request: refused as such
    refused(void(client, held["invoice_id"]), 409, "ALREADY_VOIDED")
    refused(void(client, held["invoice_id"], headers={"Idempotency-Key": "void-3"}), 409, "ALREADY_VOIDED")
    assert table_snapshot() == before


def test_a_final_request_resent_after_its_final_was_voided_answers_that_final(client, job):
    h = {"Idempotency-Key": "final-1"}
    closing = final(client, job, headers=h)
    voided(client, closing["invoice_id"])
    now = client.get(f"/invoices/{closing['invoice_id']}").json()
    # the cache answers with the first response
    replay = client.post(f"{job}/final-invoice", headers=h)
    assert (replay.status, replay.json()) == (201, {"invoice": closing})
    forget_idempotency_cache()
    before = table_snapshot()
    late = client.post(f"{job}/final-invoice", headers=h)
    assert late.status == 201, late.body
    assert late.json()["invoice"] == now  # the voided final, not a new one
    assert table_snapshot() == before
    assert client.get(job).json()["status"] == "open"
