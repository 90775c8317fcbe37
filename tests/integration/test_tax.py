"""R16 tax through the handlers, for orders and projects: the Done-when figures of issue 11, the
settings' tax codes (what PUT /settings refuses, replaces and merges) and the tax code of a job's lines
(checked; its rate captured when a line is registered or added, kept whatever the settings say
later; posted to the code's account).
Corrections with tax: ``test_tax_corrections.py``."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from billing import limits as L
from local.fixtures import CLERK, READER, job_line, order_body, ship, shipment_message
from tests.conftest import table_snapshot

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


# ---- settings: what PUT /settings refuses, and how it changes tax codes and the company -------------

GOOD = {"tax_codes": {"VAT20": VAT20, "VAT7": VAT7}, "tax_on_deposits": True,
        "company": {"name": "Acme Ltd", "address": "1 Main St", "tax_id": "GB123456789"}}  # fmt: skip


def with_vat20(**changed: Any) -> dict[str, Any]:
    return {"tax_codes": {"VAT20": {**VAT20, **changed}}}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (with_vat20(rate="150"), "tax_codes.VAT20.rate"),
        (with_vat20(rate="100.0001"), "tax_codes.VAT20.rate"),
        (with_vat20(rate="-1"), "tax_codes.VAT20.rate"),
        (with_vat20(rate="20.00001"), "tax_codes.VAT20.rate"),  # 5 decimals
        (with_vat20(rate=20), "tax_codes.VAT20.rate"),  # a JSON number (R10)
        (with_vat20(rate="twenty"), "tax_codes.VAT20.rate"),
        (with_vat20(name=""), "tax_codes.VAT20.name"),
        (with_vat20(account="22 00"), "tax_codes.VAT20.account"),
        ({"tax_codes": {"VAT 20": VAT20}}, "tax_codes.VAT 20.[key]"),
        ({"tax_codes": {"V" * (L.TAX_CODE_MAX + 1): VAT20}}, f"tax_codes.{'V' * (L.TAX_CODE_MAX + 1)}.[key]"),
        ({"tax_codes": {f"C{i}": VAT20 for i in range(L.TAX_CODES_MAX + 1)}}, "tax_codes"),
        (with_vat20(account="1200"), "tax_codes.VAT20.account"),
        (with_vat20(account="2400"), "tax_codes.VAT20.account"),
        (with_vat20(account="4000"), "tax_codes.VAT20.account"),
        ({"accounts": {"receivable": "2200"}}, "tax_codes.VAT20.account"),  # an account moved onto a tax account
        ({"accounts": {"customer_deposits": "2207"}}, "tax_codes.VAT7.account"),
        ({"company": {"name": "n" * (L.COMPANY_NAME_MAX + 1)}}, "company.name"),
        ({"company": {"address": "a" * (L.ADDRESS_MAX + 1)}}, "company.address"),
        ({"company": {"tax_id": "t" * (L.TAX_ID_MAX + 1)}}, "company.tax_id"),
        (with_vat20(extra="x"), "tax_codes.VAT20.extra"),
        ({"company": {"phone": "555"}}, "company.phone"),
        ({"taxes": {}}, "taxes"),
        ({"tax_on_deposits": "yes"}, "tax_on_deposits"),
    ],
)
def test_settings_that_break_a_tax_rule_are_refused_naming_the_field_and_change_nothing(client, body, field):
    settings(client, **GOOD)
    before, shown = table_snapshot(), client.get("/settings").json()
    r = client.put("/settings", body)
    assert (r.status, r.json()["error"]["code"]) == (422, "VALIDATION_ERROR"), r.body
    assert field in [d["field"] for d in r.json()["error"]["details"]]
    assert table_snapshot() == before
    assert client.get("/settings").json() == shown


def test_the_limits_themselves_are_accepted(client):
    codes = {f"C{i}": {"name": f"Rate {i}", "rate": "0" if i == 0 else "12.3456", "account": f"22{i:02d}"}
             for i in range(L.TAX_CODES_MAX - 2)}  # fmt: skip
    codes["T" * L.TAX_CODE_MAX] = {"name": "n" * L.ACCOUNT_NAME_MAX, "rate": "100", "account": "9" * L.ACCOUNT_CODE_MAX}
    codes["VAT20"] = VAT20
    company = {"name": "n" * L.COMPANY_NAME_MAX, "address": "a" * L.ADDRESS_MAX, "tax_id": "t" * L.TAX_ID_MAX}
    r = client.put("/settings", {"tax_codes": codes, "company": company})
    assert r.status == 200, r.body
    assert (r.json()["tax_codes"], r.json()["company"]) == (codes, company)
    assert client.get("/settings").json()["tax_codes"] == codes


def test_a_rate_is_kept_in_its_shortest_form_and_lines_capture_it_so(client):
    r = client.put("/settings", {"tax_codes": {"VAT20": {**VAT20, "rate": "20.5000"}, "VAT7": {**VAT7, "rate": "7.0"}}})
    assert r.status == 200, r.body
    assert {k: v["rate"] for k, v in client.get("/settings").json()["tax_codes"].items()} == {
        "VAT20": "20.5",
        "VAT7": "7",
    }
    job = post(client, "/orders", order_body("SO-1", lines=[taxed_line("1", "1", "100.00", "VAT20")]))
    assert (job["lines"][0]["tax_rate"], job["total"]) == ("20.5", "100.00")


def test_tax_codes_are_replaced_whole_and_the_company_is_merged_field_by_field(client):
    settings(client, **GOOD)
    r = client.put("/settings", {"tax_codes": {"VAT7": {**VAT7, "rate": "8"}}, "company": {"tax_id": "GB999"}})
    assert r.status == 200, r.body
    got = client.get("/settings").json()
    assert got["tax_codes"] == {"VAT7": {**VAT7, "rate": "8"}}  # VAT20, left out, is removed
    assert got["company"] == {"name": "Acme Ltd", "address": "1 Main St", "tax_id": "GB999"}
    assert client.put("/settings", {"auto_invoice_on_shipment": True}).status == 200  # omitted: kept
    kept = client.get("/settings").json()
    assert (kept["tax_codes"], kept["company"], kept["tax_on_deposits"]) == (got["tax_codes"], got["company"], True)
    r = client.post("/orders", order_body("SO-1", lines=[taxed_line("1", "1", "1.00", "VAT20")]))
    assert (r.status, r.json()["error"]["details"][0]["field"]) == (422, "lines[0].tax_code")
    assert client.put("/settings", {"tax_codes": {}}).json()["tax_codes"] == {}


def test_what_get_settings_returned_is_accepted_back_with_its_tax_codes_and_company(client):
    settings(client, **GOOD)
    shown = client.get("/settings").json()
    r = client.put("/settings", shown)
    assert r.status == 200, r.body
    again = r.json()
    assert again["version"] == shown["version"] + 1
    assert {k: again[k] for k in ("tax_codes", "tax_on_deposits", "company")} == {k: GOOD[k] for k in GOOD}


@pytest.mark.parametrize("who", [CLERK, READER], ids=["clerk", "reader"])
def test_only_an_admin_may_change_tax_codes_even_before_the_body_is_read(client, who):
    settings(client, **GOOD)
    before = table_snapshot()
    bodies: list[dict[str, Any]] = [{"tax_codes": {}}, with_vat20(rate="150")]
    for body in bodies:
        r = client.put("/settings", body, claims=who)
        assert (r.status, r.json()["error"]["code"]) == (403, "FORBIDDEN")
    assert table_snapshot() == before


def test_a_stale_version_with_tax_fields_is_a_conflict_and_changes_nothing(client):
    version = client.get("/settings").json()["version"]
    first = client.put("/settings", {**GOOD, "version": version})
    assert first.status == 200, first.body
    before = table_snapshot()
    r = client.put("/settings", {"tax_codes": {"GST": VAT7}, "company": {"name": "Other"}, "version": version})
    assert (r.status, r.json()["error"]["code"]) == (409, "CONFLICT")
    assert table_snapshot() == before
    fresh = client.get("/settings").json()
    assert client.put("/settings", {"tax_codes": {"GST": VAT7}, "version": fresh["version"]}).status == 200


# ---- lines: a tax code is checked and captured when a line is registered or added -------------------


def test_an_unknown_tax_code_at_registration_names_its_line_and_writes_nothing(client, kind):
    settings(client)
    before = table_snapshot()
    lines = [taxed_line("1", "1", "1.00", "VAT20"), taxed_line("2", "1", "1.00", "VAT21")]
    r = client.post(f"/{kind}", order_body("J-X", lines=lines))
    assert (r.status, [d["field"] for d in r.json()["error"]["details"]]) == (422, ["lines[1].tax_code"])
    assert table_snapshot() == before


def new_line(line_id: str, price: str, code: str | None) -> dict[str, Any]:
    line = {"line_id": line_id, "item_code": "EXTRA", "description": "Extra", "quantity": "1", "unit_price": price}
    return {**line, "tax_code": code} if code else line


def change(client: Any, job: str, lines: list[dict[str, Any]]) -> Any:
    return client.post(f"{job}/change-orders", {"reason": "scope", "date": "2026-12-02", "lines": lines})


def captured(line: dict[str, Any]) -> tuple[Any, ...]:
    """What a job line shows of its tax (R16): its code and the rate it captured."""
    return line["tax_code"], line["tax_rate"]


@pytest.mark.parametrize(
    ("lines", "field"),
    [
        ([{"line_id": "1", "quantity": "2"}, new_line("9", "5.00", "GST")], "lines[1].tax_code"),  # unknown
        ([{"line_id": "1", "tax_code": "VAT7"}], "lines[0].tax_code"),  # another code
        ([{"line_id": "2", "quantity": "3"}, {"line_id": "3", "tax_code": "VAT20"}], "lines[1].tax_code"),  # untaxed
    ],
    ids=["unknown code on a new line", "another code on a taxed line", "a code on an untaxed line"],
)
def test_a_change_order_refuses_a_tax_code_it_cannot_apply_and_changes_nothing(client, kind, lines, field):
    settings(client)
    body = [taxed_line("1", "10", "100.00", "VAT20"), taxed_line("2", "1", "50.00", None),
            taxed_line("3", "1", "50.00", None)]  # fmt: skip
    post(client, f"/{kind}", order_body("J-1", lines=body))
    before = table_snapshot()
    r = change(client, f"/{kind}/J-1", lines)
    assert (r.status, [d["field"] for d in r.json()["error"]["details"]]) == (422, [field]), r.body
    assert table_snapshot() == before


def test_a_change_order_may_repeat_a_line_s_code_and_a_new_line_captures_its_rate(client, kind):
    settings(client, tax_on_deposits=True)
    job = f"/{kind}/J-1"
    post(client, f"/{kind}", order_body("J-1", lines=[taxed_line("1", "10", "100.00", "VAT20")]))
    done = post(client, f"{job}/change-orders", {"reason": "more", "lines": [
        {"line_id": "1", "quantity": "12", "tax_code": "VAT20"}, new_line("2", "500.00", "VAT7")]})  # fmt: skip
    lines = {ln["line_id"]: ln for ln in done["job"]["lines"]}
    assert (captured(lines["1"]), captured(lines["2"])) == (("VAT20", "20"), ("VAT7", "7"))
    assert [captured(ln) for ln in done["change_order"]["lines_after"]] == [("VAT20", "20"), ("VAT7", "7")]
    assert [captured(ln) for ln in client.get(job).json()["lines"]] == [("VAT20", "20"), ("VAT7", "7")]
    deposit = post(client, f"{job}/progress-billings", {"amount": "1700.00"})["invoice"]
    # 1,700.00 over 1,200.00 at 20% and 500.00 at 7%, all of it: each part taxed at its rate
    assert [(t["code"], t["base"], t["amount"]) for t in deposit["tax"]] == [
        ("VAT20", "1200.00", "240.00"), ("VAT7", "500.00", "35.00")]  # fmt: skip
    final = post(client, f"{job}/final-invoice")["invoice"]
    assert final["total"] == "0.00"
    tb = balances(client)
    assert (tb["2200"], tb["2207"], tb["1200"]) == ("-240.00", "-35.00", "1975.00")


def test_a_line_keeps_the_rate_it_captured_whatever_the_settings_say_later(client, kind):
    """R16: a line's rate is captured when it is registered or added: a later rate in the settings, or
    the code removed from them, changes neither the line nor its invoices (nor a change order on it);
    a line registered later captures the new rate. A removed code still posts to the account (and
    under the name) it had when the job's lines captured it."""
    settings(client, tax_on_deposits=True)
    post(client, f"/{kind}", order_body("J-1", lines=[taxed_line("1", "10", "100.00", "VAT20")]))
    settings(client, tax_codes={"VAT20": {**VAT20, "rate": "25.000"}})  # kept as "25"
    later = post(client, f"/{kind}", order_body("J-2", lines=[taxed_line("1", "10", "100.00", "VAT20")]))
    assert captured(later["lines"][0]) == ("VAT20", "25")
    first = post(client, f"/{kind}/J-1/progress-billings", {"amount": "500.00"})["invoice"]
    assert [(t["rate"], t["base"], t["amount"]) for t in first["tax"]] == [("20", "500.00", "100.00")]
    settings(client, tax_codes={})  # the code removed: the lines still have it
    changed = change(client, f"/{kind}/J-1", [{"line_id": "1", "quantity": "20", "tax_code": "VAT20"}])
    assert changed.status == 201, changed.body
    assert captured(changed.json()["job"]["lines"][0]) == ("VAT20", "20")
    final = post(client, f"/{kind}/J-1/final-invoice")["invoice"]
    # tax on 2,000.00 at 20% (400.00), less the deposit's 100.00: 1,500.00 + 300.00 due
    assert [(t["code"], t["name"], t["rate"], t["account"], t["base"], t["amount"]) for t in final["tax"]] == [
        ("VAT20", "VAT 20%", "20", "2200", "1500.00", "300.00")]  # fmt: skip
    assert final["total"] == "1800.00"
    assert [(t["rate"], t["amount"]) for t in post(client, f"/{kind}/J-2/final-invoice")["invoice"]["tax"]] == [
        ("25", "250.00")]  # fmt: skip
    tb = balances(client)
    assert (tb["2200"], tb["2400"]) == ("-650.00", "0.00")


def test_tax_posts_to_its_code_s_account_now_and_each_deposit_s_tax_is_reversed_where_it_was_posted(client, kind):
    """R16 and R7: a code moved to another account (and renamed) posts later invoices' tax there, while
    a credit note or the final takes each deposit's tax back from the account it was posted to: no
    account keeps a stray balance."""
    settings(client, tax_on_deposits=True)
    job = f"/{kind}/J-1"
    post(client, f"/{kind}", order_body("J-1", lines=[taxed_line("1", "10", "100.00", "VAT20")]))
    before = post(client, f"{job}/progress-billings", {"amount": "300.00"})["invoice"]
    settings(client, tax_codes={"VAT20": {"name": "Standard rate", "rate": "20", "account": "2201"}})
    after = post(client, f"{job}/progress-billings", {"amount": "200.00"})["invoice"]
    assert [(t["name"], t["account"], t["amount"]) for t in before["tax"]] == [("VAT 20%", "2200", "60.00")]
    assert [(t["name"], t["account"], t["amount"]) for t in after["tax"]] == [("Standard rate", "2201", "40.00")]
    credit = post(client, f"/invoices/{before['invoice_id']}/void", {"reason": "wrong"})["credit_note"]
    assert [(t["account"], t["amount"]) for t in credit["tax"]] == [("2200", "-60.00")]
    assert balances(client)["2200"] == "0.00"
    final = post(client, f"{job}/final-invoice")["invoice"]
    # its own 200.00 (20% of 1,000.00) on 2201, less the live deposit's 40.00 taken back from 2201
    assert [(t["name"], t["base"], t["amount"]) for t in final["tax"]] == [("Standard rate", "800.00", "160.00")]
    entry = {e["invoice_id"]: e for e in client.get(f"{job}/ledger").json()["items"]}[final["invoice_id"]]
    assert {(ln["account"], ln["debit"], ln["credit"]) for ln in entry["lines"]} == {
        ("2400", "200.00", "0.00"), ("1200", "960.00", "0.00"), ("4000", "0.00", "1000.00"),
        ("2201", "0.00", "160.00")}  # fmt: skip
    tb = balances(client)
    assert (tb["2200"], tb["2201"], tb["2400"], tb["1200"]) == ("0.00", "-200.00", "0.00", "1200.00")


def jobs_stored() -> list[dict[str, Any]]:
    """Every item of every job's partition (the settings aside)."""
    return [i for i in table_snapshot() if i["pk"]["S"].startswith("JOB#")]


def eleven_codes() -> dict[str, dict[str, str]]:
    return {
        f"T{i}": {"name": f"Tax {i}", "rate": str(i + 1), "account": f"22{i:02d}"}
        for i in range(L.TAX_RATES_PER_JOB + 1)
    }


def test_a_job_may_use_at_most_ten_tax_rates(client, kind):
    settings(client, tax_codes=eleven_codes())
    ten = [taxed_line(str(i), "1", "10.00", f"T{i}") for i in range(L.TAX_RATES_PER_JOB)]
    before = table_snapshot()
    r = client.post(f"/{kind}", order_body("J-11", lines=[*ten, taxed_line("10", "1", "10.00", "T10")]))
    assert (r.status, r.json()["error"]["details"][0]["field"]) == (422, "lines")
    assert table_snapshot() == before
    job = post(client, f"/{kind}", order_body("J-10", lines=[*ten, taxed_line("u", "1", "10.00", None)]))
    assert len({ln["tax_code"] for ln in job["lines"]} - {None}) == L.TAX_RATES_PER_JOB  # untaxed lines do not count
    before = jobs_stored()
    r = change(client, f"/{kind}/J-10", [new_line("10", "5.00", "T10")])
    assert (r.status, r.json()["error"]["details"][0]["field"]) == (422, "lines")
    # the same code captured at another rate is another rate
    settings(client, tax_codes={**eleven_codes(), "T0": {"name": "Tax 0", "rate": "1.5", "account": "2200"}})
    r = change(client, f"/{kind}/J-10", [new_line("11", "5.00", "T0")])
    assert (r.status, r.json()["error"]["details"][0]["field"]) == (422, "lines")
    assert jobs_stored() == before
    assert change(client, f"/{kind}/J-10", [new_line("12", "5.00", "T1")]).status == 201  # a rate it has
