"""R15 through the handlers, for orders and projects: a change order changes the job's lines and is
kept, numbered, with who, before and after; every refusal changes nothing; a resend never applies a
change twice (R11), even after the idempotency cache is gone."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote

import pytest

from billing import limits as L
from local.fixtures import CLERK, READER, job_line, order_body, ship, shipment_message
from tests.conftest import table_snapshot
from tests.integration.test_corrections import (
    balances,
    change,
    deposit,
    fields,
    final,
    forget_idempotency_cache,
    invoices,
    refused,
    voided,
)

CLERK_ACTOR = {"sub": CLERK["sub"], "username": CLERK["cognito:username"]}
LINES = [job_line("1", "10", "1000.00"), job_line("2", "5", "200.00", "GADGET", "Gadget")]  # 11,000.00


@pytest.fixture(params=["orders", "projects"])
def job(request, client):
    """An 11,000.00 job: ten widgets at 1,000.00 (line 1) and five gadgets at 200.00 (line 2)."""
    assert client.post(f"/{request.param}", order_body("J-1", lines=LINES)).status == 201
    return f"/{request.param}/J-1"


def shipped_order(client: Any, invoiced: bool, quantity: str = "4") -> str:
    """The two-line order with ``quantity`` of line 1 shipped: invoiced by a shipment invoice, or
    recorded without one (auto_invoice_on_shipment off)."""
    assert client.put("/settings", {"auto_invoice_on_shipment": invoiced}).status == 200
    assert client.post("/orders", order_body("SO-9", lines=LINES)).status == 201
    out = ship(shipment_message("SH-1", "SO-9", [{"line_id": "1", "quantity": quantity}]))
    assert out == {"batchItemFailures": []}
    (shipment,) = client.get("/orders/SO-9/shipments").json()["items"]
    assert shipment["status"] == ("invoiced" if invoiced else "not_invoiced")
    return "/orders/SO-9"


def applied(client: Any, job: str, lines: list[dict[str, Any]], **kw: Any) -> dict[str, Any]:
    r = change(client, job, lines, **kw)
    assert r.status == 201, r.body
    body: dict[str, Any] = r.json()
    return body


def line(job_doc: dict[str, Any], line_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(ln for ln in job_doc["lines"] if ln["line_id"] == line_id)
    return found


# ---- what a change order is ---------------------------------------------------------------------------


def test_a_change_order_is_kept_numbered_with_who_before_and_after_and_posts_nothing(client, job):
    before = client.get(job).json()
    added = {"line_id": "3", "item_code": "EXTRA", "description": "Extra work", "quantity": "2", "unit_price": "150.50"}
    lines = [{"line_id": "1", "quantity": "12"}, added]
    r = change(client, job, lines, reason="customer added a floor", claims=CLERK)  # clerks may change scope (R20)
    assert r.status == 201, r.body
    co, after = r.json()["change_order"], r.json()["job"]
    assert after == client.get(job).json()
    assert (after["total"], [ln["line_id"] for ln in after["lines"]]) == ("13301.00", ["1", "2", "3"])
    assert (line(after, "1")["amount"], line(after, "3")["amount"], line(after, "2")) == (
        "12000.00", "301.00", line(before, "2"))  # fmt: skip
    assert {k: co[k] for k in ("change_order_id", "kind", "job_id", "date", "reason", "created_by")} == {
        "change_order_id": "CO-1", "kind": before["kind"], "job_id": "J-1", "date": "2026-12-02",
        "reason": "customer added a floor", "created_by": CLERK_ACTOR}  # fmt: skip
    assert (co["total_before"], co["total_after"]) == ("11000.00", "13301.00")
    assert co["lines_before"] == [line(before, "1")]  # a line it added has no before
    assert co["lines_after"] == [line(after, "1"), line(after, "3")]
    # no invoice, no posting
    assert (invoices(client, job), client.get("/ledger/trial-balance").json()["accounts"]) == ({}, [])
    # the next is CO-2, dated today's business date when no date is sent
    today = {dt.datetime.now(dt.UTC).date().isoformat()}
    second = client.post(f"{job}/change-orders", {"reason": "less", "lines": [{"line_id": "3", "quantity": "1"}]})
    today.add(dt.datetime.now(dt.UTC).date().isoformat())
    assert second.status == 201, second.body
    co2 = second.json()["change_order"]
    assert (co2["change_order_id"], co2["total_before"], co2["total_after"]) == ("CO-2", "13301.00", "13150.50")
    assert co2["date"] in today and co2["created_by"]["sub"] == "u-admin"
    assert client.get(f"{job}/change-orders").json()["items"] == [co, co2]
    assert client.get(job).json()["change_order_count"] == 2


def test_a_price_change_is_allowed_on_a_line_shipped_but_not_invoiced(client):
    order = shipped_order(client, invoiced=False)
    after = applied(client, order, [{"line_id": "1", "unit_price": "1200.00"}])["job"]
    assert (line(after, "1")["amount"], line(after, "1")["shipped_quantity"], after["total"]) == (
        "12000.00", "4", "13000.00")  # fmt: skip
    closing = final(client, order)
    assert [(ln["line_id"], ln["quantity"], ln["unit_price"], ln["amount"]) for ln in closing["lines"]] == [
        ("1", "10", "1200.00", "12000.00"), ("2", "5", "200.00", "1000.00")]  # fmt: skip
    assert balances(client)["4000"] == "-13000.00"


def test_a_price_change_is_allowed_once_the_shipment_invoice_is_voided(client):
    order = shipped_order(client, invoiced=True)
    (shipment,) = invoices(client, order).values()
    refused(change(client, order, [{"line_id": "1", "unit_price": "1200.00"}]), 422, "VALIDATION_ERROR")
    voided(client, shipment["invoice_id"])
    assert applied(client, order, [{"line_id": "1", "unit_price": "1200.00"}])["job"]["total"] == "13000.00"
    assert final(client, order)["total"] == "13000.00"


def test_quantity_zero_removes_an_unshipped_line_and_the_final_does_not_bill_it(client, job):
    after = applied(client, job, [{"line_id": "2", "quantity": "0"}])["job"]
    assert (line(after, "2")["quantity"], line(after, "2")["amount"], after["total"]) == ("0", "0.00", "10000.00")
    assert deposit(client, job, percent="100")["total"] == "10000.00"  # R6 against the new total
    closing = final(client, job)
    assert [ln.get("line_id") for ln in closing["lines"]] == ["1", None]  # line 2, then the deposit: no line 2
    assert (closing["total"], closing["billing"]["revenue_recognized"]) == ("0.00", "10000.00")


def test_a_description_change_alone_changes_the_line_and_not_the_total(client, job):
    before = client.get(job).json()
    r = applied(client, job, [{"line_id": "2", "description": "Gadget, blue"}])
    co, after = r["change_order"], r["job"]
    assert (co["total_before"], co["total_after"], after["total"]) == ("11000.00", "11000.00", "11000.00")
    assert co["lines_before"] == [line(before, "2")]
    assert co["lines_after"] == [{**line(before, "2"), "description": "Gadget, blue"}] == [line(after, "2")]
    assert [ln["description"] for ln in final(client, job)["lines"]] == ["Widget", "Gadget, blue"]


def test_a_shipped_line_may_go_down_to_what_was_shipped(client):
    order = shipped_order(client, invoiced=True)
    after = applied(client, order, [{"line_id": "1", "quantity": "4"}])["job"]
    assert (line(after, "1")["amount"], line(after, "1")["billed_amount"], after["total"]) == (
        "4000.00", "4000.00", "5000.00")  # fmt: skip
    closing = final(client, order)  # line 1 is billed in full by its shipment invoice
    assert [ln["line_id"] for ln in closing["lines"]] == ["2"]
    assert balances(client)["4000"] == "-5000.00"


# ---- refusals: nothing changed ----------------------------------------------------------------------

NEW = {"line_id": "3", "item_code": "EXTRA", "description": "Extra", "quantity": "1", "unit_price": "10.00"}


def _without(key: str) -> dict[str, str]:
    return {k: v for k, v in NEW.items() if k != key}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"lines": [_without("item_code")]}, "lines[0].item_code"),
        ({"lines": [_without("quantity")]}, "lines[0].quantity"),
        ({"lines": [_without("unit_price")]}, "lines[0].unit_price"),
        ({"lines": [{**NEW, "quantity": "0"}]}, "lines[0].quantity"),
        ({"lines": [{"line_id": "1", "quantity": "11"}, _without("unit_price")]}, "lines[1].unit_price"),
        ({"lines": [{"line_id": "1", "item_code": "GADGET"}]}, "lines[0].item_code"),
        ({"lines": [{"line_id": "1", "quantity": "11"}, {"line_id": "1", "quantity": "12"}]}, "lines"),
        ({"lines": [{"line_id": "1", "quantity": "10.000", "unit_price": "1000"}]}, "lines"),  # changes nothing
        ({"lines": [{"line_id": "2", "description": "Gadget"}]}, "lines"),  # changes nothing
        ({"lines": [{"line_id": "1"}]}, "lines"),  # changes nothing
        ({"lines": []}, "lines"),
        ({"lines": [{"line_id": "1", "quantity": "0"}, {"line_id": "2", "quantity": "0"}]}, "lines"),  # total 0
        ({"lines": [{"line_id": "1", "quantity": 11}]}, "lines[0].quantity"),
        ({"lines": [{"line_id": "1", "quantity": "-1"}]}, "lines[0].quantity"),
        ({"lines": [{"line_id": "1", "unit_price": "1000.00001"}]}, "lines[0].unit_price"),
        ({"lines": [{"line_id": "1", "quantity": "999999999", "unit_price": "999999999999"}]}, "lines[0]"),
        ({"lines": [{"line_id": "1", "quantity": "11", "amount": "11000.00"}]}, "lines[0].amount"),
        ({"lines": [{"line_id": "bad id", "quantity": "11"}]}, "lines[0].line_id"),
        ({"lines": [{"line_id": str(i), "quantity": "1"} for i in range(L.CHANGE_ORDER_LINES + 1)]}, "lines"),
        ({"reason": None}, "reason"),
        ({"reason": "  "}, "reason"),
        ({"date": "2026-13-01"}, "date"),
        ({"total": "12000.00"}, "total"),
    ],
)
def test_an_invalid_change_order_is_422_naming_the_field_and_changes_nothing(client, job, body, field):
    sent = {"reason": "scope", "date": "2026-12-02", "lines": [{"line_id": "1", "quantity": "11"}], **body}
    sent = {k: v for k, v in sent.items() if v is not None}
    before = table_snapshot()
    assert fields(client.post(f"{job}/change-orders", sent)) == [field]
    assert table_snapshot() == before


def test_a_total_below_what_is_billed_or_scheduled_is_overbilling(client, job):
    deposit(client, job, amount="3000.00")
    r = client.post(f"{job}/progress-billings", {"amount": "2000.00", "schedule": True, "invoice_date": "2027-01-15"})
    assert r.status == 201, r.body
    before = table_snapshot()
    body = refused(change(client, job, [{"line_id": "1", "quantity": "3"}]), 422, "OVERBILLING")  # 4,000.00
    assert body["error"]["details"][0]["committed"] == "5000.00"
    assert table_snapshot() == before
    assert applied(client, job, [{"line_id": "1", "quantity": "4"}])["job"]["total"] == "5000.00"  # exactly fits


def test_a_total_below_deposits_shipments_and_pending_is_overbilling(client):
    order = shipped_order(client, invoiced=True)  # 4,000.00 billed by the shipment invoice
    deposit(client, order, amount="2000.00")
    r = client.post(f"{order}/progress-billings", {"amount": "1000.00", "schedule": True, "invoice_date": "2027-01-15"})
    assert r.status == 201, r.body
    before = table_snapshot()
    lines = [{"line_id": "1", "quantity": "5"}, {"line_id": "2", "quantity": "0"}]  # 5,000.00 < 7,000.00
    assert refused(change(client, order, lines), 422, "OVERBILLING")["error"]["details"][0]["committed"] == "7000.00"
    assert table_snapshot() == before


@pytest.mark.parametrize("invoiced", [False, True], ids=["recorded", "invoiced"])
@pytest.mark.parametrize("quantity", ["3.9999", "0"])
def test_a_quantity_below_what_was_shipped_is_refused(client, invoiced, quantity):
    order = shipped_order(client, invoiced)
    before = table_snapshot()
    assert fields(change(client, order, [{"line_id": "1", "quantity": quantity}])) == ["lines[0].quantity"]
    assert table_snapshot() == before


@pytest.mark.parametrize(
    "lines",
    [[{"line_id": "1", "unit_price": "999.99"}], [{"line_id": "1", "quantity": "12", "unit_price": "1100.00"}],
     [{"line_id": "2", "quantity": "6"}, {"line_id": "1", "unit_price": "0"}]],
)  # fmt: skip
def test_a_price_change_on_a_line_a_shipment_invoice_billed_is_refused(client, lines):
    order = shipped_order(client, invoiced=True)
    before = table_snapshot()
    assert fields(change(client, order, lines)) == [f"lines[{len(lines) - 1}].unit_price"]
    assert table_snapshot() == before
    # the other line's price, never billed by a shipment, may change
    assert applied(client, order, [{"line_id": "2", "unit_price": "250.00"}])["job"]["total"] == "11250.00"


def test_a_finalized_or_unknown_job_and_a_reader_are_refused(client, job):
    kind = job.split("/")[1]
    before = table_snapshot()
    lines = [{"line_id": "1", "quantity": "11"}]
    refused(change(client, job, lines, claims=READER), 403, "FORBIDDEN")
    refused(client.post(f"{job}/change-orders", {"lines": "not a list"}, claims=READER), 403, "FORBIDDEN")
    refused(client.post(f"{job}/change-orders", raw="{not json", claims=READER), 403, "FORBIDDEN")
    refused(change(client, job, lines, claims=None), 401, "UNAUTHORIZED")
    refused(change(client, f"/{kind}/NOPE", lines), 404, "NOT_FOUND")
    assert table_snapshot() == before
    assert client.get(f"{job}/change-orders", claims=READER).status == 200  # reading is allowed
    refused(client.get(f"/{kind}/NOPE/change-orders"), 404, "NOT_FOUND")
    final(client, job)
    before = table_snapshot()
    refused(change(client, job, lines), 409, "JOB_FINALIZED")
    assert table_snapshot() == before


def test_a_job_never_gets_more_lines_than_the_limit(client, job):
    kind = job.split("/")[1]
    lines = [job_line(f"L{i:03d}", "1", "10.00") for i in range(L.LINES_PER_JOB - 1)]
    assert client.post(f"/{kind}", order_body("WIDE", lines=lines)).status == 201
    wide = f"/{kind}/WIDE"
    assert len(applied(client, wide, [NEW])["job"]["lines"]) == L.LINES_PER_JOB
    before = table_snapshot()
    assert fields(change(client, wide, [{**NEW, "line_id": "4"}])) == ["lines"]
    assert table_snapshot() == before


# ---- retries (R11) ------------------------------------------------------------------------------------


def test_the_same_change_order_with_the_same_key_is_applied_once(client, job):
    h = {"Idempotency-Key": "co-1"}
    lines = [{"line_id": "1", "quantity": "12"}]
    first = change(client, job, lines, headers=h)
    assert first.status == 201, first.body
    before = table_snapshot()
    again = change(client, job, lines, headers=h)
    assert (again.status, again.json(), again.headers["idempotent-replay"]) == (201, first.json(), "true")
    refused(change(client, job, [{"line_id": "1", "quantity": "13"}], headers=h), 409, "IDEMPOTENCY_CONFLICT")
    assert table_snapshot() == before
    assert [co["change_order_id"] for co in client.get(f"{job}/change-orders").json()["items"]] == ["CO-1"]
    assert client.get(job).json()["total"] == "13000.00"


def test_a_change_order_resent_after_the_idempotency_cache_is_gone_is_not_applied_again(client, job):
    h = {"Idempotency-Key": "co-2"}
    lines = [{"line_id": "3", **_without("line_id")}]  # adding a line twice would add 10.00 twice
    first = change(client, job, lines, headers=h)
    assert first.status == 201, first.body
    forget_idempotency_cache()
    before = table_snapshot()
    again = change(client, job, lines, headers=h)
    assert again.status == 201, again.body
    assert again.json()["change_order"] == first.json()["change_order"]  # CO-1, not CO-2
    assert again.json()["job"]["total"] == "11010.00"
    assert table_snapshot() == before
    # another key is another change order
    other = change(client, job, [{"line_id": "3", "quantity": "2"}], headers={"Idempotency-Key": "co-3"})
    assert other.json()["change_order"]["change_order_id"] == "CO-2"


# ---- the history, a page at a time --------------------------------------------------------------------


def test_the_history_is_paged_in_number_order_and_a_forged_token_is_400(client, job):
    for quantity in ("11", "12", "13"):
        applied(client, job, [{"line_id": "1", "quantity": quantity}])
    first = client.get(f"{job}/change-orders", query="limit=2").json()
    assert [co["change_order_id"] for co in first["items"]] == ["CO-1", "CO-2"]
    rest = client.get(f"{job}/change-orders", query=f"limit=2&next_token={quote(first['next_token'])}").json()
    assert ([co["change_order_id"] for co in rest["items"]], rest["next_token"]) == (["CO-3"], None)
    other = "projects" if job.startswith("/orders") else "orders"
    assert client.post(f"/{other}", order_body("J-2", lines=LINES)).status == 201
    for token in ("nope", first["next_token"]):  # not a token, and another job's
        r = client.get(f"/{other}/J-2/change-orders", query=f"next_token={quote(token)}")
        refused(r, 400, "BAD_REQUEST")
    assert client.get(f"/{other}/J-2/change-orders").json() == {"items": [], "next_token": None}
    refused(client.get(f"{job[:-3]}NOPE/change-orders"), 404, "NOT_FOUND")
