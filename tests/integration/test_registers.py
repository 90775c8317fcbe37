"""R18 registers through the handlers: the invoice register (GET /invoices), the journal
(GET /ledger/entries, JSON and CSV) and the automation's runs (GET /automation/runs): filters, bounds,
order, paging without loss or duplicates, refusals, and a cost that grows with the page, not the table."""

from __future__ import annotations

import base64
import csv
import io
import json
from typing import Any
from urllib.parse import urlencode

import pytest

from local.fixtures import READER, order_body, run_automation, scheduled_event, ship, shipment_message
from local.metering import meter

CUSTOMERS = {"SO-A": "C-1", "SO-B": "C-2", "PRJ-C": "C-1"}


def ok(response: Any) -> Any:
    assert response.status == 200, (response.status, response.body)
    return response.json()


def refused(response: Any, status: int, code: str, field: str | None = None) -> None:
    assert response.status == status, (response.status, response.body)
    error = response.json()["error"]
    assert error["code"] == code
    if field is not None:
        assert field in [d.get("field") for d in error["details"]], error


def register_job(client: Any, job_id: str, customer_id: str, segment: str = "orders") -> str:
    body = {**order_body(job_id), "customer_id": customer_id}
    body["lines"][0]["quantity"] = "1000"  # 100,000.00: room for many deposits
    assert client.post(f"/{segment}", body).status == 201
    return f"/{segment}/{job_id}"


def deposit(client: Any, job: str, date: str, amount: str = "10.00") -> dict[str, Any]:
    r = client.post(f"{job}/progress-billings", {"invoice_date": date, "amount": amount, "title": f"on {date}"})
    assert r.status == 201, r.body
    invoice: dict[str, Any] = r.json()["invoice"]
    return invoice


def register(client: Any, **params: Any) -> Any:
    return client.get("/invoices", query=urlencode({k.rstrip("_"): v for k, v in params.items()}))


def all_pages(client: Any, path: str, **params: Any) -> tuple[list[dict[str, Any]], int]:
    """Every item of a paged list, following next_token; and how many pages it took."""
    items, token, pages = [], None, 0
    while True:
        query = {k.rstrip("_"): v for k, v in params.items()}
        if token:
            query["next_token"] = token
        page = ok(client.get(path, query=urlencode(query)))
        items += page["items"]
        pages += 1
        token = page["next_token"]
        if not token:
            return items, pages
        assert pages < 100


@pytest.fixture
def books(client):
    """Three jobs of two customers; deposits from November 2026 to January 2027, a final and a void."""
    a, b = register_job(client, "SO-A", "C-1"), register_job(client, "SO-B", "C-2")
    c = register_job(client, "PRJ-C", "C-1", "projects")
    made = [
        deposit(client, a, "2026-11-30"),
        deposit(client, b, "2026-12-01"),
        deposit(client, c, "2026-12-01"),
        deposit(client, a, "2026-12-15"),
        deposit(client, b, "2026-12-31"),
        deposit(client, c, "2027-01-01"),
        deposit(client, a, "2026-11-02"),  # back-dated: issued last, dated first
    ]
    final = client.post(f"{b}/final-invoice", {"invoice_date": "2027-01-05"})
    assert final.status == 201, final.body
    r = client.post(f"/invoices/{made[3]['invoice_id']}/void", {"reason": "wrong", "void_date": "2027-01-10"})
    assert r.status == 201, r.body
    return {"deposits": made, "final": final.json()["invoice"], "credit_note": r.json()["credit_note"]}


def keyed(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(i["invoice_date"], i["number"]) for i in items]


# ---- the invoice register ----------------------------------------------------------------------


def test_the_register_lists_every_invoice_across_jobs_by_date_then_number(client, books):
    items = ok(register(client, limit=100))["items"]
    assert len(items) == 9  # 7 deposits, a final, a credit note
    assert keyed(items) == sorted(keyed(items))
    assert items[0]["invoice_date"] == "2026-11-02" and items[-1]["type"] == "credit_note"
    assert {(i["kind"], i["job_id"]) for i in items} == {("order", "SO-A"), ("order", "SO-B"), ("project", "PRJ-C")}
    # each is the invoice GET /invoices/{id} answers with
    for item in items:
        assert item == ok(client.get(f"/invoices/{item['invoice_id']}"))


def test_a_voided_invoice_shows_voided_and_its_credit_note_is_listed(client, books):
    voided_id = books["deposits"][3]["invoice_id"]
    items = {i["invoice_id"]: i for i in ok(register(client))["items"]}
    assert items[voided_id]["status"] == "voided"
    assert items[voided_id]["voided_by_invoice_id"] == books["credit_note"]["invoice_id"]
    credit = items[books["credit_note"]["invoice_id"]]
    assert (credit["type"], credit["voids_invoice_id"], credit["invoice_date"]) == (
        "credit_note",
        voided_id,
        "2027-01-10",
    )
    assert [i["invoice_id"] for i in ok(register(client, status="voided"))["items"]] == [voided_id]
    assert [i["invoice_id"] for i in ok(register(client, type="credit_note"))["items"]] == [
        books["credit_note"]["invoice_id"]
    ]


def test_date_bounds_are_inclusive_and_either_may_be_absent(client, books):
    dates = [i["invoice_date"] for i in ok(register(client, from_="2026-12-01", to="2026-12-31"))["items"]]
    assert dates == ["2026-12-01", "2026-12-01", "2026-12-15", "2026-12-31"]
    assert [i["invoice_date"] for i in ok(register(client, to="2026-11-30"))["items"]] == ["2026-11-02", "2026-11-30"]
    assert [i["invoice_date"] for i in ok(register(client, from_="2027-01-05"))["items"]] == [
        "2027-01-05",
        "2027-01-10",
    ]
    assert ok(register(client, from_="2026-12-02", to="2026-12-14"))["items"] == []
    assert ok(register(client, from_="2025-01-01", to="2025-12-31")) == {"items": [], "next_token": None}


def test_each_filter_and_their_combinations(client, books):
    everything = ok(register(client, limit=100))["items"]

    def ids(**params: Any) -> list[str]:
        return [i["invoice_id"] for i in ok(register(client, limit=100, **params))["items"]]

    def expected(pred: Any) -> list[str]:
        return [i["invoice_id"] for i in everything if pred(i)]

    assert ids(type="deposit") == expected(lambda i: i["type"] == "deposit") and len(ids(type="deposit")) == 7
    assert ids(type="final") == [books["final"]["invoice_id"]]
    assert ids(type="shipment") == []
    assert ids(status="issued") == expected(lambda i: i["status"] == "issued")
    assert ids(customer_id="C-1") == expected(lambda i: i["customer_id"] == "C-1")
    assert ids(customer_id="C-2") == expected(lambda i: i["customer_id"] == "C-2")
    assert ids(customer_id="C-404") == []
    assert ids(customer_id="C-1", type="deposit", status="issued", from_="2026-12-01", to="2026-12-31") == [
        books["deposits"][2]["invoice_id"]  # PRJ-C's of 12-01; SO-A's of 12-15 is voided
    ]
    assert ids(customer_id="C-1", from_="2026-12-01", to="2027-01-01") == expected(
        lambda i: i["customer_id"] == "C-1" and "2026-12-01" <= i["invoice_date"] <= "2027-01-01"
    )
    assert ids(type="deposit", status="voided", from_="2026-12-15", to="2026-12-15") == [
        books["deposits"][3]["invoice_id"]
    ]


def test_shipment_invoices_are_in_the_register(client):
    client.put("/settings", {"auto_invoice_on_shipment": True})
    client.post("/orders", order_body("SO-S"))
    assert ship(shipment_message("SH-1", "SO-S", ship_date="2026-11-27")) == {"batchItemFailures": []}
    (item,) = ok(register(client, type="shipment"))["items"]
    assert (item["shipment_id"], item["invoice_date"], item["job_id"]) == ("SH-1", "2026-11-27", "SO-S")


PAGED_QUERIES = [{}, {"customer_id": "C-1"}, {"type": "deposit"}, {"from_": "2026-11-15", "to": "2027-01-06"},
                 {"status": "issued"}, {"customer_id": "C-1", "type": "deposit", "from_": "2026-12-01"}]  # fmt: skip


def test_paging_through_the_register_gives_the_whole_list_once(client, books):
    for params in PAGED_QUERIES:
        whole = ok(register(client, limit=100, **params))["items"]
        assert whole, params
        for limit in (1, 2, 3):
            paged, pages = all_pages(client, "/invoices", limit=limit, **params)
            assert [i["invoice_id"] for i in paged] == [i["invoice_id"] for i in whole], (params, limit)
            assert pages >= len(whole) // limit


def test_a_page_stops_at_the_read_cap_with_a_token(client, monkeypatch):
    """A filter that matches little reads at most READ_CAP items per request, then says where to go on."""
    from billing.store import queries

    monkeypatch.setattr(queries, "READ_CAP", 3)
    job = register_job(client, "SO-A", "C-1")
    for day in range(1, 8):
        deposit(client, job, f"2026-12-{day:02d}")
    first = ok(register(client, type="final"))
    assert first["items"] == [] and first["next_token"]
    items, pages = all_pages(client, "/invoices", type="deposit", limit=5)
    assert len(items) == 7 and pages >= 3  # 3 read per request at most


def test_bad_parameters_are_422_naming_the_field(client, books):
    cases = [
        ({"from_": "2026-12-32"}, "from"),
        ({"to": "2026-02-30"}, "to"),
        ({"from_": "yesterday"}, "from"),
        ({"from_": "2026-12-02", "to": "2026-12-01"}, "from"),
        ({"type": "proforma"}, "type"),
        ({"status": "paid"}, "status"),
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"customer_id": "C 1"}, "customer_id"),
    ]
    for params, field in cases:
        refused(register(client, **params), 422, "VALIDATION_ERROR", field)


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        base64.urlsafe_b64encode(b'{"month": "2026-12", "key": {"pk": {"S": "JOB#order#SO-A"}}}').decode(),
        base64.urlsafe_b64encode(b'{"month": "1999-01", "key": null}').decode(),
        base64.urlsafe_b64encode(b'{"month": null, "key": null}').decode(),
        base64.urlsafe_b64encode(b"[1, 2]").decode(),
    ],
)
def test_a_forged_token_is_400(client, books, token):
    refused(register(client, next_token=token, from_="2026-11-01"), 400, "BAD_REQUEST", "next_token")


def test_a_token_of_another_query_is_400(client, books):
    dated = ok(register(client, limit=1))["next_token"]
    customer = ok(register(client, limit=1, customer_id="C-1"))["next_token"]
    entries = ok(client.get("/ledger/entries", query="limit=1"))["next_token"]
    runs = _runs_token(client)
    refused(register(client, next_token=customer), 400, "BAD_REQUEST", "next_token")
    refused(register(client, next_token=dated, customer_id="C-1"), 400, "BAD_REQUEST", "next_token")
    refused(register(client, next_token=customer, customer_id="C-2"), 400, "BAD_REQUEST", "next_token")
    refused(register(client, next_token=entries), 400, "BAD_REQUEST", "next_token")
    refused(register(client, next_token=dated, from_="2027-01-01"), 400, "BAD_REQUEST", "next_token")
    refused(client.get("/ledger/entries", query=urlencode({"next_token": dated})), 400, "BAD_REQUEST")
    refused(client.get("/automation/runs", query=urlencode({"next_token": dated})), 400, "BAD_REQUEST")
    refused(register(client, next_token=runs), 400, "BAD_REQUEST", "next_token")


def _runs_token(client: Any) -> str:
    for day in (1, 2):
        run_automation({"business_date": f"2026-12-0{day}"})
    token: str = ok(client.get("/automation/runs", query="limit=1"))["next_token"]
    return token


@pytest.mark.parametrize("path", ["/invoices", "/ledger/entries", "/automation/runs"])
def test_any_signed_in_user_may_read_the_registers_and_nobody_else(client, books, path):
    assert client.get(path, claims=READER).status == 200
    refused(client.get(path, claims=None), 401, "UNAUTHORIZED")


def test_the_registers_read_only_what_they_return(client):
    """No Scan; a page costs what it returns: 30 invoices of other months and another customer add no
    read to a month's page, a customer's page or the journal's page."""
    target = register_job(client, "SO-A", "C-1")
    other = register_job(client, "SO-B", "C-2")
    for day in range(1, 6):
        deposit(client, target, f"2026-12-{day:02d}")

    def cost(path: str = "/invoices", **params: Any) -> tuple[list[str], int, int]:
        query = urlencode({k.rstrip("_"): v for k, v in params.items()})
        with meter() as m:
            n = len(ok(client.get(path, query=query))["items"])
        return m.operations(), m.items_read, n

    december = {"from_": "2026-12-01", "to": "2026-12-31"}

    def costs() -> list[tuple[list[str], int, int]]:
        return [cost(**december), cost(customer_id="C-1"), cost(customer_id="C-1", limit=2),
                cost("/ledger/entries", **december), cost("/ledger/entries", **december, limit=2)]  # fmt: skip

    before = costs()
    for i in range(30):  # other months for the date index, another customer for the customer index
        deposit(client, other, f"2027-{1 + i % 12:02d}-{1 + i // 12:02d}")
    assert (
        costs()
        == before
        == [
            (["Query"], 5, 5),  # within one month: no month read, one Query of its 5 invoices
            (["Query"], 5, 5),
            (["Query"], 2, 2),
            (["Query"], 5, 5),
            (["Query"], 2, 2),
        ]
    )
    # across months: one small Query of the months that have any, then those months only
    ops, read, n = cost(from_="2026-11-01", to="2027-01-31", limit=6)
    assert (ops, read, n) == (["Query", "Query", "Query"], 2 + 6, 6)  # 2 months; 5 of December, 1 of January
    ops, read, n = cost(limit=100)
    assert "Scan" not in ops and n == 35
    assert read == n + 13  # the 13 months that have invoices (December 2026, January-December 2027)


def test_another_customers_invoices_in_the_same_month_add_no_read_to_a_customer_page(client):
    mine, theirs = register_job(client, "SO-A", "C-1"), register_job(client, "SO-B", "C-2")
    for day in range(1, 4):
        deposit(client, mine, f"2026-12-{day:02d}")
    for day in range(1, 11):
        deposit(client, theirs, f"2026-12-{day:02d}")
    with meter() as m:
        page = ok(register(client, customer_id="C-1", from_="2026-12-01", to="2026-12-31"))
    assert len(page["items"]) == 3 and (m.operations(), m.items_read) == (["Query"], 3)


# ---- the journal -------------------------------------------------------------------------------


def entry_rows(entries: list[dict[str, Any]]) -> list[list[str]]:
    return [
        [e["entry_id"], e["date"], e["invoice_id"], e["kind"], e["job_id"], ln["account"], ln["account_name"],
         e["currency"], ln["debit"], ln["credit"]]
        for e in entries
        for ln in e["lines"]
    ]  # fmt: skip


def test_the_journal_lists_every_entry_by_date_with_its_job(client, books):
    entries = ok(client.get("/ledger/entries"))["items"]
    assert len(entries) == 9
    assert [(e["date"], e["entry_id"]) for e in entries] == sorted((e["date"], e["entry_id"]) for e in entries)
    per_job: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for e in entries:
        per_job.setdefault((e["kind"], e["job_id"]), []).append(e)
    for (kind, job_id), listed in per_job.items():
        segment = "orders" if kind == "order" else "projects"
        of_job = ok(client.get(f"/{segment}/{job_id}/ledger"))["items"]
        assert sorted(listed, key=lambda e: e["entry_id"]) == sorted(of_job, key=lambda e: e["entry_id"])
    credit = next(e for e in entries if e["invoice_id"] == books["credit_note"]["invoice_id"])
    assert credit["date"] == "2027-01-10"
    bounded = ok(client.get("/ledger/entries", query="from=2026-12-01&to=2026-12-31"))["items"]
    assert [e["date"] for e in bounded] == ["2026-12-01", "2026-12-01", "2026-12-15", "2026-12-31"]


def test_paging_through_the_journal_gives_every_entry_once(client, books):
    whole = ok(client.get("/ledger/entries", query="limit=1000"))["items"]
    for limit in (1, 4):
        paged, _ = all_pages(client, "/ledger/entries", limit=limit)
        assert paged == whole


def parse_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


CSV_ASKED = [("format=csv", None), ("", "text/csv"), ("", "application/json;q=0.5, text/csv"),
             ("", "text/csv, application/json"), ("format=csv", "application/json")]  # fmt: skip
JSON_ASKED = [("", None), ("", "*/*"), ("", "application/json"), ("", "text/csv;q=0.4, application/json"),
              ("format=json", "text/csv"), ("", "text/*"), ("", "text/csv;q=0"), ("", "text/csv;q=2")]  # fmt: skip


def test_the_journal_as_csv_has_one_row_per_entry_line(client, books):
    entries = ok(client.get("/ledger/entries"))["items"]
    for query, accept in CSV_ASKED:
        r = client.get("/ledger/entries", query=query, headers={"Accept": accept} if accept else None)
        assert r.status == 200 and r.headers["content-type"] == "text/csv; charset=utf-8", (query, accept)
        rows = parse_csv(r.body)
        assert rows[0] == ["entry_id", "date", "invoice_id", "kind", "job_id", "account", "account_name",
                           "currency", "debit", "credit"]  # fmt: skip
        assert rows[1:] == entry_rows(entries)
        assert all(row[8] and row[9] for row in rows[1:])  # a zero side is written as the JSON writes it
        assert "next-token" not in r.headers


def test_the_journal_is_json_unless_csv_is_asked_for(client, books):
    for query, accept in JSON_ASKED:
        r = client.get("/ledger/entries", query=query, headers={"Accept": accept} if accept else None)
        assert r.status == 200 and r.headers["content-type"] == "application/json", (query, accept)
        assert len(r.json()["items"]) == 9


def test_csv_pages_carry_their_token_in_the_next_token_header(client, books):
    json_rows = entry_rows(ok(client.get("/ledger/entries"))["items"])
    rows, token, pages = [], None, 0
    while True:
        query = {"format": "csv", "limit": "2", **({"next_token": token} if token else {})}
        r = client.get("/ledger/entries", query=urlencode(query))
        assert r.status == 200
        page = parse_csv(r.body)
        assert page[0][0] == "entry_id"
        rows += page[1:]
        pages += 1
        token = r.headers.get("next-token")
        if not token:
            break
    assert rows == json_rows and pages == 5


def test_csv_quotes_what_needs_quoting(client):
    client.put("/settings", {"tax_codes": {"V": {"name": 'VAT, "standard"', "rate": "20", "account": "2200"}}})
    body = order_body("SO-Q")
    body["lines"][0]["tax_code"] = "V"
    client.post("/orders", body)
    client.post("/orders/SO-Q/progress-billings", {"amount": "100.00", "invoice_date": "2026-12-01"})
    client.post("/orders/SO-Q/final-invoice", {"invoice_date": "2026-12-02"})
    entries = ok(client.get("/ledger/entries"))["items"]
    r = client.get("/ledger/entries", query="format=csv")
    assert 'VAT, ""standard""' in r.body or '"VAT, ""standard""' in r.body
    assert parse_csv(r.body)[1:] == entry_rows(entries)


def test_journal_refusals(client, books):
    refused(client.get("/ledger/entries", query="format=xml"), 422, "VALIDATION_ERROR", "format")
    refused(client.get("/ledger/entries", query="limit=1001"), 422, "VALIDATION_ERROR", "limit")
    refused(client.get("/ledger/entries", query="from=2026-12-02&to=2026-12-01"), 422, "VALIDATION_ERROR", "from")
    refused(client.get("/ledger/entries", query="to=2026-1-1"), 422, "VALIDATION_ERROR", "to")
    refused(client.get("/ledger/entries", query="next_token=abc"), 400, "BAD_REQUEST", "next_token")


# ---- automation runs ---------------------------------------------------------------------------


def test_each_finished_run_is_listed_newest_first_with_its_counts(client, monkeypatch):
    from billing import automation

    job = register_job(client, "SO-A", "C-1")
    for day in range(1, 6):
        r = client.post(f"{job}/progress-billings", {"invoice_date": f"2026-11-0{day}", "amount": "10.00",
                                                     "schedule": True})  # fmt: skip
        assert r.status == 201
    assert ok(client.get("/automation/runs")) == {"items": [], "next_token": None}
    first = run_automation(scheduled_event("2026-11-02T06:00:00Z"))
    assert first["invoiced"] == 2
    # a run that stops early and hands the rest to a continuation
    continued: list[dict[str, Any]] = []
    monkeypatch.setattr(automation, "_continue", lambda ctx, payload: continued.append(payload))
    from local.fixtures import lambda_context

    clock = iter([25_000] + [0] * 100)
    ctx = lambda_context("AutoGenerateFunction")
    ctx.get_remaining_time_in_millis = lambda: next(clock)  # type: ignore[method-assign]
    automation.run(scheduled_event("2026-12-01T06:00:00Z"), ctx, continue_with=automation._continue)
    run_automation(continued[0])  # the continuation invoices the rest
    runs = ok(client.get("/automation/runs"))["items"]
    assert [(r["business_date"], r["invoiced"], r["failed"], r["skipped"], r["continued"]) for r in runs] == [
        ("2026-12-01", 2, 0, 0, False),  # the continuation
        ("2026-12-01", 1, 0, 0, True),
        ("2026-11-02", 2, 0, 0, False),
    ]
    assert [(r["trigger"], r["continuation"], r["complete"]) for r in runs] == [
        ("continuation", 1, True),
        ("schedule", 0, False),
        ("schedule", 0, True),
    ]
    assert runs[2]["time"] == "2026-11-02T06:00:00Z" and runs[0]["time"] is None
    for run in runs:
        assert run["started_at"] <= run["finished_at"] and run["run_id"]
    assert len({r["run_id"] for r in runs}) == 3


def test_a_manual_rerun_is_listed_and_a_crashed_run_is_not(client):
    with pytest.raises(Exception, match="business_date"):
        run_automation({"business_date": "2026-13-01"})
    assert ok(client.get("/automation/runs"))["items"] == []
    run_automation({"business_date": "2026-12-01"})
    (run,) = ok(client.get("/automation/runs"))["items"]
    assert (run["trigger"], run["invoiced"], run["continued"], run["time"]) == ("manual", 0, False, None)


def test_runs_are_paged_newest_first(client):
    for day in range(1, 6):
        run_automation({"business_date": f"2026-12-0{day}"})
    with meter() as m:
        page = ok(client.get("/automation/runs", query="limit=2"))
    assert (m.operations(), m.items_read) == (["Query"], 2)
    runs, pages = all_pages(client, "/automation/runs", limit=2)
    assert [r["business_date"] for r in runs] == [f"2026-12-0{d}" for d in range(5, 0, -1)] and pages == 3
    assert page["items"] == runs[:2]
    refused(client.get("/automation/runs", query="limit=101"), 422, "VALIDATION_ERROR", "limit")
    forged = base64.urlsafe_b64encode(json.dumps({"pk": {"S": "JOB#order#X"}, "sk": {"S": "#JOB"}}).encode()).decode()
    refused(client.get("/automation/runs", query=urlencode({"next_token": forged})), 400, "BAD_REQUEST")


# ---- review: forged ids, pre-R14 invoices, spreadsheet formulas, a lost run record -------------------


def _forged(token: str, change: Any) -> str:
    """``token`` with its start key changed by ``change`` (as a client could forge it)."""
    outer = json.loads(base64.urlsafe_b64decode(token))
    change(outer["key"])
    return base64.urlsafe_b64encode(json.dumps(outer).encode()).decode()


@pytest.mark.parametrize("item_id", ["é", "INV-00000~", "~", "INV-" + "9" * 13])
def test_a_token_whose_id_lies_beyond_the_range_is_400_not_a_refusal_by_dynamodb(client, books, item_id):
    december = {"from_": "2026-12-01", "to": "2026-12-31"}
    token = ok(register(client, limit=1, **december))["next_token"]

    def beyond(key: dict[str, Any]) -> None:  # a key consistent in itself, past the range's upper bound
        key["gsi3sk"]["S"] = f"2026-12-31#{item_id}"
        key["pk"]["S"] = f"INVOICE#{item_id}"

    refused(register(client, limit=1, **december, next_token=_forged(token, beyond)), 400, "BAD_REQUEST")


def test_invoices_issued_before_voids_existed_count_as_issued(client, books):
    """Their documents have no ``status`` (R14 added it): the API reads them as issued, so does the filter."""
    import os

    from tests.conftest import dynamodb

    old = books["deposits"][0]["invoice_id"]
    dynamodb().update_item(
        TableName=os.environ["TABLE_NAME"],
        Key={"pk": {"S": f"INVOICE#{old}"}, "sk": {"S": "#INVOICE"}},
        UpdateExpression="REMOVE #d.#s",
        ExpressionAttributeNames={"#d": "data", "#s": "status"},
    )
    issued = [i["invoice_id"] for i in all_pages(client, "/invoices", status="issued")[0]]
    assert old in issued
    assert old not in [i["invoice_id"] for i in all_pages(client, "/invoices", status="voided")[0]]


def test_an_account_name_a_spreadsheet_would_run_is_exported_as_text(client):
    assert client.put("/settings", {"account_names": {"receivable": '=HYPERLINK("x")'}}).status == 200
    client.post("/orders", order_body("SO-F"))
    client.post("/orders/SO-F/progress-billings", {"amount": "1.00", "invoice_date": "2026-12-01"})
    rows = parse_csv(client.get("/ledger/entries", query="format=csv").body)
    assert '\'=HYPERLINK("x")' in [r[6] for r in rows]
    assert '=HYPERLINK("x")' in [
        ln["account_name"] for e in ok(client.get("/ledger/entries"))["items"] for ln in e["lines"]
    ]


def test_a_run_whose_record_cannot_be_written_still_succeeds_once(client, monkeypatch):
    from billing import store

    def down(doc: Any) -> None:
        raise ConnectionError("throttled")

    monkeypatch.setattr(store, "put_run", down)
    assert client.post("/orders", order_body("SO-R")).status == 201
    body = {"amount": "1.00", "schedule": True, "invoice_date": "2026-12-01"}
    assert client.post("/orders/SO-R/progress-billings", body).status == 201
    result = run_automation(scheduled_event("2026-12-01T06:00:00Z"))
    assert (result["invoiced"], result["complete"]) == (1, True)
