"""R17's pure parts: which events a change publishes and how they are numbered and sized
(billing.events), and how the publisher puts them on the bus (billing.publisher)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from billing import events, publisher
from billing.documents import AUTOMATION_ACTOR, InvoiceType, Kind, RecordStatus
from billing.events import DETAIL_MAX, OUTBOX_MAX, EventType, Happened, derive, event_id
from billing.model import Job, Record

AT = "2026-12-01T09:00:00.000Z"


def job(count: int = 0) -> Job:
    return Job(Kind.PROJECT, "P-1", "C-7", "Acme", "USD", [], Decimal("0"), event_count=count)


def record(status: RecordStatus, description: str = "") -> Record:
    return Record("PB-1", Kind.PROJECT, "P-1", "2026-12-01", "t", description, "", Decimal("1.00"), None, "USD",
                  status, True, AT)  # fmt: skip


def test_events_continue_the_jobs_sequence_with_stable_ids_and_advance_its_count():
    j = job(count=41)
    out = derive(Happened(j, AUTOMATION_ACTOR, AT, records=[record(RecordStatus.FAILED)]))
    assert [e["type"] for e in out] == ["ProgressBillingFailed"]
    d = out[0]["detail"]
    assert (d["sequence"], d["event_id"], j.event_count) == (42, event_id("project", "P-1", 42), 42)
    assert (d["kind"], d["job_id"], d["occurred_at"], d["actor"]) == ("project", "P-1", AT, dict(AUTOMATION_ACTOR))
    assert d["record"]["status"] == "failed"
    assert event_id("project", "P-1", 42) != event_id("order", "P-1", 42) != event_id("project", "P-1", 43)


def test_a_record_publishes_by_its_new_status_and_an_invoiced_one_through_its_invoice():
    def types_for(status: RecordStatus) -> list[str]:
        return [e["type"] for e in derive(Happened(job(), AUTOMATION_ACTOR, AT, records=[record(status)]))]

    assert types_for(RecordStatus.PENDING) == ["ProgressBillingScheduled"]
    assert types_for(RecordStatus.CANCELLED) == ["ProgressBillingCancelled"]
    assert types_for(RecordStatus.INVOICED) == types_for(RecordStatus.VOIDED) == []


def test_a_final_invoice_and_the_void_of_one_publish_their_facts_in_order():
    final = {"invoice_id": "INV-000009", "type": InvoiceType.FINAL}
    out = derive(Happened(job(), AUTOMATION_ACTOR, AT, invoice=final, cancelled=["PB-2", "PB-3"]))
    assert [e["type"] for e in out] == ["InvoiceIssued", "ProgressBillingCancelled", "ProgressBillingCancelled",
                                        "JobFinalized"]  # fmt: skip
    assert [e["detail"]["sequence"] for e in out] == [1, 2, 3, 4]
    assert out[1]["detail"]["record"] == {"record_id": "PB-2", "kind": "project", "job_id": "P-1",
        "status": "cancelled", "updated_at": AT, "cancelled_by_invoice_id": "INV-000009", "partial": True}  # fmt: skip
    credit = {"invoice_id": "INV-000010", "type": InvoiceType.CREDIT_NOTE}
    voided = {**final, "status": "voided"}
    out = derive(Happened(job(4), AUTOMATION_ACTOR, AT, invoice=credit, voided=voided))
    assert [(e["type"], e["detail"]["sequence"]) for e in out] == [
        ("InvoiceIssued", 5), ("InvoiceVoided", 6), ("JobReopened", 7)]  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=60_000), min_size=1, max_size=60))
def test_every_event_and_every_change_fit_eventbridge_and_an_item_whatever_the_documents(sizes):
    records = [record(RecordStatus.PENDING, "é" * n) for n in sizes]  # 2 bytes a character
    out = derive(Happened(job(), AUTOMATION_ACTOR, AT, records=records))
    lengths = [events.size(e["detail"]) for e in out]
    assert max(lengths) <= DETAIL_MAX and sum(lengths) <= OUTBOX_MAX
    assert [e["detail"]["sequence"] for e in out] == list(range(1, len(sizes) + 1))
    for e, n in zip(out, sizes, strict=True):  # a summary keeps what identifies the record
        rec = e["detail"]["record"]
        assert rec["record_id"] == "PB-1" and rec["status"] == "pending"
        assert rec.get("truncated") or rec["description"] == "é" * n


# ---- the publisher --------------------------------------------------------------------------------


def stream_record(seq: str, n: int, size: int = 10) -> dict[str, Any]:
    evs = [{"type": "InvoiceIssued", "detail": {"sequence": i, "occurred_at": AT, "pad": "x" * size}}
           for i in range(n)]  # fmt: skip
    return {"dynamodb": {"SequenceNumber": seq, "NewImage": {"events": {"S": json.dumps(evs)}}}}


class Bus:
    """PutEvents that fails the entries ``fail(entry)`` says, and records what it accepted."""

    def __init__(self, fail: Any = lambda e: False) -> None:
        self.fail = fail
        self.accepted: list[dict[str, Any]] = []
        self.calls: list[int] = []

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(len(Entries))
        results = [{"ErrorCode": "Throttling"} if self.fail(e) else {"EventId": "x"} for e in Entries]
        self.accepted += [e for e, r in zip(Entries, results, strict=True) if "EventId" in r]
        return {"FailedEntryCount": sum("ErrorCode" in r for r in results), "Entries": results}


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=120_000), max_size=40))
def test_chunks_keep_the_order_within_eventbridges_limits(sizes):
    entries = [{"Source": "s", "DetailType": "t", "Detail": "x" * n, "Time": AT} for n in sizes]
    chunks = list(publisher.chunks(entries))
    assert [e for c in chunks for e in c] == entries
    for c in chunks:
        assert 1 <= len(c) <= publisher.ENTRIES_MAX
        assert len(c) == 1 or sum(publisher._size(e) for e in c) <= publisher.REQUEST_MAX


def test_entries_that_eventbridge_refused_are_retried_alone(monkeypatch):
    monkeypatch.setattr("billing.publisher.time.sleep", lambda s: None)
    refused = {"n": 0}

    def once(entry: dict[str, Any]) -> bool:  # the third entry is refused the first time only
        if json.loads(entry["Detail"])["sequence"] == 2 and refused["n"] == 0:
            refused["n"] = 1
            return True
        return False

    bus = Bus(once)
    assert publisher.publish({"Records": [stream_record("1", 12)]}, bus.put_events, "b") == {"batchItemFailures": []}
    assert bus.calls == [10, 1, 2]  # the first chunk, its refused entry again, the second chunk
    assert sorted(json.loads(e["Detail"])["sequence"] for e in bus.accepted) == list(range(12))
    assert {e["EventBusName"] for e in bus.accepted} == {"b"}


def test_the_first_record_not_published_is_reported_and_nothing_after_it_is_put(monkeypatch):
    monkeypatch.setattr("billing.publisher.time.sleep", lambda s: None)
    bus = Bus(lambda e: json.loads(e["Detail"])["pad"] == "y")
    bad = stream_record("2", 1, size=1)
    bad["dynamodb"]["NewImage"]["events"]["S"] = bad["dynamodb"]["NewImage"]["events"]["S"].replace('"x"', '"y"')
    batch = {"Records": [stream_record("1", 2), bad, stream_record("3", 1)]}
    assert publisher.publish(batch, bus.put_events, "b") == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert len(bus.accepted) == 2  # record 1's; record 3 waits for Lambda's retry from record 2
    unreadable = {"Records": [{"dynamodb": {"SequenceNumber": "7", "NewImage": {}}}]}
    assert publisher.publish(unreadable, bus.put_events, "b") == {"batchItemFailures": [{"itemIdentifier": "7"}]}


def test_eventbridge_unreachable_is_a_reported_failure_not_a_crash():
    def down(**kwargs: Any) -> dict[str, Any]:
        raise ConnectionError("no route")

    assert publisher.publish({"Records": [stream_record("5", 1)]}, down, "b") == {
        "batchItemFailures": [{"itemIdentifier": "5"}]
    }


def test_every_event_type_names_its_document():
    assert set(events.DOCUMENT) == set(EventType)
    assert set(events.DOCUMENT.values()) == {"job", "record", "invoice", "change_order", "shipment"}


def test_with_little_time_left_the_rest_of_the_batch_is_handed_back():
    bus = Bus()
    left = iter([60_000, 9_000])
    batch = {"Records": [stream_record("1", 1), stream_record("2", 1), stream_record("3", 1)]}
    answer = publisher.publish(batch, bus.put_events, "b", lambda: next(left))
    assert answer == {"batchItemFailures": [{"itemIdentifier": "2"}]}
    assert len(bus.accepted) == 1
