"""R16 with R14 and R7 through the handlers: credit notes of taxed invoices, and what the final invoice
charges and reverses after them, checked on the invoices, per tax code over the job's life (credit
notes included: lifetime tax per code is the tax on the job's net for that code, to the cent), and on
the trial balance (each tax account ends at minus that, Customer Deposits at zero). Also: without tax
codes nothing is taxed, and two tax codes may share one account."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from local.fixtures import order_body, ship, shipment_message
from tests.integration.test_tax import VAT20, balances, post, settings, taxed_line

D = Decimal


@pytest.fixture(params=["orders", "projects"])
def kind(request):
    return request.param


def tax_on(net: str, rate: str, places: str = "0.01") -> Decimal:
    return (D(net) * D(rate) / 100).quantize(D(places), rounding=ROUND_HALF_UP)


def job_invoices(client: Any, job: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = client.get(f"{job}/invoices").json()["items"]
    return items


def lifetime_tax(client: Any, job: str) -> dict[str, Decimal]:
    """Per code, the tax of every invoice of the job, credit notes included (codes at zero left out)."""
    out: dict[str, Decimal] = {}
    for inv in job_invoices(client, job):
        assert D(inv["total"]) == D(inv["subtotal"]) + sum((D(t["amount"]) for t in inv["tax"]), D(0))
        for t in inv["tax"]:
            out[t["code"]] = out.get(t["code"], D(0)) + D(t["amount"])
    return {k: v for k, v in out.items() if v != 0}


def void(client: Any, invoice_id: str) -> dict[str, Any]:
    """Void ``invoice_id``: the credit note, whose tax is exactly the original's negated."""
    original = client.get(f"/invoices/{invoice_id}").json()
    credit: dict[str, Any] = post(client, f"/invoices/{invoice_id}/void", {"reason": "wrong"})["credit_note"]
    assert [(t["code"], t["rate"], t["account"], D(t["base"]), D(t["amount"])) for t in credit["tax"]] == [
        (t["code"], t["rate"], t["account"], -D(t["base"]), -D(t["amount"])) for t in original["tax"]]  # fmt: skip
    assert (D(credit["subtotal"]), D(credit["total"])) == (-D(original["subtotal"]), -D(original["total"]))
    return credit


def deposits(invoice: dict[str, Any]) -> list[str]:
    """The deposit invoices a final invoice reverses."""
    return [ln["reverses_invoice_id"] for ln in invoice["lines"] if ln["code"] == "DEPOSIT"]


# A 2,000.00 job: 999.99 at 20% (tax 200.00), 1,000.09 at 7% (tax 70.01), 0.02 untaxed... rounded once per code
LINES = [taxed_line("1", "3", "333.33", "VAT20"), taxed_line("2", "7", "142.87", "VAT7"),
         taxed_line("3", "2", "0.01", None)]  # fmt: skip
TAX = {"VAT20": tax_on("999.99", "20"), "VAT7": tax_on("1000.09", "7")}
GROSS = D("2000.10") + sum(TAX.values())


def assert_closed(client: Any, job: str) -> None:
    """The job's books closed: lifetime tax per code is the tax on its net, each tax account is at minus
    it, Customer Deposits at zero, revenue the net and the customer owes the gross."""
    assert lifetime_tax(client, job) == TAX
    tb = balances(client)
    assert (D(tb["2200"]), D(tb["2207"])) == (-TAX["VAT20"], -TAX["VAT7"])
    assert (tb.get("2400", "0.00"), tb["4000"], D(tb["1200"])) == ("0.00", "-2000.10", GROSS)


def test_a_voided_taxed_shipment_invoice_s_tax_is_charged_by_the_final(client):
    settings(client, auto_invoice_on_shipment=True)
    post(client, "/orders", order_body("SO-1", lines=LINES))
    ship(shipment_message("SH-1", "SO-1", lines=[{"line_id": "1", "quantity": "1"}, {"line_id": "2", "quantity": "3"}]))
    (shipped,) = job_invoices(client, "/orders/SO-1")
    assert [(t["code"], t["base"], t["amount"]) for t in shipped["tax"]] == [
        ("VAT20", "333.33", "66.67"), ("VAT7", "428.61", "30.00")]  # fmt: skip
    void(client, shipped["invoice_id"])
    tb = balances(client)
    assert (tb["2200"], tb["2207"], tb["1200"]) == ("0.00", "0.00", "0.00")
    ship(shipment_message("SH-2", "SO-1", lines=[{"line_id": "1", "quantity": "2"}]))  # 666.66 at 20%: 133.33
    final = post(client, "/orders/SO-1/final-invoice")["invoice"]
    # the final bills what the voided shipment billed, and that tax: the job's tax less SH-2's
    assert [(t["code"], t["base"], t["amount"]) for t in final["tax"]] == [
        ("VAT20", "333.33", str(TAX["VAT20"] - D("133.33"))), ("VAT7", "1000.09", str(TAX["VAT7"]))]  # fmt: skip
    assert_closed(client, "/orders/SO-1")


def test_a_voided_taxed_final_and_the_second_final_leave_the_tax_and_deposits_accounts_right(client, kind):
    settings(client, tax_on_deposits=True)
    job = f"/{kind}/J-1"
    post(client, f"/{kind}", order_body("J-1", lines=LINES))
    held = post(client, f"{job}/progress-billings", {"percent": "30"})["invoice"]  # 600.03 over the codes
    first = post(client, f"{job}/final-invoice")["invoice"]
    assert_closed(client, job)
    void(client, first["invoice_id"])
    # reopened: the deposit and its tax are held again, as before the final
    tb = balances(client)
    held_tax = {t["account"]: D(t["amount"]) for t in held["tax"]}
    assert (D(tb["2200"]), D(tb["2207"])) == (-held_tax["2200"], -held_tax["2207"])
    assert (D(tb["2400"]), D(tb["1200"]), tb["4000"]) == (-D(held["subtotal"]), D(held["total"]), "0.00")
    second_deposit = post(client, f"{job}/progress-billings", {"amount": "100.00"})["invoice"]
    second = post(client, f"{job}/final-invoice")["invoice"]
    assert deposits(second) == [held["invoice_id"], second_deposit["invoice_id"]]
    assert D(second["total"]) == GROSS - D(held["total"]) - D(second_deposit["total"])
    assert_closed(client, job)


def test_a_taxed_deposit_voided_before_the_final_is_not_reversed_by_it(client, kind):
    settings(client, tax_on_deposits=True)
    job = f"/{kind}/J-1"
    post(client, f"/{kind}", order_body("J-1", lines=LINES))
    wrong = post(client, f"{job}/progress-billings", {"amount": "1500.00"})["invoice"]
    void(client, wrong["invoice_id"])
    kept = post(client, f"{job}/progress-billings", {"percent": "25"})["invoice"]
    final = post(client, f"{job}/final-invoice")["invoice"]
    assert deposits(final) == [kept["invoice_id"]]
    reversed_ = {t["code"]: D(t["amount"]) for t in kept["tax"]}
    assert {t["code"]: D(t["amount"]) for t in final["tax"]} == {c: TAX[c] - reversed_[c] for c in TAX}
    assert D(final["total"]) == GROSS - D(kept["total"])
    assert_closed(client, job)


@pytest.mark.parametrize("first_taxed", [True, False], ids=["turned off", "turned on"])
def test_tax_on_deposits_changed_between_deposits_taxes_each_as_it_was_issued(client, kind, first_taxed):
    settings(client, tax_on_deposits=first_taxed)
    job = f"/{kind}/J-1"
    post(client, f"/{kind}", order_body("J-1", lines=LINES))
    first = post(client, f"{job}/progress-billings", {"amount": "500.00"})["invoice"]
    settings(client, tax_on_deposits=not first_taxed)
    second = post(client, f"{job}/progress-billings", {"amount": "700.00"})["invoice"]
    taxed, untaxed = (first, second) if first_taxed else (second, first)
    assert (untaxed["tax"], untaxed["subtotal"]) == ([], untaxed["total"])
    assert [t["code"] for t in taxed["tax"]] == ["VAT20", "VAT7"] and D(taxed["total"]) > D(taxed["subtotal"])
    final = post(client, f"{job}/final-invoice")["invoice"]
    # balance due = gross revenue - gross deposits (each deposit as it was issued)
    assert D(final["total"]) == GROSS - D(first["total"]) - D(second["total"])
    assert_closed(client, job)


def test_r6_counts_net_amounts_so_a_taxed_deposit_may_bill_the_whole_net(client, kind):
    settings(client, tax_on_deposits=True)
    job = f"/{kind}/J-1"
    post(client, f"/{kind}", order_body("J-1", lines=LINES))
    whole = post(client, f"{job}/progress-billings", {"amount": "2000.09"})["invoice"]
    assert D(whole["total"]) > D("2000.10")  # the gross is more than the job total: allowed
    r = client.post(f"{job}/progress-billings", {"amount": "0.02"})
    assert (r.status, r.json()["error"]["code"]) == (422, "OVERBILLING")
    post(client, f"{job}/progress-billings", {"amount": "0.01"})
    final = post(client, f"{job}/final-invoice")["invoice"]
    assert final["subtotal"] == "0.00"
    assert_closed(client, job)


def test_a_jpy_job_is_taxed_in_whole_yen_to_the_yen(client, kind):
    settings(client, tax_on_deposits=True)
    job = f"/{kind}/J-Y"
    lines = [taxed_line("1", "1", "33333", "VAT20"), taxed_line("2", "1", "10001", "VAT7")]
    post(client, f"/{kind}", order_body("J-Y", currency="JPY", lines=lines))
    for _ in range(3):
        deposit = post(client, f"{job}/progress-billings", {"amount": "14444"})["invoice"]
        assert all("." not in t["amount"] and "." not in t["base"] for t in deposit["tax"])
    post(client, f"{job}/final-invoice")
    assert lifetime_tax(client, job) == {"VAT20": tax_on("33333", "20", "1"), "VAT7": tax_on("10001", "7", "1")}
    tb = balances(client)
    assert (tb["2200"], tb["2207"], tb["2400"]) == (
        f"-{tax_on('33333', '20', '1')}",
        f"-{tax_on('10001', '7', '1')}",
        "0",
    )


# ---- without tax ----------------------------------------------------------------------------------


@pytest.mark.parametrize("codes", [False, True], ids=["no tax codes", "untaxed lines"])
def test_without_tax_every_invoice_has_no_tax_and_its_subtotal_is_its_total(client, codes):
    """R16's default: no tax codes (or lines that name none, even with tax on deposits): deposit,
    shipment, final and credit note invoices carry ``tax: []``, and the ledger has no tax account."""
    if codes:
        settings(client, tax_on_deposits=True)
    assert client.put("/settings", {"auto_invoice_on_shipment": True}).status == 200
    post(client, "/orders", order_body("SO-1", lines=[taxed_line("1", "10", "100.00", None)]))
    ship(shipment_message("SH-1", "SO-1", lines=[{"line_id": "1", "quantity": "2"}]))
    post(client, "/projects", order_body("P-1", lines=[taxed_line("1", "10", "100.00", None)]))
    deposit = post(client, "/projects/P-1/progress-billings", {"percent": "25"})["invoice"]
    void(client, deposit["invoice_id"])
    post(client, "/projects/P-1/progress-billings", {"percent": "50"})
    for job in ("/orders/SO-1", "/projects/P-1"):
        final = post(client, f"{job}/final-invoice")["invoice"]
        void(client, final["invoice_id"])
        post(client, f"{job}/final-invoice")
    seen = job_invoices(client, "/orders/SO-1") + job_invoices(client, "/projects/P-1")
    assert {i["type"] for i in seen} == {"deposit", "shipment", "final", "credit_note"}
    assert all(i["tax"] == [] and i["subtotal"] == i["total"] for i in seen)
    assert set(balances(client)) == {"1200", "2400", "4000"}


# ---- several taxes on one account ----------------------------------------------------------------


def test_two_tax_codes_may_post_to_one_tax_account(client, kind):
    """One VAT control account for every rate (a common chart of accounts): an invoice taxing both codes
    posts one line for it, and the account ends at minus the job's tax."""
    vat5 = {"name": "VAT 5%", "rate": "5", "account": "2200"}
    settings(client, tax_on_deposits=True, tax_codes={"VAT20": VAT20, "VAT5": vat5})
    job = f"/{kind}/J-1"
    lines = [taxed_line("1", "1", "1000.00", "VAT20"), taxed_line("2", "1", "1000.00", "VAT5")]
    post(client, f"/{kind}", order_body("J-1", lines=lines))
    deposit = post(client, f"{job}/progress-billings", {"amount": "1000.00"})["invoice"]
    assert [(t["code"], t["amount"]) for t in deposit["tax"]] == [("VAT20", "100.00"), ("VAT5", "25.00")]
    entry = client.get(f"{job}/ledger").json()["items"][0]
    assert [(ln["account"], ln["credit"]) for ln in entry["lines"] if ln["account"] == "2200"] == [("2200", "125.00")]
    final = post(client, f"{job}/final-invoice")["invoice"]
    assert final["total"] == "1125.00"  # 2,000.00 + 250.00, less the deposit's 1,125.00
    assert balances(client)["2200"] == "-250.00"


def test_a_tax_code_renamed_mid_job_is_shown_and_posted_under_its_name_now(client, kind):
    settings(client)
    job = f"/{kind}/J-1"
    post(client, f"/{kind}", order_body("J-1", lines=[taxed_line("1", "1", "1000.00", "VAT20")]))
    settings(client, tax_codes={"VAT20": {**VAT20, "name": "Standard rate"}})
    added = {"line_id": "2", "item_code": "EXTRA", "quantity": "1", "unit_price": "500.00", "tax_code": "VAT20"}
    post(client, f"{job}/change-orders", {"reason": "more", "lines": [added]})
    final = post(client, f"{job}/final-invoice")["invoice"]
    assert [(t["name"], t["base"], t["amount"]) for t in final["tax"]] == [("Standard rate", "1500.00", "300.00")]
    tb = {a["account"]: a for a in client.get("/ledger/trial-balance").json()["accounts"]}
    assert (tb["2200"]["account_name"], tb["2200"]["balance"]) == ("Standard rate", "-300.00")


def test_one_code_at_two_rates_is_taxed_at_each_and_posted_to_its_account(client, kind):
    """A line added after the code's rate changed captures the new rate: the job's lines are taxed at
    each rate, rounded once per rate, lifetime tax exact per rate, both on the code's account."""
    settings(client, tax_on_deposits=True)
    job = f"/{kind}/J-1"
    post(client, f"/{kind}", order_body("J-1", lines=[taxed_line("1", "3", "33.33", "VAT20")]))  # 99.99
    settings(client, tax_codes={"VAT20": {**VAT20, "rate": "21"}})
    added = {"line_id": "2", "item_code": "EXTRA", "quantity": "3", "unit_price": "33.33", "tax_code": "VAT20"}
    post(client, f"{job}/change-orders", {"reason": "more", "lines": [added]})
    for _ in range(3):
        post(client, f"{job}/progress-billings", {"percent": "33.3333"})
    final = post(client, f"{job}/final-invoice")["invoice"]
    assert {t["rate"] for t in final["tax"]} <= {"20", "21"}
    per_rate: dict[str, Decimal] = {}
    for inv in job_invoices(client, job):
        for t in inv["tax"]:
            per_rate[t["rate"]] = per_rate.get(t["rate"], D(0)) + D(t["amount"])
    assert per_rate == {"20": tax_on("99.99", "20"), "21": tax_on("99.99", "21")}  # 20.00 and 21.00
    assert balances(client)["2200"] == "-41.00"


def test_every_invoice_s_tax_lines_agree_with_its_entry_account_by_account(client, kind):
    """What an accountant reconciles: the tax an invoice shows on each account is what its journal entry
    posts there, also for a final (and its credit note) reversing a deposit taxed on a code's old account."""
    settings(client, tax_on_deposits=True)
    job = f"/{kind}/J-1"
    post(client, f"/{kind}", order_body("J-1", lines=[taxed_line("1", "10", "100.00", "VAT20")]))
    post(client, f"{job}/progress-billings", {"amount": "300.00"})
    settings(client, tax_codes={"VAT20": {**VAT20, "account": "2201"}})
    final = post(client, f"{job}/final-invoice")["invoice"]
    void(client, final["invoice_id"])
    entries = {e["invoice_id"]: e for e in client.get(f"{job}/ledger").json()["items"]}
    for inv in job_invoices(client, job):
        shown: dict[str, Decimal] = {}
        for t in inv["tax"]:
            shown[t["account"]] = shown.get(t["account"], D(0)) + D(t["amount"])
        posted = {
            ln["account"]: D(ln["credit"]) - D(ln["debit"])
            for ln in entries[inv["invoice_id"]]["lines"]
            if ln["account"] in ("2200", "2201")
        }
        assert {k: v for k, v in shown.items() if v} == posted, (inv["type"], inv["tax"])
