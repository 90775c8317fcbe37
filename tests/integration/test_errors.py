"""Every rejected request changes nothing and names the problem (the error shape of docs/rules.md)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

import pytest

from local.fixtures import CLERK, order_body
from tests.conftest import table_snapshot


@pytest.fixture
def order(client):
    assert client.post("/orders", order_body()).status == 201  # total 1000.00
    return "/orders/SO-1001"


def _error(r, status, code):
    assert r.status == status, r.body
    err = r.json()["error"]
    assert err["code"] == code
    assert err["message"]
    return err


def _fields(err):
    return {d.get("field") for d in err["details"]}


@pytest.mark.parametrize(
    "body,field",
    [
        ({"amount": 2500}, "amount"),  # a JSON number: R10
        ({"percent": 25}, "percent"),
        ({"amount": "10.001"}, "amount"),  # more decimals than USD allows
        ({"amount": "-5.00"}, "amount"),
        ({"amount": "0"}, "amount"),
        ({"percent": "0"}, "percent"),
        ({"percent": "100.5"}, "percent"),
        ({"percent": "12.12345"}, "percent"),
        ({"amount": "1e3"}, "amount"),
        ({"invoice_date": "2026-02-30", "amount": "1.00"}, "invoice_date"),
        ({"amount": "1.00", "colour": "red"}, "colour"),  # extra fields are refused
        ({"amount": "1.00", "schedule": "yes"}, "schedule"),
    ],
)
def test_invalid_record_fields_are_422_naming_the_field(client, order, body, field):
    before = table_snapshot()
    err = _error(client.post(f"{order}/progress-billings", body), 422, "VALIDATION_ERROR")
    assert field in _fields(err)
    assert table_snapshot() == before


def test_amount_and_percent_together_or_neither_is_422(client, order):
    for body in ({"amount": "1.00", "percent": "1"}, {"title": "nothing to bill"}):
        err = _error(client.post(f"{order}/progress-billings", body), 422, "VALIDATION_ERROR")
        assert "amount or percent" in err["message"]


def test_jpy_amount_with_decimals_is_422(client):
    client.post(
        "/orders",
        order_body(
            "SO-JP",
            "JPY",
            [{"line_id": "1", "item_code": "X", "description": "X", "quantity": "1", "unit_price": "1000"}],
        ),
    )
    before = table_snapshot()
    err = _error(client.post("/orders/SO-JP/progress-billings", {"amount": "10.5"}), 422, "VALIDATION_ERROR")
    assert _fields(err) == {"amount"}
    assert table_snapshot() == before


def test_malformed_json_is_400(client, order):
    before = table_snapshot()
    _error(client.post(f"{order}/progress-billings", raw="{not json"), 400, "BAD_REQUEST")
    _error(client.post("/orders", raw='{"id": "SO-2",'), 400, "BAD_REQUEST")
    assert table_snapshot() == before


@pytest.mark.parametrize(
    "body,field",
    [
        ({**order_body(), "lines": []}, "lines"),
        ({**order_body(), "id": "bad id!"}, "id"),
        ({**order_body(), "currency": "XYZ"}, "currency"),
        (
            {**order_body(), "lines": [{"line_id": "1", "item_code": "W", "quantity": 10, "unit_price": "1.00"}]},
            "lines[0].quantity",
        ),
        (
            {**order_body(), "lines": [{"line_id": "1", "item_code": "W", "quantity": "1", "unit_price": "1.00001"}]},
            "lines[0].unit_price",
        ),
        ({**order_body(), "lines": [{"line_id": "1", "item_code": "W", "quantity": "1", "unit_price": "0"}]}, "lines"),
    ],
)
def test_invalid_job_is_422_naming_the_field(client, body, field):
    err = _error(client.post("/orders", body), 422, "VALIDATION_ERROR")
    assert field in _fields(err)
    assert table_snapshot() == []


@pytest.mark.parametrize(
    "path,text,field",
    [
        ("/orders", None, "customer_name"),
        ("/orders/SO-1001/progress-billings", '{"amount": "1.00", "title": "\\ud800"}', "title"),
        ("/orders/SO-1001/change-orders", '{"reason": "\\udfff", "lines": [{"line_id": "1", "quantity": "2"}]}',
         "reason"),
    ],
)  # fmt: skip
def test_a_lone_surrogate_is_422_not_a_failed_write(client, order, path, text, field):
    """JSON may escape half a UTF-16 pair (\\ud800): no string a document can store, so 422 naming the
    field, before anything is written (it would fail DynamoDB's UTF-8, a 500)."""
    if text is None:
        text = json.dumps({**order_body("SO-2"), "customer_name": "Acme"}).replace('"Acme"', '"\\ud800"')
    before = table_snapshot()
    err = _error(client.post(path, raw=text), 422, "VALIDATION_ERROR")
    assert _fields(err) == {field}
    assert table_snapshot() == before


@pytest.mark.parametrize("limit", ["\x1c5", "5\x1f", "5.0", "5_0", "0x5", ""])
def test_a_limit_that_is_not_a_whole_number_is_422_naming_it(client, limit):
    err = _error(client.get("/orders", query=urlencode({"limit": limit})), 422, "VALIDATION_ERROR")
    assert _fields(err) == {"limit"}


def test_a_limit_may_have_white_space_around_it(client, order):
    assert len(client.get("/orders", query=urlencode({"limit": " 1\u00a0"})).json()["items"]) == 1


def test_duplicate_job_is_409_and_keeps_the_first(client, order):
    before = table_snapshot()
    _error(
        client.post(
            "/orders", order_body(lines=[{"line_id": "1", "item_code": "W", "quantity": "1", "unit_price": "1.00"}])
        ),
        409,
        "ALREADY_EXISTS",
    )
    assert table_snapshot() == before
    assert client.get(order).json()["total"] == "1000.00"


def test_unknown_ids_are_404(client, order):
    _error(client.get("/orders/NOPE"), 404, "NOT_FOUND")
    _error(client.get("/projects/SO-1001"), 404, "NOT_FOUND")  # an order is not a project
    _error(client.post("/orders/NOPE/progress-billings", {"amount": "1.00"}), 404, "NOT_FOUND")
    _error(client.post("/orders/NOPE/final-invoice"), 404, "NOT_FOUND")
    _error(client.delete(f"{order}/progress-billings/PB-NOPE"), 404, "NOT_FOUND")
    _error(client.get("/invoices/INV-999999"), 404, "NOT_FOUND")
    _error(client.get("/orders/NOPE/invoices"), 404, "NOT_FOUND")
    _error(client.get("/orders/NOPE/ledger"), 404, "NOT_FOUND")
    _error(client.get("/nothing-here"), 404, "NOT_FOUND")


def test_overbilling_is_422_and_changes_nothing(client, order):
    assert client.post(f"{order}/progress-billings", {"amount": "600.00"}).status == 201
    assert (
        client.post(
            f"{order}/progress-billings", {"amount": "300.00", "schedule": True, "invoice_date": "2027-01-01"}
        ).status
        == 201
    )
    before = table_snapshot()
    err = _error(client.post(f"{order}/progress-billings", {"amount": "100.01"}), 422, "OVERBILLING")
    assert "100.00" in err["message"]  # what is still available
    _error(client.post(f"{order}/progress-billings", {"percent": "11", "schedule": True}), 422, "OVERBILLING")
    assert table_snapshot() == before
    # exactly the remainder is fine
    assert client.post(f"{order}/progress-billings", {"amount": "100.00"}).status == 201


def test_finalized_job_refuses_more_billing(client, order):
    assert client.post(f"{order}/final-invoice").status == 201
    before = table_snapshot()
    _error(client.post(f"{order}/progress-billings", {"amount": "1.00"}), 409, "JOB_FINALIZED")
    _error(client.post(f"{order}/final-invoice"), 409, "JOB_FINALIZED")
    assert table_snapshot() == before


def test_cancel_pending_record_and_not_an_invoiced_one(client, order):
    pending = client.post(
        f"{order}/progress-billings", {"amount": "100.00", "schedule": True, "invoice_date": "2027-01-01"}
    ).json()["record"]
    assert pending["status"] == "pending" and pending["invoice_id"] is None
    assert client.get(order).json()["billing"]["pending_scheduled"] == "100.00"
    r = client.delete(f"{order}/progress-billings/{pending['record_id']}")
    assert r.status == 200 and r.json()["status"] == "cancelled"
    assert client.get(order).json()["billing"]["pending_scheduled"] == "0.00"
    _error(client.delete(f"{order}/progress-billings/{pending['record_id']}"), 409, "NOT_PENDING")

    invoiced = client.post(f"{order}/progress-billings", {"amount": "100.00"}).json()["record"]
    before = table_snapshot()
    _error(client.delete(f"{order}/progress-billings/{invoiced['record_id']}"), 409, "NOT_PENDING")
    assert table_snapshot() == before


def test_final_invoice_cancels_pending_records(client, order):
    rec = client.post(
        f"{order}/progress-billings", {"amount": "100.00", "schedule": True, "invoice_date": "2027-01-01"}
    ).json()["record"]
    final = client.post(f"{order}/final-invoice").json()["invoice"]
    assert final["total"] == "1000.00"  # a pending record bills nothing
    records = client.get(f"{order}/progress-billings").json()["items"]
    assert [(r["record_id"], r["status"]) for r in records] == [(rec["record_id"], "cancelled")]


def test_no_claims_is_401_and_settings_need_admin(client):
    before = table_snapshot()
    _error(client.get("/orders", claims=None), 401, "UNAUTHORIZED")
    _error(client.post("/orders", order_body(), claims=None), 401, "UNAUTHORIZED")
    _error(client.put("/settings", {"auto_invoice_on_shipment": True}, claims=CLERK), 403, "FORBIDDEN")
    assert table_snapshot() == before
    assert client.get("/settings", claims=CLERK).json()["auto_invoice_on_shipment"] is False


def test_settings_defaults_and_admin_update_change_the_postings(client, order):
    s = client.get("/settings").json()
    assert s["auto_invoice_on_shipment"] is False
    assert s["accounts"] == {"receivable": "1200", "customer_deposits": "2400", "revenue": "4000"}
    r = client.put("/settings", {"accounts": {"customer_deposits": "2450"}})
    assert r.status == 200 and r.json()["accounts"]["customer_deposits"] == "2450"
    assert r.json()["accounts"]["receivable"] == "1200"  # omitted fields are kept
    inv = client.post(f"{order}/progress-billings", {"amount": "10.00"}).json()["invoice"]
    entry = client.get(order + "/ledger").json()["items"][0]
    assert entry["invoice_id"] == inv["invoice_id"]
    assert {ln["account"] for ln in entry["lines"]} == {"1200", "2450"}
    _error(client.put("/settings", {"accounts": {"revenue": "1200"}}), 422, "VALIDATION_ERROR")
    _error(client.put("/settings", {"auto_invoice_on_shipment": "yes"}), 422, "VALIDATION_ERROR")


def test_list_jobs_filters_and_pages(client):
    for i in range(5):
        client.post("/orders", order_body(f"SO-{i}"))
    client.post("/orders/SO-3/final-invoice")
    assert [j["id"] for j in client.get("/orders", query="status=finalized").json()["items"]] == ["SO-3"]
    assert len(client.get("/orders", query="status=open").json()["items"]) == 4
    seen, token = [], None
    while True:
        page = client.get("/orders", query="limit=2" + (f"&next_token={token}" if token else "")).json()
        seen += [j["id"] for j in page["items"]]
        token = page["next_token"]
        if not token:
            break
    assert sorted(seen) == [f"SO-{i}" for i in range(5)]
    assert client.get("/projects").json() == {"items": [], "next_token": None}
    _error(client.get("/orders", query="status=closed"), 422, "VALIDATION_ERROR")
    _error(client.get("/orders", query="limit=0"), 422, "VALIDATION_ERROR")
    _error(client.get("/orders", query="next_token=garbage"), 400, "BAD_REQUEST")


def test_a_body_sent_as_form_data_is_415_not_read_as_json(client):
    """``curl -d`` labels its body application/x-www-form-urlencoded: R19 answers 415 (it was once read
    as JSON, which let any web page post to a local stack whose caller is the local admin)."""
    import json

    form = {"Content-Type": "application/x-www-form-urlencoded"}
    r = client.post("/orders", raw=json.dumps(order_body()), headers=form)
    assert (r.status, r.json()["error"]["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE"), r.body
    assert client.get("/orders/SO-1001").status == 404
