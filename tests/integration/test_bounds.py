"""R19: nothing a client sends can break the books. Each repro of the hardening issue gets its 4xx and
changes nothing; the largest job the limits allow (docs/limits.md) is billed and finalized; the
trial balance stays readable whatever was sent."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest

from billing import limits as L
from local.fixtures import order_body
from tests.conftest import table_snapshot

DEEP = '{"amount": "1.00", "x": ' + "[" * 1000 + "]" * 1000 + "}"


def wide(n: int, seed: int = 0) -> str:
    """``n`` characters of 4 bytes each in UTF-8 (12 as JSON escapes), drawn at random so that they
    do not compress: the largest texts a client can send, for the item, the transaction and the
    idempotency record that keeps the response."""
    rng = random.Random(seed)
    return "".join(chr(rng.randrange(0x10000, 0x10FFFF)) for _ in range(n))


@pytest.fixture
def order(client):
    assert client.post("/orders", order_body()).status == 201
    return "/orders/SO-1001"


def refused(response: Any, status: int, code: str) -> dict[str, Any]:
    assert (response.status, response.json()["error"]["code"]) == (status, code), response.body
    body: dict[str, Any] = response.json()
    return body


def test_json_nested_deeper_than_any_request_needs_is_400_on_every_body(client, order):
    before = table_snapshot()
    for method, path in [
        ("POST", "/orders"),
        ("POST", f"{order}/progress-billings"),
        ("POST", f"{order}/final-invoice"),
        ("PUT", "/settings"),
    ]:
        body = refused(client.request(method, path, raw=DEEP), 400, "BAD_REQUEST")
        assert body["error"]["details"][0]["limit"] == L.JSON_DEPTH_MAX
    assert table_snapshot() == before


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("GET", "/orders/" + "J" * 2100, "job_id"),
        ("GET", "/invoices/" + "I" * 2100, "invoice_id"),
        ("POST", "/orders/" + "J" * 2100 + "/progress-billings", "job_id"),
        ("POST", "/projects/" + "J" * 2100 + "/final-invoice", "job_id"),
        ("DELETE", "/orders/SO-1001/progress-billings/" + "R" * 1100, "record_id"),
        ("GET", "/orders/SO%201001", "job_id"),
    ],
)
def test_path_ids_are_checked_like_body_ids(client, order, method, path, field):
    before = table_snapshot()
    body = {"amount": "1.00"} if path.endswith("progress-billings") else None
    details = refused(client.request(method, path, body), 422, "VALIDATION_ERROR")["error"]["details"]
    assert [d["field"] for d in details] == [field]
    assert table_snapshot() == before


def _token(key: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode()


def test_a_next_token_is_only_one_the_same_query_returned(client):
    for j in range(3):
        assert client.post("/orders", order_body(f"SO-{j}")).status == 201
        assert client.post("/projects", order_body(f"P-{j}")).status == 201
    page = client.get("/orders", query="limit=2").json()
    assert [
        j["id"] for j in client.get("/orders", query=f"limit=2&next_token={page['next_token']}").json()["items"]
    ] == ["SO-2"]
    projects_token = client.get("/projects", query="limit=1").json()["next_token"]
    real = json.loads(base64.urlsafe_b64decode(page["next_token"]))
    forged = [
        "eyJhIjogMX0=",  # {"a": 1}
        "e30=",  # {}: would silently restart at page one
        "not base64!",
        _token([1, 2]),
        projects_token,  # another query's token
        _token({**real, "gsi2pk": {"S": "JOBS#project"}}),
        _token({**real, "pk": {"S": "JOB#order#SO-X"}}),  # does not match its own index key
        _token({**real, "extra": {"S": "x"}}),
        _token({k: {"N": "1"} for k in real}),
    ]
    for token in forged:
        refused(client.get("/orders", query=f"next_token={token}"), 400, "BAD_REQUEST")
    open_token = client.get("/orders", query="status=open&limit=1").json()["next_token"]
    assert client.get("/orders", query=f"status=open&next_token={open_token}").status == 200
    refused(client.get("/orders", query=f"status=finalized&next_token={open_token}"), 400, "BAD_REQUEST")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"quantity": "99999999999", "unit_price": "999999999999999"}, "lines[0].quantity"),
        ({"quantity": "1", "unit_price": "1000000000000"}, "lines[0].unit_price"),
        ({"quantity": "999999999", "unit_price": "999999999999"}, "lines[0]"),  # each fits, the product does not
        ({"quantity": "2", "unit_price": "500000000000"}, "lines[0]"),  # exactly the limit: not below it
    ],
)
def test_magnitudes_beyond_the_limits_are_422_and_the_trial_balance_stays_readable(client, line, field):
    body = {"id": "BIG", "customer_id": "C", "customer_name": "n",
            "lines": [{"line_id": "1", "item_code": "W", **line}]}  # fmt: skip
    details = refused(client.post("/orders", body), 422, "VALIDATION_ERROR")["error"]["details"]
    assert details[0]["field"] == field
    assert client.get("/orders/BIG").status == 404
    assert client.get("/ledger/trial-balance").status == 200


def test_the_job_total_and_a_record_amount_are_bounded(client):
    lines = [{"line_id": str(i), "item_code": "W", "quantity": "1", "unit_price": "400000000000"} for i in range(3)]
    details = refused(client.post("/orders", order_body("BIG", lines=lines)), 422, "VALIDATION_ERROR")
    assert details["error"]["details"][0]["field"] == "lines"
    assert client.post("/orders", order_body()).status == 201
    refused(client.post("/orders/SO-1001/progress-billings", {"amount": "1000000000000"}), 422, "VALIDATION_ERROR")
    largest = [{"line_id": "1", "item_code": "W", "quantity": "1", "unit_price": "999999999999.99"}]
    assert client.post("/orders", order_body("MAX", lines=largest)).status == 201
    assert client.post("/orders/MAX/progress-billings", {"percent": "33.3333"}).status == 201
    assert client.post("/orders/MAX/final-invoice").status == 201
    tb = client.get("/ledger/trial-balance").json()
    assert all(t["balanced"] for t in tb["totals"])
    assert {a["account"]: a["balance"] for a in tb["accounts"]}["4000"] == "-999999999999.99"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data; boundary=x",
     "application/json; charset=latin-1"],
)  # fmt: skip
def test_a_body_that_is_not_json_is_415_and_changes_nothing(client, order, content_type):
    before = table_snapshot()
    for method, path, body in [
        ("POST", "/orders", order_body("SO-2")),
        ("POST", f"{order}/progress-billings", {"amount": "1.00"}),
        ("PUT", "/settings", {"auto_invoice_on_shipment": True}),
    ]:
        r = client.request(method, path, raw=json.dumps(body), headers={"Content-Type": content_type})
        refused(r, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert table_snapshot() == before
    ok = client.request("POST", f"{order}/progress-billings", raw='{"amount": "1.00"}',
                        headers={"Content-Type": "application/json; charset=utf-8"})  # fmt: skip
    assert ok.status == 201


@pytest.mark.parametrize(
    "content_type", ["APPLICATION/JSON", "application/vnd.api+json", "Application/Json; Charset=UTF-8"]
)
def test_json_under_any_spelling_of_its_media_type_is_read(client, order, content_type):
    r = client.request("POST", f"{order}/progress-billings", raw='{"amount": "1.00"}',
                       headers={"Content-Type": content_type})  # fmt: skip
    assert r.status == 201, r.body


def test_a_body_without_a_content_type_is_415_as_api_gateway_hands_it_over(client, order):
    from local.fixtures import ADMIN
    from local.gateway import invoke

    r = invoke("POST", f"{order}/progress-billings", body='{"amount": "1.00"}', claims=ADMIN, json_by_default=False)
    assert (r.status, r.json()["error"]["code"]) == (415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.parametrize(
    ("raw", "limit"),
    [
        ('{"amount": "1.00", "title": ' + "9" * 5000 + "}", L.JSON_NUMBER_MAX),  # Python refuses to parse it
        ('{"amount": "1.00", "title": "' + "x" * (L.BODY_CHARS_MAX + 1) + '"}', L.BODY_CHARS_MAX),
        ("[" * 7 + '"' + '\\"' * 100_000, L.JSON_DEPTH_MAX),  # an unclosed string of escaped quotes
    ],
    ids=["a 5,000-digit number", "more than 1 MiB", "deep, with an unclosed string"],
)
def test_a_body_too_much_to_parse_is_400_naming_the_limit(client, order, raw, limit):
    before = table_snapshot()
    body = refused(client.request("POST", f"{order}/progress-billings", raw=raw), 400, "BAD_REQUEST")
    assert body["error"]["details"][0]["limit"] == limit
    assert table_snapshot() == before


def test_a_replay_says_so(client, order):
    headers = {"Idempotency-Key": "replay-1"}
    first = client.post(f"{order}/progress-billings", {"amount": "1.00"}, headers=headers)
    again = client.post(f"{order}/progress-billings", {"amount": "1.00"}, headers=headers)
    assert (first.headers["idempotent-replay"], again.headers["idempotent-replay"]) == ("false", "true")
    assert again.json() == first.json()


def _at_the_limits_but_one(job_id: str, texts: dict[str, str], amount: str = "100.00", taxed: bool = False) -> None:
    """The job as ~250 requests would leave it, written in one transaction of the store itself: all but
    one of the deposit invoices a job may have, and all but one of its pending records (with the
    longest texts), so that the last of each goes through the API below. ``taxed``: each deposit
    taxed as R16 taxes it, its tax kept on the job (what the final invoice reverses)."""
    from billing import store
    from billing.documents import Kind
    from billing.model import DepositRef, Record
    from billing.tax import deposit_taxes, summed

    job = store.get_job(Kind.ORDER, job_id)
    held = "A" * L.ACCOUNT_CODE_MAX  # the longest account code, with the longest name (R7 keeps both)
    job.deposits = [
        DepositRef(f"INV-9{i:05d}", Decimal(amount), "2026-12-01", f"PB-SEEDED-{i:03d}", held)
        for i in range(L.DEPOSITS_PER_JOB - 1)
    ]
    job.deposit_accounts[held] = wide(L.ACCOUNT_NAME_MAX, 6)
    if taxed:
        each = deposit_taxes(Decimal(amount), job.net_per_rate(store.get_settings(), unbilled=True), job.currency)
        job.deposit_tax = summed(each * len(job.deposits), per_account=True)
    records = [
        Record.from_api({"record_id": f"PB-SEEDED-P{i:02d}", "kind": "order", "job_id": job_id, "currency": "USD",
                         "invoice_date": "2027-01-01", "amount": "1.00", "status": "pending", "schedule": True,
                         **texts})
        for i in range(L.PENDING_PER_JOB - 1)
    ]  # fmt: skip
    job.pending = {r.record_id: r.amount for r in records}
    store.commit(store.Change(job, records=records, new_record_ids={r.record_id for r in records}))


def longest_id(i: int) -> str:
    """An id of the most characters allowed (R19), drawn at random so that it does not compress."""
    rng = random.Random(i)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."
    return "".join(rng.choice(alphabet) for _ in range(L.ID_MAX))


def longest_lines(quantity: str, unit_price: str) -> list[dict[str, str]]:
    """The most lines a job may have, each with the longest id, item code and description."""
    return [
        {"line_id": longest_id(i), "item_code": wide(L.ITEM_CODE_MAX, i),
         "description": wide(L.LINE_DESCRIPTION_MAX, -i), "quantity": quantity, "unit_price": unit_price}
        for i in range(L.LINES_PER_JOB)
    ]  # fmt: skip


def _the_largest_job(
    client: Any, job_id: str = "LARGEST", figures: tuple[str, str, str] = ("1", "1000.00", "100.00")
) -> tuple[str, dict[str, str]]:
    """200 lines of the longest texts and, but for the last deposit invoice and the last pending
    record, every deposit and pending record a job may have (``_at_the_limits_but_one``); then the
    last deposit invoice through the API. ``figures``: each line's quantity and unit price, and each
    deposit's amount. Its path, and the longest texts of a record."""
    quantity, unit_price, amount = figures
    lines = longest_lines(quantity, unit_price)
    job = {**order_body(job_id, lines=lines), "customer_id": longest_id(-1), "customer_name": wide(L.CUSTOMER_NAME_MAX)}
    # every request keyed, as the portal sends them: the idempotency record keeps each response
    registered = client.post("/orders", job, headers={"Idempotency-Key": "largest-1"})
    assert registered.status == 201, registered.body
    texts = {"title": wide(L.TEXT_MAX, 1), "item_description": wide(L.TEXT_MAX, 2),
             "description": wide(L.LONG_TEXT_MAX, 3)}  # fmt: skip
    _at_the_limits_but_one(job_id, texts, amount)
    path = f"/orders/{job_id}"
    last = client.post(f"{path}/progress-billings", {**texts, "amount": amount}, headers={"Idempotency-Key": "l-2"})
    assert last.status == 201, last.body
    return path, texts


def test_the_largest_job_the_limits_allow_is_billed_and_finalized(client):
    """200 lines of the longest texts, 200 deposit invoices, 50 pending records of the longest texts:
    the job item, the last deposit's transaction and the final invoice's (the job, the invoice twice,
    its entry, the balances and 50 cancelled records) still fit DynamoDB's limits (moto and DynamoDB
    Local enforce them as DynamoDB does), and the limits refuse one more of each."""
    path, texts = _the_largest_job(client)
    one_more = refused(client.post(f"{path}/progress-billings", {"amount": "100.00"}), 422, "VALIDATION_ERROR")
    assert one_more["error"]["details"][0]["limit"] == L.DEPOSITS_PER_JOB
    scheduled = {**texts, "amount": "1.00", "schedule": True, "invoice_date": "2027-01-01"}
    assert client.post(f"{path}/progress-billings", scheduled).status == 201
    refused(client.post(f"{path}/progress-billings", scheduled), 422, "VALIDATION_ERROR")
    job_now = client.get(path).json()["billing"]
    assert (job_now["deposit_invoice_count"], job_now["pending_scheduled"]) == (L.DEPOSITS_PER_JOB, "50.00")
    heading = {"title": wide(L.TEXT_MAX, 4), "description": wide(L.LONG_TEXT_MAX, 5)}
    final = client.post(f"{path}/final-invoice", heading, headers={"Idempotency-Key": "largest-3"})
    assert final.status == 201, final.body
    replay = client.post(f"{path}/final-invoice", heading, headers={"Idempotency-Key": "largest-3"})
    assert (replay.status, replay.headers["idempotent-replay"], replay.json()) == (201, "true", final.json())
    invoice = final.json()["invoice"]
    assert len(invoice["lines"]) == L.LINES_PER_JOB + L.DEPOSITS_PER_JOB
    assert len(invoice["cancelled_record_ids"]) == L.PENDING_PER_JOB
    assert invoice["total"] == f"{L.LINES_PER_JOB * 1000 - L.DEPOSITS_PER_JOB * 100}.00"
    assert client.get(path).json()["status"] == "finalized"
    assert client.get(f"/invoices/{invoice['invoice_id']}").json() == invoice
    records = client.get(f"{path}/progress-billings").json()["items"]
    assert sum(r["status"] == "cancelled" for r in records) == L.PENDING_PER_JOB
    assert all(t["balanced"] for t in client.get("/ledger/trial-balance").json()["totals"])


@contextmanager
def transactions() -> Iterator[list[int]]:
    """The number of items of each TransactWriteItems made in the block."""
    from local.metering import intercept

    sizes: list[int] = []

    def seen(operation: str, params: dict[str, Any], proceed: Callable[[], Any]) -> Any:
        if operation == "TransactWriteItems":
            sizes.append(len(params["TransactItems"]))
        return proceed()

    with intercept(seen):
        yield sizes


def test_the_largest_final_invoice_is_voided_in_one_transaction_and_the_job_finalized_again(client):
    """R14 at the limits: the credit note of a final invoice of 200 lines and 200 deposits (the
    credit note twice, its entry, the original's two copies, the job, the counter, the balances) is
    one transaction that fits, and so is the answer kept for its Idempotency-Key."""
    # the longest figures too: 200 lines of 4,999,999,985.00 and 200 deposits of 4,999,999,900.00
    figures = ("99999.9999", "49999.9999", "4999999900.00")
    path, _ = _the_largest_job(client, longest_id(-2), figures)
    heading = {"title": wide(L.TEXT_MAX, 4), "description": wide(L.LONG_TEXT_MAX, 5)}
    final = client.post(f"{path}/final-invoice", heading, headers={"Idempotency-Key": "largest-3"})
    assert final.status == 201, final.body
    original = final.json()["invoice"]
    body = {"reason": wide(L.TEXT_MAX, 7), "void_date": "2026-12-31"}
    key = {"Idempotency-Key": "largest-void"}
    with transactions() as sizes:
        r = client.post(f"/invoices/{original['invoice_id']}/void", body, headers=key)
    assert r.status == 201, r.body[:2000]
    assert len(sizes) == 1 and sizes[0] <= 100, sizes
    credit = r.json()["credit_note"]
    assert len(credit["lines"]) == L.LINES_PER_JOB + L.DEPOSITS_PER_JOB
    assert credit["total"] == f"-{original['total']}"
    replay = client.post(f"/invoices/{original['invoice_id']}/void", body, headers=key)
    assert (replay.status, replay.headers["idempotent-replay"], replay.json()) == (201, "true", r.json())
    assert client.get(f"/invoices/{credit['invoice_id']}").json() == credit
    assert client.get(f"/invoices/{original['invoice_id']}").json()["status"] == "voided"
    job = client.get(path).json()
    assert (job["status"], job["billing"]["deposit_invoice_count"], job["billing"]["deposit_balance"]) == (
        "open", L.DEPOSITS_PER_JOB, f"{L.DEPOSITS_PER_JOB * Decimal(figures[2]):.2f}")  # fmt: skip
    tb = client.get("/ledger/trial-balance").json()
    assert all(t["balanced"] for t in tb["totals"])
    assert {a["account"]: a["balance"] for a in tb["accounts"]}["4000"] == "0.00"
    again = client.post(f"{path}/final-invoice", heading, headers={"Idempotency-Key": "largest-4"})
    assert again.status == 201, again.body[:2000]
    assert again.json()["invoice"]["total"] == original["total"]


def test_a_change_order_of_the_most_lines_with_the_longest_texts_fits(client):
    """R15 at the limits: a change order naming 100 lines (each kept before and after, in the longest
    texts) of a job of 200 such lines: its item, the job item and the answer kept for its
    Idempotency-Key all fit."""
    lines = longest_lines("1", "1000.00")
    job = {**order_body("WIDEST", lines=lines), "customer_name": wide(L.CUSTOMER_NAME_MAX)}
    assert client.post("/orders", job).status == 201
    changes = [  # the longest figures the total limit allows (each line 9,989,999,890.00)
        {"line_id": lines[i]["line_id"], "item_code": lines[i]["item_code"],
         "description": wide(L.LINE_DESCRIPTION_MAX, 1000 + i), "quantity": "99999.9999", "unit_price": "99899.9999"}
        for i in range(L.CHANGE_ORDER_LINES)
    ]  # fmt: skip
    body = {"reason": wide(L.TEXT_MAX, 8), "date": "2026-12-02", "lines": changes}
    key = {"Idempotency-Key": "widest-co"}
    with transactions() as sizes:
        r = client.post("/orders/WIDEST/change-orders", body, headers=key)
    assert r.status == 201, r.body[:2000]
    assert len(sizes) == 1
    co = r.json()["change_order"]
    assert (len(co["lines_before"]), len(co["lines_after"])) == (L.CHANGE_ORDER_LINES, L.CHANGE_ORDER_LINES)
    assert [ln["description"] for ln in co["lines_after"]] == [c["description"] for c in changes]
    replay = client.post("/orders/WIDEST/change-orders", body, headers=key)
    assert (replay.status, replay.headers["idempotent-replay"], replay.json()) == (201, "true", r.json())
    assert client.get("/orders/WIDEST/change-orders").json()["items"] == [co]
    assert client.get("/orders/WIDEST").json() == r.json()["job"]
    # the job so changed is still finalized in one transaction
    assert client.post("/orders/WIDEST/final-invoice").status == 201


# ---- R16 at the limits: the largest job, taxed -------------------------------------------------------


def item_bytes(value: Any, name: str = "") -> int:
    """The size DynamoDB counts for an attribute in its wire form (``{"S": ...}``, ``{"M": ...}``...):
    its name's UTF-8 bytes and its value's (strings in UTF-8, numbers about one byte per two digits,
    three bytes per map or list and one per element)."""
    ((kind, v),) = value.items()
    size = len(name.encode())
    if kind == "S":
        return size + len(v.encode())
    if kind == "N":
        return size + len(v.lstrip("-").replace(".", "")) // 2 + 2
    if kind in ("BOOL", "NULL"):
        return size + 1
    if kind == "M":
        return size + 3 + sum(item_bytes(x, k) + 1 for k, x in v.items())
    if kind == "L":
        return size + 3 + sum(item_bytes(x) + 1 for x in v)
    raise AssertionError(f"unexpected attribute type {kind}")


def job_item_bytes(pk: str) -> int:
    (item,) = [i for i in table_snapshot() if i["pk"]["S"] == pk and i["sk"]["S"] == "#JOB"]
    return sum(item_bytes(v, k) for k, v in item.items())


def longest_tax_codes() -> dict[str, dict[str, str]]:
    """The most tax rates a job may use (R16), each of the longest code, name (4-byte characters) and
    account, at rates of the most decimals."""
    return {
        longest_id(100 + i)[: L.TAX_CODE_MAX]: {
            "name": wide(L.ACCOUNT_NAME_MAX, 100 + i),
            "rate": f"{10 + i}.{1231 + 2 * i}",  # four decimals, none a trailing zero
            "account": longest_id(200 + i)[: L.ACCOUNT_CODE_MAX],
        }
        for i in range(L.TAX_RATES_PER_JOB)
    }


def test_the_largest_taxed_job_is_billed_finalized_and_voided_in_one_transaction_each(client):
    """R16 with R19: the largest job (200 lines of the longest texts, 200 deposits, 50 pending records)
    on the most tax rates a job may use, each of the longest code, name and account, with tax on
    deposits: the last deposit, the final invoice and its void are one transaction each within 100
    items, the job item stays under 400 KB, and the books close with the tax of every rate."""
    codes = longest_tax_codes()
    company = {
        "name": wide(L.COMPANY_NAME_MAX, 9),
        "address": wide(L.ADDRESS_MAX, 10),
        "tax_id": wide(L.TAX_ID_MAX, 11),
    }
    r = client.put("/settings", {"tax_codes": codes, "tax_on_deposits": True, "company": company})
    assert r.status == 200, r.body[:2000]
    lines = longest_lines("1", "1000.00")
    for i, line in enumerate(lines):
        line["tax_code"] = list(codes)[i % len(codes)]
    job = {
        **order_body("TAXED", lines=lines),
        "customer_id": longest_id(-1),
        "customer_name": wide(L.CUSTOMER_NAME_MAX),
    }
    registered = client.post("/orders", job, headers={"Idempotency-Key": "taxed-1"})
    assert registered.status == 201, registered.body[:2000]
    assert {ln["tax_code"] for ln in registered.json()["lines"]} == set(codes)
    texts = {"title": wide(L.TEXT_MAX, 1), "item_description": wide(L.TEXT_MAX, 2),
             "description": wide(L.LONG_TEXT_MAX, 3)}  # fmt: skip
    _at_the_limits_but_one("TAXED", texts, "100.00", taxed=True)
    path = "/orders/TAXED"
    with transactions() as sizes:
        last = client.post(
            f"{path}/progress-billings", {**texts, "amount": "100.00"}, headers={"Idempotency-Key": "t-2"}
        )
    assert last.status == 201, last.body[:2000]
    assert len(sizes) == 1 and sizes[0] <= 100, sizes
    deposit = last.json()["invoice"]
    assert len(deposit["tax"]) == L.TAX_RATES_PER_JOB  # 10.00 of net per rate, each taxed
    assert job_item_bytes("JOB#order#TAXED") < 400 * 1024
    heading = {"title": wide(L.TEXT_MAX, 4), "description": wide(L.LONG_TEXT_MAX, 5)}
    with transactions() as sizes:
        final = client.post(f"{path}/final-invoice", heading, headers={"Idempotency-Key": "t-3"})
    assert final.status == 201, final.body[:2000]
    assert len(sizes) == 1 and sizes[0] <= 100, sizes
    invoice = final.json()["invoice"]
    assert len(invoice["lines"]) == L.LINES_PER_JOB + L.DEPOSITS_PER_JOB
    # each rate: the tax on its 20,000.00 of net, less what the 200 deposits of 10.00 each charged on it
    assert len(invoice["tax"]) == L.TAX_RATES_PER_JOB
    assert invoice["subtotal"] == f"{L.LINES_PER_JOB * 1000 - L.DEPOSITS_PER_JOB * 100}.00"
    for t in invoice["tax"]:
        rate = Decimal(codes[t["code"]]["rate"])
        on_net = (Decimal(20000) * rate / 100).quantize(Decimal("0.01"))
        on_deposits = L.DEPOSITS_PER_JOB * (Decimal(10) * rate / 100).quantize(Decimal("0.01"))
        assert (t["base"], Decimal(t["amount"])) == ("18000.00", on_net - on_deposits)
    with transactions() as sizes:
        r = client.post(f"/invoices/{invoice['invoice_id']}/void", {"reason": wide(L.TEXT_MAX, 7)},
                        headers={"Idempotency-Key": "t-4"})  # fmt: skip
    assert r.status == 201, r.body[:2000]
    assert len(sizes) == 1 and sizes[0] <= 100, sizes
    credit = r.json()["credit_note"]
    assert [(t["code"], t["amount"]) for t in credit["tax"]] == [
        (t["code"], f"-{t['amount']}".replace("--", "")) for t in invoice["tax"]]  # fmt: skip
    assert credit["total"] == f"-{invoice['total']}"
    assert job_item_bytes("JOB#order#TAXED") < 400 * 1024
    assert client.get(path).json()["status"] == "open"
    assert all(t["balanced"] for t in client.get("/ledger/trial-balance").json()["totals"])


def test_a_change_order_of_the_most_taxed_lines_with_the_longest_texts_fits(client):
    """R15 with R16 at the limits: each line a change order keeps before and after carries its tax code
    and captured rate (the longest code, a rate of the most decimals), and the job keeps each code's
    name and account (the longest): a change order naming 100 such lines of a job of 200 still fits
    in its item, and so does the job."""
    codes = longest_tax_codes()
    assert client.put("/settings", {"tax_codes": codes}).status == 200
    lines = longest_lines("1", "1000.00")
    for i, line in enumerate(lines):
        line["tax_code"] = list(codes)[i % len(codes)]
    assert (
        client.post("/orders", {**order_body("WIDEST", lines=lines), "customer_name": wide(L.CUSTOMER_NAME_MAX)}).status
        == 201
    )
    changes = [
        {"line_id": lines[i]["line_id"], "tax_code": lines[i]["tax_code"],
         "description": wide(L.LINE_DESCRIPTION_MAX, 1000 + i), "quantity": "99999.9999", "unit_price": "99899.9999"}
        for i in range(L.CHANGE_ORDER_LINES)
    ]  # fmt: skip
    body = {"reason": wide(L.TEXT_MAX, 8), "date": "2026-12-02", "lines": changes}
    with transactions() as sizes:
        r = client.post("/orders/WIDEST/change-orders", body, headers={"Idempotency-Key": "widest-taxed"})
    assert r.status == 201, r.body[:2000]
    assert len(sizes) == 1
    co = r.json()["change_order"]
    assert [(ln["tax_code"], ln["tax_rate"]) for ln in co["lines_after"]] == [
        (c["tax_code"], codes[c["tax_code"]]["rate"]) for c in changes]  # fmt: skip
    (item,) = [i for i in table_snapshot() if i["sk"]["S"].startswith("CO#")]
    assert sum(item_bytes(v, k) for k, v in item.items()) < 400 * 1024
    assert job_item_bytes("JOB#order#WIDEST") < 400 * 1024
    assert client.get("/orders/WIDEST/change-orders").json()["items"] == [co]
    assert client.post("/orders/WIDEST/final-invoice").status == 201


def test_the_largest_jobs_events_all_fit_eventbridge_and_name_what_they_summarise(client, events):
    """R17 at the limits: every change of the largest job publishes; each event is under EventBridge's
    256 KB (the final invoice, larger, is sent as its summary: GET it by its id)."""
    from billing.events import DETAIL_MAX, size

    path, _ = _the_largest_job(client)
    final = client.post(f"{path}/final-invoice")
    assert final.status == 201, final.body
    published = events.published()
    assert [e["detail"]["sequence"] for e in published] == list(range(1, len(published) + 1))
    assert max(size(e["detail"]) for e in published) <= DETAIL_MAX
    issued = [e["detail"]["invoice"] for e in published if e["detail-type"] == "InvoiceIssued"]
    assert len(issued) == 2  # the last deposit and the final (the others are seeded by the store)
    last = issued[-1]
    assert last["truncated"] and "lines" not in last
    whole = final.json()["invoice"]
    assert {k: whole[k] for k in ("invoice_id", "type", "total", "subtotal", "job_id")} == {
        k: last[k] for k in ("invoice_id", "type", "total", "subtotal", "job_id")
    }
    pending = L.PENDING_PER_JOB - 1  # seeded pending records of the longest texts (one outbox item)
    assert [e["detail-type"] for e in published].count("ProgressBillingScheduled") == pending
    assert [e["detail-type"] for e in published[-(pending + 1) :]] == [*["ProgressBillingCancelled"] * pending,
                                                                      "JobFinalized"]  # fmt: skip
