"""R16 tax through the handlers: the Done-when figures of issue 11, for orders and projects."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from local.fixtures import job_line, order_body, ship, shipment_message

VAT20 = {"name": "VAT 20%", "rate": "20", "account": "2200"}
VAT7 = {"name": "VAT 7%", "rate": "7", "account": "2207"}


def taxed_line(line_id: str, quantity: str, price: str, code: str | None) -> dict[str, Any]:
    line: dict[str, Any] = job_line(line_id, quantity, price)
    if code:
        line["tax_code"] = code
    return line


def settings(client: Any, **more: Any) -> None:
    r = client.put("/settings", {"tax_codes": {"VAT20": VAT20, "VAT7": VAT7}, **more})
    assert r.status == 200, r.body


def balances(client: Any) -> dict[str, str]:
    return {a["account"]: a["balance"] for a in client.get("/ledger/trial-balance").json()["accounts"]}


def post(client: Any, path: str, body: Any = None) -> dict[str, Any]:
    r = client.post(path, body)
    assert r.status == 201, r.body
    out: dict[str, Any] = r.json()
    return out


@pytest.fixture(params=["orders", "projects"])
def kind(request):
    return request.param


@pytest.mark.parametrize(("on", "final_total"), [(True, "9000.00"), (False, "9500.00")])
def test_a_taxed_deposit_and_its_final(client, kind, on, final_total):
    settings(client, tax_on_deposits=on)
    post(client, f"/{kind}", order_body("J-1", lines=[taxed_line("1", "10", "1000.00", "VAT20")]))
    invoice = post(client, f"/{kind}/J-1/progress-billings", {"percent": "25"})["invoice"]
    if on:
        assert (invoice["subtotal"], invoice["total"]) == ("2500.00", "3000.00")
        assert [(t["code"], t["base"], t["amount"]) for t in invoice["tax"]] == [("VAT20", "2500.00", "500.00")]
        entry = client.get(f"/{kind}/J-1/ledger").json()["items"][0]
        assert {(ln["account"], ln["debit"], ln["credit"]) for ln in entry["lines"]} == {
            ("1200", "3000.00", "0.00"), ("2400", "0.00", "2500.00"), ("2200", "0.00", "500.00")}  # fmt: skip
    else:
        assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == ("2500.00", [], "2500.00")
    final = post(client, f"/{kind}/J-1/final-invoice")["invoice"]
    assert final["total"] == final_total
    tb = balances(client)
    assert (tb["2200"], tb["2400"], tb["4000"]) == ("-2000.00", "0.00", "-10000.00")


def test_a_taxed_shipment_and_the_final(client):
    settings(client, auto_invoice_on_shipment=True)
    post(client, "/orders", order_body("SO-1", lines=[taxed_line("1", "10", "600.00", "VAT20"),
                                                      taxed_line("2", "1", "4000.00", "VAT20")]))  # fmt: skip
    ship(shipment_message("SH-1", "SO-1", lines=[{"line_id": "1", "quantity": "2"}]))
    shipped = client.get("/orders/SO-1/invoices").json()["items"][0]
    assert (shipped["subtotal"], shipped["total"]) == ("1200.00", "1440.00")
    final = post(client, "/orders/SO-1/final-invoice")["invoice"]
    assert final["total"] == "10560.00"
    assert balances(client)["2200"] == "-2000.00"


def test_mixed_codes_and_three_thirds_tax_the_job_total_to_the_cent(client, kind):
    settings(client, tax_on_deposits=True)
    lines = [taxed_line("1", "3", "333.33", "VAT20"), taxed_line("2", "7", "142.87", "VAT7"),
             taxed_line("3", "1", "100.01", None)]  # fmt: skip
    job = post(client, f"/{kind}", order_body("J-M", lines=lines))
    for _ in range(3):
        post(client, f"/{kind}/J-M/progress-billings", {"percent": "33.3333"})
    post(client, f"/{kind}/J-M/final-invoice")
    invoices = client.get(f"/{kind}/J-M/invoices").json()["items"]
    lifetime: dict[str, Decimal] = {}
    for inv in invoices:
        for t in inv["tax"]:
            lifetime[t["code"]] = lifetime.get(t["code"], Decimal(0)) + Decimal(t["amount"])
    net = {"VAT20": Decimal("999.99"), "VAT7": Decimal("1000.09")}
    expected = {code: (net[code] * Decimal(r) / 100).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
                for code, r in (("VAT20", "20"), ("VAT7", "7"))}  # fmt: skip
    assert lifetime == expected
    assert sum(Decimal(i["subtotal"]) for i in invoices) == Decimal(job["total"])
    tb = balances(client)
    assert tb["2400"] == "0.00"
    assert (tb["2200"], tb["2207"]) == (f"-{expected['VAT20']}", f"-{expected['VAT7']}")


def test_an_unknown_tax_code_is_refused(client):
    settings(client)
    r = client.post("/orders", order_body("SO-X", lines=[taxed_line("1", "1", "1.00", "GST")]))
    assert (r.status, r.json()["error"]["details"][0]["field"]) == (422, "lines[0].tax_code")


def test_a_credit_note_reverses_tax_exactly(client):
    settings(client, tax_on_deposits=True)
    post(client, "/orders", order_body("SO-V", lines=[taxed_line("1", "10", "1000.00", "VAT20")]))
    deposit = post(client, "/orders/SO-V/progress-billings", {"percent": "25"})["invoice"]
    credit = post(client, f"/invoices/{deposit['invoice_id']}/void", {"reason": "wrong"})["credit_note"]
    assert (credit["subtotal"], credit["total"]) == ("-2500.00", "-3000.00")
    assert [(t["base"], t["amount"]) for t in credit["tax"]] == [("-2500.00", "-500.00")]
    assert all(v == "0.00" for v in balances(client).values())
