"""R17: every change to a job publishes its events exactly once, in order, numbered without gaps,
through the real path: the handlers, the transaction's outbox item, the table's stream (the
template's event source mapping and filter), the publisher function, the bus (``events`` fixture)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from billing.events import event_id
from local.fixtures import ADMIN, CLERK, order_body, run_automation, scheduled_event, ship, shipment_message
from tests.conftest import Client, table_snapshot
from tests.integration.test_concurrency import Request, ddblocal, environments, send_at_once

__all__ = ["environments"]  # the fixture, used here too

ORDER = "/orders/SO-1001"
SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "events"


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["detail-type"] for e in events]


def doc(event: dict[str, Any]) -> dict[str, Any]:
    name = {"JobRegistered": "job", "JobFinalized": "job", "JobReopened": "job", "ShipmentRecorded": "shipment",
            "ChangeOrderApplied": "change_order", "InvoiceIssued": "invoice", "InvoiceVoided": "invoice"}  # fmt: skip
    out: dict[str, Any] = event["detail"][name.get(event["detail-type"], "record")]
    return out


def assert_valid(events: list[dict[str, Any]]) -> None:
    """Each event is what docs/events/<type>.schema.json says (the schemas consumers are given)."""
    for e in events:
        schema = json.loads((SCHEMAS / f"{e['detail-type']}.schema.json").read_text())
        jsonschema.validate(e, schema)


def life_of_a_job(client: Client) -> list[str]:
    """A long order's whole life; returns the event types each step must have published, in order."""
    clerk = Client(CLERK)
    assert client.put("/settings", {"auto_invoice_on_shipment": True}).status == 200
    expected = []

    assert clerk.post("/orders", order_body()).status == 201
    expected += ["JobRegistered"]
    assert ship(shipment_message("SH-1"))["batchItemFailures"] == []  # no deposit yet: invoiced
    expected += ["ShipmentRecorded", "InvoiceIssued"]
    due = clerk.post(f"{ORDER}/progress-billings", {"amount": "100.00", "schedule": True, "invoice_date": "2026-12-01"})
    assert due.status == 201
    expected += ["ProgressBillingScheduled"]
    deposit = clerk.post(f"{ORDER}/progress-billings", {"amount": "200.00", "title": "Mobilisation"})
    assert deposit.status == 201
    expected += ["InvoiceIssued"]
    record_id = due.json()["record"]["record_id"]
    patch = clerk.request("PATCH", f"{ORDER}/progress-billings/{record_id}", {"amount": "150.00"})
    assert patch.status == 200
    expected += ["ProgressBillingScheduled"]
    assert run_automation(scheduled_event("2026-12-01T06:00:00Z"))["invoiced"] == 1
    expected += ["InvoiceIssued"]
    later = clerk.post(
        f"{ORDER}/progress-billings", {"amount": "50.00", "schedule": True, "invoice_date": "2027-01-01"}
    )
    expected += ["ProgressBillingScheduled"]
    assert clerk.delete(f"{ORDER}/progress-billings/{later.json()['record']['record_id']}").status == 200
    expected += ["ProgressBillingCancelled"]
    co = {"reason": "two more", "lines": [{"line_id": "1", "quantity": "12"}]}
    assert clerk.post(f"{ORDER}/change-orders", co).status == 201
    expected += ["ChangeOrderApplied"]
    assert ship(shipment_message("SH-2"))["batchItemFailures"] == []  # deposits now: not invoiced
    expected += ["ShipmentRecorded"]
    void = client.post(f"/invoices/{deposit.json()['invoice']['invoice_id']}/void", {"reason": "wrong amount"})
    assert void.status == 201
    expected += ["InvoiceIssued", "InvoiceVoided"]
    assert clerk.post(f"{ORDER}/progress-billings", {"amount": "10.00", "schedule": True, "invoice_date": "2027-02-01"})
    expected += ["ProgressBillingScheduled"]
    final = clerk.post(f"{ORDER}/final-invoice")
    assert final.status == 201
    expected += ["InvoiceIssued", "ProgressBillingCancelled", "JobFinalized"]
    assert client.post(f"/invoices/{final.json()['invoice']['invoice_id']}/void", {"reason": "reissue"}).status == 201
    expected += ["InvoiceIssued", "InvoiceVoided", "JobReopened"]
    assert clerk.post(f"{ORDER}/final-invoice", {"title": "Final, reissued"}).status == 201
    expected += ["InvoiceIssued", "JobFinalized"]
    return expected


def test_a_long_jobs_whole_life_publishes_each_event_once_in_order_without_gaps(client, events):
    expected = life_of_a_job(client)
    published = events.published()

    assert types(published) == expected
    details = [e["detail"] for e in published]
    assert [d["sequence"] for d in details] == list(range(1, len(expected) + 1))
    assert [d["event_id"] for d in details] == [event_id("order", "SO-1001", n) for n in range(1, len(expected) + 1)]
    assert {(d["kind"], d["job_id"]) for d in details} == {("order", "SO-1001")}
    assert all(e["source"] == "progress-billing" for e in published)
    assert [d["occurred_at"] for d in details] == sorted(d["occurred_at"] for d in details)
    assert_valid(published)

    actors = [d["actor"]["sub"] for d in details]
    assert actors[0] == CLERK["sub"]
    assert actors[1:3] == ["shipments", "shipments"]
    assert actors[6] == "automation"  # the automation's invoice
    assert actors[expected.index("InvoiceVoided")] == ADMIN["sub"]

    # the documents are the ones the API answers with, as they were at that change
    invoices = [doc(e) for e in published if e["detail-type"] == "InvoiceIssued"]
    assert [i["type"] for i in invoices] == ["shipment", "deposit", "deposit", "credit_note", "final", "credit_note",
                                             "final"]  # fmt: skip
    for i in invoices:
        now = client.get(f"/invoices/{i['invoice_id']}").json()
        assert {k: v for k, v in now.items() if not k.startswith(("void", "status"))} == {
            k: v for k, v in i.items() if not k.startswith(("void", "status"))
        }
    assert all(i["status"] == "issued" for i in invoices)
    voided = [doc(e) for e in published if e["detail-type"] == "InvoiceVoided"]
    assert [v["status"] for v in voided] == ["voided", "voided"]
    assert [v["voided_by_invoice_id"] for v in voided] == [invoices[3]["invoice_id"], invoices[5]["invoice_id"]]
    jobs = [doc(e) for e in published if e["detail-type"].startswith("Job")]
    assert [j["status"] for j in jobs] == ["open", "finalized", "open", "finalized"]
    assert doc(published[expected.index("ChangeOrderApplied")])["change_order_id"] == "CO-1"
    cancelled_by_final = published[expected.index("JobFinalized") - 1]
    assert doc(cancelled_by_final)["cancelled_by_invoice_id"] == invoices[4]["invoice_id"]


def test_a_redelivered_stream_publishes_nothing_new_to_a_consumer_that_dedupes_on_event_id(client, events):
    expected = life_of_a_job(client)
    first = events.published()
    for player in events.players:  # the whole stream again, as after a shard's checkpoint was lost
        player._positions.clear()
    again = events.published()

    assert len(again) == 2 * len(first)
    assert again[: len(first)] == first
    assert [e["detail"] for e in again[len(first) :]] == [e["detail"] for e in first]  # same ids, same content
    seen: dict[str, dict[str, Any]] = {}
    for e in again:  # the consumer docs/events.md describes
        seen.setdefault(e["detail"]["event_id"], e)
    assert list(seen.values()) == first
    assert len(seen) == len(expected)


def test_a_rejected_request_publishes_nothing(client, events):
    assert client.post("/orders", order_body()).status == 201
    assert client.post(f"{ORDER}/progress-billings", {"amount": "900.00"}).status == 201
    before, snapshot = events.published(), table_snapshot()

    refused = [
        client.post(f"{ORDER}/progress-billings", {"amount": "200.00"}),  # 422 OVERBILLING
        client.post(f"{ORDER}/progress-billings", {"amount": 1}),  # 422 a JSON number
        client.post("/orders", order_body()),  # 409 ALREADY_EXISTS
        client.post("/orders/NOPE/final-invoice"),  # 404
        Client(CLERK).post(f"/invoices/{before[-1]['detail']['invoice']['invoice_id']}/void", {"reason": "x"}),  # 403
        client.post(f"{ORDER}/change-orders", {"reason": "x", "lines": [{"line_id": "1", "quantity": "1"}]}),  # 422
        client.post(f"{ORDER}/progress-billings", {"amount": "1.00"}, claims=None),  # 401
    ]
    assert [r.status for r in refused] == [422, 422, 409, 404, 403, 422, 401]
    assert events.published() == before
    assert table_snapshot() == snapshot  # no outbox item either
    assert client.post(f"{ORDER}/progress-billings", {"amount": "100.00"}).status == 201
    assert [e["detail"]["sequence"] for e in events.published()] == [1, 2, 3]


def test_a_resent_request_publishes_its_events_once(client, events):
    key = {"Idempotency-Key": "k-1"}
    assert client.post("/orders", order_body(), headers=key).status == 201
    for _ in range(3):
        assert (
            client.post(f"{ORDER}/progress-billings", {"amount": "10.00"}, headers={"Idempotency-Key": "k-2"}).status
            == 201
        )
        assert client.post(f"{ORDER}/final-invoice", headers={"Idempotency-Key": "k-3"}).status == 201
        assert client.post("/orders", order_body(), headers=key).status == 201
    assert ship(shipment_message("SH-1"), shipment_message("SH-1"))["batchItemFailures"] == []
    assert ship(shipment_message("SH-1"))["batchItemFailures"] == []  # SQS redelivers
    assert types(events.published()) == ["JobRegistered", "InvoiceIssued", "InvoiceIssued", "JobFinalized",
                                         "ShipmentRecorded"]  # fmt: skip


def test_events_wait_in_the_stream_while_the_bus_fails_and_are_published_once_it_recovers(client, events, monkeypatch):
    import botocore.client

    assert client.post("/orders", order_body()).status == 201
    real = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]
    down = {"on": True}

    def flaky(self: Any, operation: str, params: dict[str, Any]) -> Any:
        if operation == "PutEvents" and down["on"]:
            n = len(params["Entries"])
            return {
                "FailedEntryCount": n,
                "Entries": [{"ErrorCode": "ThrottlingException", "ErrorMessage": "slow"}] * n,
            }
        return real(self, operation, params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", flaky)
    monkeypatch.setattr("billing.publisher.time.sleep", lambda s: None)
    for player in events.players:
        player.trigger = type(player.trigger)(**{**player.trigger.__dict__, "max_retries": 1_000_000})
    down_calls = []

    def recover(event: Any, ctx: Any, handler: Any = events.players[0].handler) -> Any:
        down_calls.append(1)
        if len(down_calls) == 3:
            down["on"] = False
        return handler(event, ctx)

    events.players[0].handler = recover
    published = events.published()
    assert len(down_calls) == 3  # two deliveries reported the record failed, the third published it
    assert types(published) == ["JobRegistered"]


def test_a_record_that_cannot_be_published_goes_to_the_failure_queue_and_the_rest_still_flow(
    client, events, monkeypatch
):
    import boto3

    monkeypatch.setattr("billing.publisher.time.sleep", lambda s: None)
    assert client.post("/orders", order_body("SO-BAD")).status == 201
    assert client.post("/orders", order_body("SO-GOOD")).status == 201
    real = events.players[0].handler

    def poisoned(event: Any, ctx: Any) -> Any:  # the first job's record cannot be published, ever
        for r in event["Records"]:
            if "SO-BAD" in r["dynamodb"]["Keys"]["pk"]["S"]:
                return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]}]}
        return real(event, ctx)

    events.players[0].handler = poisoned
    published = events.published()
    assert [e["detail"]["job_id"] for e in published] == ["SO-GOOD"]
    sqs = boto3.client("sqs")
    url = sqs.get_queue_url(QueueName="EventsDeadLetterQueue")["QueueUrl"]
    failed = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [json.loads(m["Body"])["requestContext"]["condition"] for m in failed] == ["RetryAttemptsExhausted"]


@pytest.mark.parametrize("n", [1, 7])
def test_each_changes_events_are_one_outbox_item_in_its_own_partition(client, events, n):
    assert client.post("/orders", order_body()).status == 201
    for _ in range(n):
        assert client.post(f"{ORDER}/progress-billings", {"amount": "1.00", "schedule": True}).status == 201
    outbox = [i for i in table_snapshot() if i["pk"]["S"] == "EVENTS#order#SO-1001"]
    assert [i["sk"]["S"] for i in outbox] == [f"EVT#{k:010d}" for k in range(1, n + 2)]
    assert Counter(e["detail-type"] for e in events.published()) == {"JobRegistered": 1, "ProgressBillingScheduled": n}
    # the job's own partition (what its reads query) holds no event
    assert not [i for i in table_snapshot() if i["pk"]["S"] == "JOB#order#SO-1001" and "EVT" in i["sk"]["S"]]


@ddblocal
def test_concurrent_changes_of_one_job_are_numbered_without_gaps_or_repeats(client, events, environments):
    assert client.post("/orders", order_body()).status == 201  # 10 x 100.00
    requests = [Request("POST", f"{ORDER}/progress-billings", {"amount": "100.00", "title": f"d{i}"}) for i in range(8)]
    requests += [Request("POST", f"{ORDER}/progress-billings", {"amount": "1.00", "schedule": True}) for _ in range(4)]
    answers = send_at_once(environments, requests)
    committed = [a for a in answers if a.status == 201]
    published = events.published()

    assert [e["detail"]["sequence"] for e in published] == list(range(1, len(committed) + 2))
    assert Counter(types(published)) == {
        "JobRegistered": 1,
        "InvoiceIssued": sum(1 for a in committed if a.json()["invoice"]),
        "ProgressBillingScheduled": sum(1 for a in committed if not a.json()["invoice"]),
    }
    assert {doc(e)["invoice_id"] for e in published if e["detail-type"] == "InvoiceIssued"} == {
        a.json()["invoice"]["invoice_id"] for a in committed if a.json()["invoice"]
    }


def test_a_job_written_by_older_code_without_its_event_count_numbers_after_its_last_event(client, events):
    """During a deploy (or after a rollback) a function on the previous release rewrites the job item
    without ``event_count``: the next change finds its first number taken and continues after the last."""
    import os

    from tests.conftest import dynamodb

    assert client.post("/orders", order_body()).status == 201
    assert client.post(f"{ORDER}/progress-billings", {"amount": "10.00"}).status == 201
    dynamodb().update_item(
        TableName=os.environ["TABLE_NAME"],
        Key={"pk": {"S": "JOB#order#SO-1001"}, "sk": {"S": "#JOB"}},
        UpdateExpression="REMOVE #d.event_count",
        ExpressionAttributeNames={"#d": "data"},
    )
    assert client.post(f"{ORDER}/progress-billings", {"amount": "20.00"}).status == 201
    assert client.post(f"{ORDER}/progress-billings", {"amount": "30.00", "schedule": True}).status == 201

    published = events.published()
    assert [e["detail"]["sequence"] for e in published] == [1, 2, 3, 4]
    assert len({e["detail"]["event_id"] for e in published}) == 4
    assert types(published) == ["JobRegistered", "InvoiceIssued", "InvoiceIssued", "ProgressBillingScheduled"]


def test_the_sample_stream_event_is_published_as_it_says(events):
    """events/publish_events/outbox_insert.json (for ``sam local invoke PublishEventsFunction``)."""
    from local.fixtures import invoke_function

    sample = json.loads((SCHEMAS.parents[1] / "events" / "publish_events" / "outbox_insert.json").read_text())
    assert invoke_function("PublishEventsFunction", sample) == {"batchItemFailures": []}
    (published,) = events.tap.drain()
    written = json.loads(sample["Records"][0]["dynamodb"]["NewImage"]["events"]["S"])
    assert (published["detail-type"], published["detail"]) == (written[0]["type"], written[0]["detail"])
    assert_valid([published])
