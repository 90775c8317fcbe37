"""Shipment messages from SQS (R8): recorded once, invoiced when the rules say so, never blocking."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from billing import store
from local.fixtures import job_line, order_body, ship, shipment_message
from local.metering import intercept
from tests.conftest import table_snapshot


@pytest.fixture
def order(client):
    assert (
        client.post(
            "/orders",
            order_body(
                lines=[
                    job_line(),
                    {
                        "line_id": "2",
                        "item_code": "GADGET",
                        "description": "Gadget",
                        "quantity": "3",
                        "unit_price": "33.3333",
                    },
                ]
            ),
        ).status
        == 201
    )  # 1000.00 + 100.00 = 1100.00
    return "/orders/SO-1001"


@pytest.fixture
def auto_invoice(client):
    assert client.put("/settings", {"auto_invoice_on_shipment": True}).status == 200


def shipments(client, path):
    return {s["shipment_id"]: s for s in client.get(f"{path}/shipments").json()["items"]}


def test_shipment_is_recorded_not_invoiced_when_auto_invoice_is_off(client, order):
    assert ship(shipment_message("SH-1")) == {"batchItemFailures": []}
    s = shipments(client, order)["SH-1"]
    assert (s["status"], s["reason"], s["invoice_id"]) == ("not_invoiced", "auto_invoice_off", None)
    assert s["order_id"] == "SO-1001" and s["ship_date"] == "2026-11-27"
    assert client.get(f"{order}/invoices").json()["items"] == []
    job = client.get(order).json()
    assert job["lines"][0]["shipped_quantity"] == "2"


def test_shipment_first_is_invoiced_and_the_final_does_not_bill_it_again(client, order, auto_invoice):
    ship(shipment_message("SH-1", lines=[{"line_id": "1", "quantity": "4"}, {"line_id": "2", "quantity": "1"}]))
    s = shipments(client, order)["SH-1"]
    assert s["status"] == "invoiced" and s["reason"] is None
    inv = client.get(f"/invoices/{s['invoice_id']}").json()
    assert inv["type"] == "shipment" and inv["shipment_id"] == "SH-1" and inv["invoice_date"] == "2026-11-27"
    assert [(ln["code"], ln["quantity"], ln["amount"]) for ln in inv["lines"]] == [
        ("WIDGET", "4", "400.00"),
        ("GADGET", "1", "33.33"),
    ]
    assert inv["total"] == "433.33"
    entry = client.get(f"{order}/ledger").json()["items"][0]
    assert {(ln["account"], ln["debit"], ln["credit"]) for ln in entry["lines"]} == {
        ("1200", "433.33", "0.00"),
        ("4000", "0.00", "433.33"),
    }
    job = client.get(order).json()
    assert job["billing"]["shipments_billed"] == "433.33" and job["billing"]["remaining"] == "666.67"

    # progress billing after a shipment invoice: allowed up to what is left (R6)
    assert client.post(f"{order}/progress-billings", {"amount": "666.68"}).json()["error"]["code"] == "OVERBILLING"
    dep = client.post(f"{order}/progress-billings", {"amount": "300.00"}).json()["invoice"]
    assert dep["billing"]["billed_before"] == "433.33"
    # a later shipment is not invoiced: the order has a deposit invoice now
    ship(shipment_message("SH-2", lines=[{"line_id": "1", "quantity": "6"}]))
    assert (shipments(client, order)["SH-2"]["status"], shipments(client, order)["SH-2"]["reason"]) == (
        "not_invoiced",
        "progress_billing",
    )

    final = client.post(f"{order}/final-invoice").json()["invoice"]
    revenue = {ln["code"]: ln for ln in final["lines"] if ln["code"] != "DEPOSIT"}
    assert revenue["WIDGET"]["amount"] == "600.00" and revenue["WIDGET"]["quantity"] == "6"
    assert revenue["GADGET"]["amount"] == "66.67"  # 100.00 - 33.33: lifetime revenue is the line amount
    assert final["total"] == "366.67"  # 1100.00 - 433.33 shipped - 300.00 deposit
    tb = {a["account"]: a["balance"] for a in client.get("/ledger/trial-balance").json()["accounts"]}
    assert tb == {"1200": "1100.00", "2400": "0.00", "4000": "-1100.00"}


def test_progress_billing_first_means_no_shipment_invoice(client, order, auto_invoice):
    client.post(f"{order}/progress-billings", {"percent": "10"})
    ship(shipment_message("SH-1"))
    s = shipments(client, order)["SH-1"]
    assert (s["status"], s["reason"], s["invoice_id"]) == ("not_invoiced", "progress_billing", None)
    assert [i["type"] for i in client.get(f"{order}/invoices").json()["items"]] == ["deposit"]


def test_shipment_on_a_finalized_order_is_not_invoiced(client, order, auto_invoice):
    client.post(f"{order}/final-invoice")
    ship(shipment_message("SH-1"))
    assert shipments(client, order)["SH-1"]["reason"] == "job_finalized"


def test_redelivered_message_is_recorded_once(client, order, auto_invoice):
    body = shipment_message("SH-1")
    assert ship(body, body) == {"batchItemFailures": []}  # twice in one batch
    assert ship(body) == {"batchItemFailures": []}  # and again later
    assert len(shipments(client, order)) == 1
    assert len(client.get(f"{order}/invoices").json()["items"]) == 1
    assert client.get(order).json()["lines"][0]["shipped_quantity"] == "2"


def test_a_batch_mixing_bad_and_good_messages_acknowledges_all_and_records_each(client, order, auto_invoice):
    result = ship(
        "{not json",
        json.dumps({"hello": "world"}),
        shipment_message("SH-unknown-order", order_id="SO-404"),
        shipment_message("SH-unknown-line", lines=[{"line_id": "9", "quantity": "1"}]),
        shipment_message("SH-too-many", lines=[{"line_id": "1", "quantity": "11"}]),
        shipment_message("SH-bad-qty", lines=[{"line_id": "1", "quantity": 2}]),
        shipment_message("SH-good"),
    )
    assert result == {"batchItemFailures": []}
    got = shipments(client, order)
    assert {k: (v["status"], v["reason"]) for k, v in got.items()} == {
        "SH-unknown-line": ("rejected", "unknown_line"),
        "SH-too-many": ("rejected", "over_shipment"),
        "SH-bad-qty": ("rejected", "invalid"),
        "SH-good": ("invoiced", None),
    }
    assert "quantity" in got["SH-bad-qty"]["detail"]
    assert "11" in got["SH-too-many"]["detail"]
    unknown = store.get_shipment("SH-unknown-order")
    assert unknown is not None and (unknown["status"], unknown["reason"]) == ("rejected", "unknown_order")
    # rejected shipments do not count as shipped
    assert client.get(order).json()["lines"][0]["shipped_quantity"] == "2"


def test_over_shipment_counts_what_was_already_shipped(client, order):
    ship(shipment_message("SH-1", lines=[{"line_id": "1", "quantity": "8"}]))
    ship(shipment_message("SH-2", lines=[{"line_id": "1", "quantity": "2.5"}]))
    ship(shipment_message("SH-3", lines=[{"line_id": "1", "quantity": "2"}]))
    got = shipments(client, order)
    assert (got["SH-2"]["status"], got["SH-2"]["reason"]) == ("rejected", "over_shipment")
    assert got["SH-3"]["status"] == "not_invoiced"
    assert Decimal(client.get(order).json()["lines"][0]["shipped_quantity"]) == Decimal("10")


def test_a_transient_failure_fails_only_that_message(client, order, auto_invoice, monkeypatch):
    real = store.read_for_change

    def flaky(kind, job_id, shipment_id=None):
        if shipment_id == "SH-2":
            raise ConnectionError("DynamoDB unreachable")
        return real(kind, job_id, shipment_id=shipment_id)

    monkeypatch.setattr(store, "read_for_change", flaky)
    result = ship(shipment_message("SH-1"), shipment_message("SH-2"), shipment_message("SH-3"))
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert set(shipments(client, order)) == {"SH-1", "SH-3"}
    monkeypatch.setattr(store, "read_for_change", real)
    assert ship(shipment_message("SH-2")) == {"batchItemFailures": []}  # SQS redelivers it
    assert set(shipments(client, order)) == {"SH-1", "SH-2", "SH-3"}


def test_when_every_message_fails_the_invocation_fails_and_nothing_is_recorded(client, order, monkeypatch):
    """All failed: the function errs (its error metric and alarm see an outage, not a quiet batch of
    failures) and SQS redelivers every message; they are recorded once DynamoDB is back."""
    from billing.shipments import BatchFailed

    real = store.read_for_change

    def down(kind, job_id, shipment_id=None):
        raise ConnectionError("DynamoDB unreachable")

    monkeypatch.setattr(store, "read_for_change", down)
    with pytest.raises(BatchFailed):
        ship(shipment_message("SH-1"), shipment_message("SH-2"))
    assert shipments(client, order) == {}
    monkeypatch.setattr(store, "read_for_change", real)
    assert ship(shipment_message("SH-1"), shipment_message("SH-2")) == {"batchItemFailures": []}
    assert set(shipments(client, order)) == {"SH-1", "SH-2"}


def test_through_the_template_queue_a_poison_message_ends_in_the_dlq(client, order, monkeypatch):
    """The queue and its redrive policy come from template.yaml; delivery as the event source mapping."""
    from local import sqs as local_sqs
    from local.fixtures import lambda_context

    sqs = boto3.client("sqs")
    urls = local_sqs.create_queues(sqs, visibility_timeout=0)
    trigger = next(t for t in local_sqs.sqs_triggers() if t.function == "ProcessShipmentsFunction")
    assert trigger.queue == "ShipmentQueue" and trigger.report_failures
    real = store.read_for_change
    monkeypatch.setattr(
        store,
        "read_for_change",
        lambda kind, job_id, shipment_id=None: (
            (_ for _ in ()).throw(ConnectionError("down"))
            if shipment_id == "SH-poison"
            else real(kind, job_id, shipment_id=shipment_id)
        ),
    )
    sqs.send_message(QueueUrl=urls["ShipmentQueue"], MessageBody=shipment_message("SH-ok"))
    sqs.send_message(QueueUrl=urls["ShipmentQueue"], MessageBody=shipment_message("SH-poison"))
    for _ in range(8):
        local_sqs.deliver_once(sqs, urls["ShipmentQueue"], trigger, lambda_context(trigger.function))
    dlq = sqs.receive_message(QueueUrl=urls["ShipmentDeadLetterQueue"], MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["shipment_id"] for m in dlq] == ["SH-poison"]
    assert set(shipments(client, order)) == {"SH-ok"}


# ---- hardening (issue #9, item 6): nothing a message says sends it to the DLQ or drops it silently ----


@pytest.fixture
def capsys(capsys, caplog):
    """stdout (the metrics) with the log records beside it: ``observe`` reads both."""
    capsys.caplog = caplog
    return capsys


def observe(capsys, *bodies):
    """Ship one batch; return its result, the outcome counts of its metrics and its log records
    (each as a dict: ``level``, ``message`` and the ``extra`` fields)."""
    capsys.readouterr()
    capsys.caplog.clear()
    result = ship(*bodies)
    out = []
    for line in capsys.readouterr().out.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    outcomes: Counter[str] = Counter()
    for blob in (o for o in out if "_aws" in o):
        for m in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            if m["Name"].startswith("Shipments_"):
                value = blob[m["Name"]]
                outcomes[m["Name"].removeprefix("Shipments_")] += int(sum(value) if isinstance(value, list) else value)
    logs = [{**vars(r), "level": r.levelname, "message": r.getMessage()} for r in capsys.caplog.records]
    return result, dict(outcomes), logs


def raw(lines: str, shipment_id: str = "SH-1", order_id: str = '"SO-1001"') -> str:
    """A shipment body written by hand (json.dumps cannot write what the fuzzer found)."""
    return f'{{"shipment_id": "{shipment_id}", "order_id": {order_id}, "ship_date": "2026-11-27", "lines": {lines}}}'


def conflicts(shipment_id):
    from billing.store.items import ShipmentItem, bind, plain, shipment_guard_key

    bind()
    pk = shipment_guard_key(shipment_id)[0]
    return [plain(it.data) for it in ShipmentItem.query(pk, ShipmentItem.sk.startswith("CONFLICT#"))]


NESTED_40 = "[" * 40 + "]" * 40
NESTED_OBJECT_40 = '{"a": ' * 40 + "1" + "}" * 40
LINE = '{"line_id": "1", "quantity": "0.01"}'

REJECTED = {
    "nan": (raw('[{"line_id": "1", "quantity": NaN}]'), [{"line_id": "1", "quantity": "<NaN>"}], "NaN"),
    "1e400": (raw('[{"line_id": "1", "quantity": 1e400}]'), [{"line_id": "1", "quantity": "<1e400>"}], "1e400"),
    "-infinity": (
        raw('[{"line_id": "1", "quantity": -Infinity}]'),
        [{"line_id": "1", "quantity": "<-Infinity>"}],
        "-Infinity",
    ),
    "huge-integer": (raw('[{"line_id": "1", "quantity": 1' + "0" * 5000 + "}]"), None, "not JSON numbers"),
    "number": (raw('[{"line_id": "1", "quantity": 2.5}]'), [{"line_id": "1", "quantity": "<number 2.5>"}], "string"),
    "nested-40-lines": (raw(NESTED_40), [], "1 line entries not kept"),
    "nested-40-quantity": (
        raw(f'[{{"line_id": "1", "quantity": {NESTED_OBJECT_40}}}]'),
        [{"line_id": "1", "quantity": "<object>"}],
        "lines.0.quantity",
    ),
    "empty-key": (
        raw('[{"line_id": "1", "quantity": "2", "": "x"}]'),
        [{"line_id": "1", "quantity": "2"}],
        "lines.0.: Extra inputs are not permitted",
    ),
    "300-lines": (raw("[" + ", ".join([LINE] * 300) + "]"), [{"line_id": "1", "quantity": "0.01"}] * 200, "200"),
    "lone-surrogate": (
        raw('[{"line_id": "\\ud800", "quantity": "2"}]'),
        [{"line_id": "\\ud800", "quantity": "2"}],
        "line_id",
    ),
    "100-kb-line-id": (raw(f'[{{"line_id": "{"x" * 100_000}", "quantity": "2"}}]'), None, "line_id"),
    "missing-fields": (raw('[{"quantity": null}]'), [{"line_id": "<missing>", "quantity": "<null>"}], "line_id"),
}


@pytest.mark.parametrize("case", list(REJECTED), ids=list(REJECTED))
def test_an_invalid_shipment_is_recorded_rejected_with_a_sanitized_copy_and_never_retried(client, order, capsys, case):
    body, lines, in_detail = REJECTED[case]
    result, outcomes, logs = observe(capsys, body)
    assert (result, outcomes) == ({"batchItemFailures": []}, {"rejected": 1})
    doc = store.get_shipment("SH-1")
    assert doc is not None and (doc["status"], doc["reason"]) == ("rejected", "invalid")
    detail = doc["detail"] or ""
    assert in_detail in detail and len(detail) <= 2000
    assert (doc["order_id"], doc["ship_date"], doc["message_id"]) == ("SO-1001", "2026-11-27", "m-0")
    if lines is not None:
        assert doc["lines"] == lines
    assert len(doc["lines"]) <= 200
    for ln in doc["lines"]:  # only {line_id, quantity}, short strings: no floats, NaN or nesting
        assert set(ln) == {"line_id", "quantity"} and all(isinstance(v, str) and len(v) <= 64 for v in ln.values())
    assert shipments(client, order)["SH-1"] == doc  # listed under its order, nothing shipped
    assert client.get(order).json()["lines"][0]["shipped_quantity"] == "0"
    assert any(log["message"] == "shipment rejected" and log["message_id"] == "m-0" for log in logs)

    # the same message again is a duplicate: nothing written
    before = table_snapshot()
    assert observe(capsys, body)[:2] == ({"batchItemFailures": []}, {"duplicate": 1})
    assert table_snapshot() == before


def test_a_long_string_is_truncated_so_that_two_long_ones_still_differ(client, order):
    ship(raw(f'[{{"line_id": "{"x" * 1000}a", "quantity": "2"}}]', shipment_id="SH-a"))
    ship(raw(f'[{{"line_id": "{"x" * 1000}b", "quantity": "2"}}]', shipment_id="SH-b"))
    a, b = (shipments(client, order)[s]["lines"][0]["line_id"] for s in ("SH-a", "SH-b"))
    assert len(a) == len(b) == 64 and a.startswith("x" * 50) and a != b


UNPARSEABLE = {
    "not-json": "{not json",
    "array": "[1, 2]",
    "string": '"SH-1"',
    "null": "null",
    "number": "1e400",
    "nan": "NaN",
    "300-kb-body": json.dumps({**json.loads(shipment_message("SH-1")), "note": "x" * 300 * 1024}),
    "nested-5000": '{"shipment_id": "SH-1", "lines": ' + "[" * 5000 + "]" * 5000 + "}",
    "no-shipment-id": json.dumps({"order_id": "SO-1001"}),
    "shipment-id-nan": '{"shipment_id": NaN}',
    "shipment-id-too-long": shipment_message("S" * 65),
    "shipment-id-lone-surrogate": raw("[]", shipment_id="SH-\\ud800"),
}


@pytest.mark.parametrize("case", list(UNPARSEABLE), ids=list(UNPARSEABLE))
def test_an_unreadable_message_is_logged_counted_and_acknowledged(client, order, capsys, case):
    before = table_snapshot()
    result, outcomes, logs = observe(capsys, UNPARSEABLE[case])
    assert (result, outcomes) == ({"batchItemFailures": []}, {"unparseable": 1})
    assert table_snapshot() == before
    (log,) = [log for log in logs if log["level"] == "ERROR"]
    assert log["message_id"] == "m-0" and log["why"] and len(log["body"]) <= 500


def test_a_known_shipment_id_with_other_content_is_a_conflict_recorded_once(client, order, capsys):
    assert observe(capsys, shipment_message("SH-1"))[1] == {"not_invoiced": 1}
    recorded = shipments(client, order)["SH-1"]
    other = shipment_message("SH-1", lines=[{"line_id": "1", "quantity": "3"}])
    result, outcomes, logs = observe(capsys, other)
    assert (result, outcomes) == ({"batchItemFailures": []}, {"conflict": 1})
    assert shipments(client, order)["SH-1"] == recorded  # the shipment is unchanged
    assert client.get(order).json()["lines"][0]["shipped_quantity"] == "2"
    (conflict,) = conflicts("SH-1")
    assert conflict["received"]["lines"] == [{"line_id": "1", "quantity": "3"}]
    assert conflict["recorded"]["lines"] == [{"line_id": "1", "quantity": "2"}]
    assert conflict["recorded"]["status"] == "not_invoiced" and conflict["message_id"] == "m-0"
    (warning,) = [log for log in logs if log["level"] == "WARNING"]
    assert "1x3" in warning["received"] and "1x2" in warning["recorded"] and warning["shipment_id"] == "SH-1"

    # the conflicting message redelivered: recorded once
    before = table_snapshot()
    assert observe(capsys, other)[:2] == ({"batchItemFailures": []}, {"duplicate": 1})
    assert table_snapshot() == before
    # another date is another conflict; an invalid message with that id too
    assert observe(capsys, shipment_message("SH-1", ship_date="2026-11-28"))[1] == {"conflict": 1}
    assert observe(capsys, raw('[{"line_id": "1", "quantity": NaN}]'))[1] == {"conflict": 1}
    assert len(conflicts("SH-1")) == 3
    assert shipments(client, order)["SH-1"] == recorded


def test_a_corrected_message_after_a_rejected_one_is_a_conflict_not_a_duplicate(client, order, capsys):
    """The sanitized copy of the rejected one equals the corrected one (the empty key is not kept):
    what made it invalid is compared too, so the correction is not dropped as a redelivery."""
    assert observe(capsys, raw('[{"line_id": "1", "quantity": "2", "": "x"}]'))[1] == {"rejected": 1}
    assert observe(capsys, shipment_message("SH-1"))[1] == {"conflict": 1}
    assert shipments(client, order)["SH-1"]["status"] == "rejected"
    (conflict,) = conflicts("SH-1")
    assert conflict["received"]["invalid"] is None and "Extra inputs" in conflict["recorded"]["invalid"]


def test_the_same_message_twice_is_one_shipment_then_a_duplicate(client, order, auto_invoice, capsys):
    assert observe(capsys, shipment_message("SH-1"))[:2] == ({"batchItemFailures": []}, {"invoiced": 1})
    before = table_snapshot()
    assert observe(capsys, shipment_message("SH-1"))[:2] == ({"batchItemFailures": []}, {"duplicate": 1})
    assert table_snapshot() == before
    assert conflicts("SH-1") == []


def _cancel_with(code, shipment_id="SH-1"):
    """Cancel every TransactWriteItems that records ``shipment_id`` as DynamoDB does for ``code`` on
    that shipment's guard (the request never reaches the table)."""
    from billing.store.items import shipment_guard_key

    guard = {"S": shipment_guard_key(shipment_id)[0]}
    seen = []

    def cancelling(operation, params, proceed):
        items = params.get("TransactItems", [])
        keys = [(op.get("Put") or op.get("Update") or op.get("ConditionCheck") or {}) for op in items]
        at = [i for i, op in enumerate(keys) if (op.get("Item") or op.get("Key") or {}).get("pk") == guard]
        if operation != "TransactWriteItems" or not at:
            return proceed()
        seen.append(operation)
        reasons: list[Any] = [{"Code": "None"}] * len(items)
        reasons[at[0]] = {"Code": code, "Message": "One or more parameter values were invalid"}
        raise ClientError(
            {
                "Error": {
                    "Code": "TransactionCanceledException",
                    "Message": "Transaction cancelled, please refer cancellation reasons for specific reasons "
                    f"[{', '.join(r['Code'] for r in reasons)}]",
                },
                "CancellationReasons": reasons,
            },
            operation,
        )

    return cancelling, seen


@pytest.mark.parametrize(
    "body", [raw('[{"line_id": "1", "quantity": NaN}]'), raw("[]", order_id='"SO-404"')], ids=["invalid", "unknown"]
)
def test_a_cancellation_that_is_not_a_failed_guard_is_a_batch_failure_not_a_duplicate(client, order, capsys, body):
    cancelling, seen = _cancel_with("ValidationError")
    with intercept(cancelling):
        result, outcomes, _ = observe(capsys, shipment_message("SH-0"), body)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}  # reported, so SQS retries it
    assert "duplicate" not in outcomes and "rejected" not in outcomes
    assert store.get_shipment("SH-1") is None and store.get_shipment("SH-0") is not None
    assert len(seen) == 1  # one write: the rejected path does not take it for a race or a duplicate
    # redelivered once DynamoDB accepts it: recorded
    assert observe(capsys, body)[1] == {"rejected": 1}


def test_a_cancelled_shipment_write_is_retried_then_reported(client, order, capsys, monkeypatch):
    monkeypatch.setattr("billing.service.time.sleep", lambda s: None)  # the backoff, not what is tested
    cancelling, _ = _cancel_with("ValidationError")
    with intercept(cancelling):
        result, outcomes, _ = observe(capsys, shipment_message("SH-1"), shipment_message("SH-2"))
    assert (result, outcomes) == ({"batchItemFailures": [{"itemIdentifier": "m-0"}]}, {"not_invoiced": 1})
    assert store.get_shipment("SH-1") is None
