"""Shipment messages from SQS (R8): recorded once, invoiced when the rules say so, never blocking."""

from __future__ import annotations

import json
from decimal import Decimal

import boto3
import pytest

from billing import store
from local.fixtures import order_body, ship, shipment_message


@pytest.fixture
def order(client):
    assert (
        client.post(
            "/orders",
            order_body(
                lines=[
                    {
                        "line_id": "1",
                        "item_code": "WIDGET",
                        "description": "Widget",
                        "quantity": "10",
                        "unit_price": "100.00",
                    },
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
