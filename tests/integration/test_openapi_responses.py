"""A client generated from docs/openapi.json can read every answer: real responses of a whole job's
life (deposits, schedule, cancel, shipments, settings, final invoice, errors) validate against the
committed document's schema for their route and status, with no field the document does not declare.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from local import cfn
from local.fixtures import CLERK, READER, order_body, run_automation, scheduled_event, ship, shipment_message

DOC = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())


def _closed(node: Any) -> Any:
    """The schema with every object closed (``additionalProperties: false``): undeclared fields fail."""
    if isinstance(node, dict):
        out = {k: _closed(v) for k, v in node.items()}
        if out.get("type") == "object" and "properties" in out:
            out.setdefault("additionalProperties", False)
        return out
    if isinstance(node, list):
        return [_closed(v) for v in node]
    return node


COMPONENTS = _closed(DOC["components"])
checked: list[tuple[str, str, int]] = []


def conforms(method: str, path: str, result: Any) -> Any:
    """Assert that ``result`` is declared for its route and status, and matches that schema."""
    found = cfn.find_route(method, path)
    assert found is not None, (method, path)
    operation = DOC["paths"][found[0].path][method.lower()]
    answer = operation["responses"].get(str(result.status))
    assert answer is not None, f"{method} {found[0].path} answered {result.status}, which the document does not list"
    schema = {"$ref": answer["content"]["application/json"]["schema"]["$ref"], "components": COMPONENTS}
    body = result.json()
    errors = sorted(Draft202012Validator(schema).iter_errors(body), key=str)
    assert not errors, f"{method} {path} {result.status}: {errors[0].message} at {list(errors[0].absolute_path)}"
    checked.append((method, found[0].path, result.status))
    return body


@pytest.mark.parametrize("kind", ["orders", "projects"])
def test_every_answer_of_a_job_matches_the_published_schema(client, kind):
    def call(method: str, path: str, body: Any = None, **kw: Any) -> Any:
        return conforms(method, path, client.request(method, path, body, **kw))

    job = f"/{kind}/J-1"
    call("POST", f"/{kind}", order_body("J-1"))
    call("GET", f"/{kind}")
    call("GET", job)
    call("POST", f"{job}/progress-billings", {"amount": "100.00", "title": "Deposit"})
    call("POST", f"{job}/progress-billings", {"percent": "12.5"}, headers={"Idempotency-Key": "k-1"})
    scheduled = call(
        "POST", f"{job}/progress-billings", {"amount": "50.00", "schedule": True, "invoice_date": "2027-01-15"}
    )
    call("POST", f"{job}/progress-billings", {"amount": "25.00", "schedule": True, "invoice_date": "2027-02-15"})
    call("DELETE", f"{job}/progress-billings/{scheduled['record']['record_id']}")
    call("GET", f"{job}/progress-billings")
    final = call("POST", f"{job}/final-invoice", {"title": "Final"})
    call("GET", f"{job}/invoices")
    call("GET", f"{job}/ledger")
    call("GET", f"/invoices/{final['invoice']['invoice_id']}")
    call("GET", "/ledger/trial-balance")
    # errors: each in the ErrorBody shape, under a status the operation lists
    call("GET", f"/{kind}/NOPE")
    call("POST", f"{job}/progress-billings", {"amount": "1.00"})  # 409 JOB_FINALIZED
    call("POST", f"/{kind}", order_body("J-1"))  # 409 ALREADY_EXISTS
    call("POST", f"/{kind}", {"id": "J-2"})  # 422
    call("POST", f"/{kind}/J-3/progress-billings", raw="{not json")  # 400
    call("GET", f"/{kind}", claims=None)  # 401
    call("GET", f"/{kind}", query="next_token=%%%")  # 400
    assert {status for _, _, status in checked} >= {200, 201, 400, 401, 404, 409, 422}


def test_shipments_settings_and_refusals_match_the_published_schema(client):
    def call(method: str, path: str, body: Any = None, **kw: Any) -> Any:
        return conforms(method, path, client.request(method, path, body, **kw))

    call("GET", "/settings")
    call("PUT", "/settings", {"auto_invoice_on_shipment": True})
    call("PUT", "/settings", {"auto_invoice_on_shipment": False}, claims=CLERK)  # 403
    call("POST", "/orders", order_body("SO-S"))
    ship(
        shipment_message("SH-1", "SO-S"),
        shipment_message("SH-2", "SO-S", lines=[{"line_id": "9", "quantity": "1"}]),
        "not json",
    )
    shipments = call("GET", "/orders/SO-S/shipments")["items"]
    assert sorted(s["status"] for s in shipments) == ["invoiced", "rejected"]
    invoice = next(s["invoice_id"] for s in shipments if s["invoice_id"])
    assert call("GET", f"/invoices/{invoice}")["type"] == "shipment"
    call("POST", "/orders/SO-S/final-invoice")
    call("GET", "/orders/SO-S/ledger")
    call("GET", "/ledger/trial-balance")


@pytest.mark.parametrize("kind", ["orders", "projects"])
def test_voids_credit_notes_and_change_orders_match_the_published_schema(client, kind):
    """R14 and R15: the void's answer, the credit note and the voided original wherever they are
    read, the record a void frees, the reopened job, change orders and their refusals."""

    def call(method: str, path: str, body: Any = None, **kw: Any) -> Any:
        return conforms(method, path, client.request(method, path, body, **kw))

    job = f"/{kind}/J-1"
    call("POST", f"/{kind}", order_body("J-1"))
    added = {"line_id": "2", "item_code": "EXTRA", "description": "Extra", "quantity": "1", "unit_price": "50.00"}
    change = {"reason": "more", "date": "2026-12-02",
              "lines": [{"line_id": "1", "quantity": "12", "description": "Widget, blue"}, added]}  # fmt: skip
    created = call("POST", f"{job}/change-orders", change, headers={"Idempotency-Key": "co-1"})
    assert created["change_order"]["change_order_id"] == "CO-1"
    call("POST", f"{job}/change-orders", change, headers={"Idempotency-Key": "co-1"})  # the replay
    call("POST", f"{job}/change-orders", {"reason": "less", "lines": [{"line_id": "2", "quantity": "0"}]}, claims=CLERK)
    assert len(call("GET", f"{job}/change-orders")["items"]) == 2
    deposit = call("POST", f"{job}/progress-billings", {"percent": "10"})["invoice"]
    scheduled = {"amount": "50.00", "schedule": True, "invoice_date": "2027-01-15"}
    call("POST", f"{job}/progress-billings", scheduled)
    void = {"reason": "wrong amount", "void_date": "2026-12-15"}
    voided = call("POST", f"/invoices/{deposit['invoice_id']}/void", void, headers={"Idempotency-Key": "v-1"})
    credit = voided["credit_note"]
    call("POST", f"/invoices/{deposit['invoice_id']}/void", void, headers={"Idempotency-Key": "v-1"})  # the replay
    assert call("GET", f"/invoices/{credit['invoice_id']}")["type"] == "credit_note"
    assert call("GET", f"/invoices/{deposit['invoice_id']}")["status"] == "voided"
    assert {r["status"] for r in call("GET", f"{job}/progress-billings")["items"]} == {"voided", "pending"}
    call("GET", f"{job}/invoices")
    call("GET", f"{job}/ledger")
    final = call("POST", f"{job}/final-invoice")["invoice"]
    call("POST", f"/invoices/{final['invoice_id']}/void", {"reason": "reopen"})
    reopened = call("GET", job)
    assert (reopened["status"], reopened["reopen_count"]) == ("open", 1)
    call("GET", f"/{kind}")
    call("GET", "/ledger/trial-balance")
    # refusals: each in the ErrorBody shape, under a status the operation lists
    call("POST", f"/invoices/{credit['invoice_id']}/void", {"reason": "again"})  # 409 NOT_VOIDABLE
    call("POST", f"/invoices/{deposit['invoice_id']}/void", {"reason": "again"})  # 409 ALREADY_VOIDED
    call("POST", f"/invoices/{deposit['invoice_id']}/void", void, headers={"Idempotency-Key": "v-1"}, claims=CLERK)
    call("POST", "/invoices/INV-999999/void", {"reason": "x"})  # 404
    call("POST", f"/invoices/{final['invoice_id']}/void", {})  # 422
    call("POST", f"/invoices/{final['invoice_id']}/void", raw="{not json")  # 400
    call("POST", f"/invoices/{final['invoice_id']}/void", {"reason": "x"}, claims=None)  # 401
    call("POST", f"{job}/change-orders", {"reason": "x", "lines": [{"line_id": "1", "quantity": "0.5"}]})  # OVERBILLING
    call("POST", f"{job}/change-orders", {"reason": "x", "lines": [{"line_id": "1", "item_code": "X"}]})  # 422
    call("POST", f"{job}/change-orders", change, headers={"Idempotency-Key": "co-1"}, claims=READER)  # 403
    call("POST", f"/{kind}/NOPE/change-orders", change)  # 404
    call("GET", f"/{kind}/NOPE/change-orders")  # 404
    call("POST", f"{job}/final-invoice")
    call("POST", f"{job}/change-orders", change)  # 409 JOB_FINALIZED
    assert {status for _, path, status in checked if "void" in path} >= {201, 400, 401, 403, 404, 409, 422}
    assert {status for _, path, status in checked if "change-orders" in path} >= {200, 201, 403, 404, 409, 422}


def test_a_voided_shipment_invoice_and_its_shipment_match_the_published_schema(client):
    def call(method: str, path: str, body: Any = None, **kw: Any) -> Any:
        return conforms(method, path, client.request(method, path, body, **kw))

    call("PUT", "/settings", {"auto_invoice_on_shipment": True})
    call("POST", "/orders", order_body("SO-S"))
    ship(shipment_message("SH-1", "SO-S"))
    (invoice,) = call("GET", "/orders/SO-S/invoices")["items"]
    call("POST", f"/invoices/{invoice['invoice_id']}/void", {"reason": "wrong price"})
    (shipment,) = call("GET", "/orders/SO-S/shipments")["items"]
    assert shipment["status"] == "invoice_voided"
    call("POST", "/orders/SO-S/change-orders", {"reason": "price", "lines": [{"line_id": "1", "unit_price": "90.00"}]})
    call("GET", "/orders/SO-S")


@pytest.mark.parametrize("kind", ["orders", "projects"])
def test_taxed_answers_match_the_published_schema(client, kind):
    """R16: settings with tax codes and a company, a job with taxed lines (and a change order adding
    one), taxed deposit, shipment, final and credit note invoices wherever they are read, and the
    refusals of a tax code."""

    def call(method: str, path: str, body: Any = None, **kw: Any) -> Any:
        return conforms(method, path, client.request(method, path, body, **kw))

    codes = {"VAT20": {"name": "VAT 20%", "rate": "20", "account": "2200"},
             "VAT7": {"name": "VAT 7%", "rate": "7.5", "account": "2207"}}  # fmt: skip
    company = {"name": "Acme Ltd", "address": "1 Main St\nLondon", "tax_id": "GB123456789"}
    saved = call("PUT", "/settings", {"tax_codes": codes, "tax_on_deposits": True, "company": company,
                                      "auto_invoice_on_shipment": True})  # fmt: skip
    assert (saved["tax_codes"], saved["company"]) == (codes, company)
    assert call("GET", "/settings")["tax_codes"] == codes
    job = f"/{kind}/J-1"
    lines = [{**order_body()["lines"][0], "tax_code": "VAT20"},
             {"line_id": "2", "item_code": "FREE", "quantity": "1", "unit_price": "50.00"}]  # fmt: skip
    registered = call("POST", f"/{kind}", order_body("J-1", lines=lines))
    assert registered["lines"][0]["tax_rate"] == "20"
    added = {"line_id": "3", "item_code": "EXTRA", "quantity": "2", "unit_price": "75.00", "tax_code": "VAT7"}
    assert call("POST", f"{job}/change-orders", {"reason": "more", "lines": [added]})["job"]["lines"][2]["tax_code"]
    call("GET", f"{job}/change-orders")
    refusal = call("POST", f"{job}/change-orders", {"reason": "x", "lines": [{"line_id": "1", "tax_code": "VAT7"}]})
    assert refusal["error"]["details"][0]["field"] == "lines[0].tax_code"
    taxed = []
    if kind == "orders":  # a shipment invoice, before any deposit (R8), and its credit note
        ship(
            shipment_message(
                "SH-1", "J-1", lines=[{"line_id": "1", "quantity": "2"}, {"line_id": "3", "quantity": "1"}]
            )
        )
        (shipment,) = call("GET", f"{job}/invoices")["items"]
        taxed.append(call("GET", f"/invoices/{shipment['invoice_id']}"))
        taxed.append(call("POST", f"/invoices/{shipment['invoice_id']}/void", {"reason": "wrong"})["credit_note"])
        call("GET", f"{job}/shipments")
    deposit = call("POST", f"{job}/progress-billings", {"percent": "40"})["invoice"]
    taxed.append(deposit)
    taxed.append(call("POST", f"/invoices/{deposit['invoice_id']}/void", {"reason": "wrong"})["credit_note"])
    call("POST", f"{job}/progress-billings", {"amount": "300.00"})
    final = call("POST", f"{job}/final-invoice")["invoice"]
    taxed.append(final)
    taxed.append(call("POST", f"/invoices/{final['invoice_id']}/void", {"reason": "reopen"})["credit_note"])
    taxed.append(call("POST", f"{job}/final-invoice")["invoice"])
    assert all(inv["tax"] and inv["subtotal"] != inv["total"] for inv in taxed)
    assert {inv["type"] for inv in taxed} >= {"deposit", "final", "credit_note"}
    for inv in call("GET", f"{job}/invoices")["items"]:
        call("GET", f"/invoices/{inv['invoice_id']}")
    call("GET", job)
    call("GET", f"/{kind}")
    call("GET", f"{job}/ledger")
    assert len(call("GET", "/invoices", query="limit=100")["items"]) == len(call("GET", f"{job}/invoices")["items"])
    call("GET", "/ledger/entries")
    assert {"2200", "2207"} <= {a["account"] for a in call("GET", "/ledger/trial-balance")["accounts"]}
    # refusals of a tax code: the settings' and a line's
    call("PUT", "/settings", {"tax_codes": {"VAT20": {**codes["VAT20"], "rate": "150"}}})  # 422
    call("POST", f"/{kind}", order_body("J-2", lines=[{**lines[0], "tax_code": "GST"}]))  # 422


def test_registers_answers_match_the_published_schema(client):
    """R18: the invoice register (a voided deposit, its credit note, a final), the journal and the
    automation's runs, paged, and their refusals."""

    def call(method: str, path: str, body: Any = None, **kw: Any) -> Any:
        return conforms(method, path, client.request(method, path, body, **kw))

    call("POST", "/projects", order_body("J-1"))
    call("POST", "/projects/J-1/progress-billings", {"amount": "50.00", "schedule": True, "invoice_date": "2026-11-30"})
    run_automation(scheduled_event("2026-12-01T06:00:00Z"))
    deposit = call("POST", "/projects/J-1/progress-billings", {"amount": "100.00", "invoice_date": "2026-12-01"})
    call("POST", f"/invoices/{deposit['invoice']['invoice_id']}/void", {"reason": "wrong", "void_date": "2026-12-02"})
    call("POST", "/projects/J-1/final-invoice", {"invoice_date": "2026-12-31"})
    page = call("GET", "/invoices", query="limit=2")
    assert len(page["items"]) == 2 and page["next_token"]
    rest = call("GET", "/invoices", query=f"limit=2&next_token={page['next_token']}")
    assert {i["status"] for i in page["items"] + rest["items"]} == {"issued", "voided"}
    call("GET", "/invoices", query="customer_id=C-7&type=credit_note&status=issued&from=2026-12-01&to=2026-12-31")
    entries = call("GET", "/ledger/entries", query="from=2026-11-01")
    assert {(e["kind"], e["job_id"]) for e in entries["items"]} == {("project", "J-1")}
    runs = call("GET", "/automation/runs")
    assert runs["items"][0]["invoiced"] == 1
    # refusals
    call("GET", "/invoices", query="from=2026-12-02&to=2026-12-01")  # 422
    call("GET", "/invoices", query="next_token=forged")  # 400
    call("GET", "/ledger/entries", query="format=pdf")  # 422
    call("GET", "/ledger/entries", query="next_token=forged")  # 400
    call("GET", "/automation/runs", query="limit=0")  # 422
    call("GET", "/automation/runs", query="next_token=forged")  # 400
    call("GET", "/automation/runs", claims=None)  # 401
    registers = {(m, p, st) for m, p, st in checked if p in ("/invoices", "/ledger/entries", "/automation/runs")}
    assert {st for _, _, st in registers} == {200, 400, 401, 422}
