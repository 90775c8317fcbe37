"""The benchmark's measuring on tiny cases (bench/): round-trip counting against the floors, the
seeding of the scale benchmark (items in the store's exact shape, which the real code then reads
and invoices), and the moto patch that makes transactions cheap without making them less atomic."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from bench import roundtrips, scale
from bench.roundtrips import FLOORS, count, verdict
from tests.conftest import ROOT, order_body


def test_counting_get_job_and_create_now_meets_their_floors(client):
    assert client.post("/orders", order_body()).status == 201
    client.post("/orders/SO-1001/progress-billings", {"amount": "1.00"})  # warm-up
    got = count(lambda: client.get("/orders/SO-1001"))
    assert (got.calls, got.items_read, got.operations) == (1, 1, ("GetItem",))
    assert verdict(got, FLOORS["get job"]) == "at floor"
    got = count(lambda: client.post("/orders/SO-1001/progress-billings", {"amount": "100.00"}))
    assert got.operations == ("BatchGetItem", "TransactWriteItems")
    assert got.items_read == 2  # job and counter: no settings item in this table
    assert verdict(got, FLOORS["create now (amount)"]) == "at floor"


def test_seeded_history_is_read_and_invoiced_by_the_real_code(client):
    from billing import service, store

    seeded = scale.seed(10, [2, 1])
    assert seeded["due"] == {scale.DUE_DATES[0]: 2, scale.DUE_DATES[1]: 1}
    assert seeded["invoices_in_history"] == 10 * 2 + 1  # two deposits each, one job (the tenth) finalized
    job = store.get_job("order", "J000000")
    assert len(job.deposits) == 2 and job.version == 3  # registered + two deposits + its due record
    assert len(store.get_job("project", "J000009").deposits) == 2
    assert store.get_job("project", "J000009").status == "finalized"
    # the counter continues the history's numbering
    created = client.post("/orders/J000004/progress-billings", {"amount": "1.00"}).json()
    assert created["invoice"]["number"] == f"INV-{seeded['invoices_in_history'] + 1:06d}"
    run = scale.run_once(scale.DUE_DATES[0])
    assert (run["invoiced"], run["calls_per_record"] > 2, run["items_read_per_record"]) == (2, True, 4.0)
    assert run["calls_by_operation"] == {"BatchGetItem": 2, "Query": 1, "TransactWriteItems": 2}
    assert scale.run_once(scale.DUE_DATES[1])["invoiced"] == 1
    assert all(t["balanced"] for t in service.trial_balance()["totals"])


def test_the_moto_patch_keeps_transactions_all_or_nothing():
    """In a subprocess: the patch is process-wide, and the other tests use moto as it is."""
    script = textwrap.dedent("""
        import json, boto3
        from moto import mock_aws
        from bench.sandbox import fast_moto
        fast_moto()
        with mock_aws():
            c = boto3.client("dynamodb", region_name="us-east-1")
            c.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                           BillingMode="PAY_PER_REQUEST")
            c.put_item(TableName="t", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
            failed = False
            try:
                c.transact_write_items(TransactItems=[
                    {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET n = :two",
                                "ExpressionAttributeValues": {":two": {"N": "2"}}}},
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}}}},
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": "a2"}},
                             "ConditionExpression": "attribute_exists(pk)"}},
                ])
            except c.exceptions.TransactionCanceledException:
                failed = True
            after = {i["pk"]["S"]: i.get("n", {}).get("N") for i in c.scan(TableName="t")["Items"]}
            c.transact_write_items(TransactItems=[
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}}}},
                {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET n = :two",
                            "ExpressionAttributeValues": {":two": {"N": "2"}}}},
            ])
            done = {i["pk"]["S"]: i.get("n", {}).get("N") for i in c.scan(TableName="t")["Items"]}
        print(json.dumps([failed, after, done]))
    """)
    fake = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         check=False, env=fake)
    assert out.returncode == 0, out.stderr
    failed, after, done = json.loads(out.stdout.strip().splitlines()[-1])
    assert failed and after == {"a": "1"}  # the update and the put were rolled back
    assert done == {"a": "2", "b": None}


def test_keyed_operations_count_the_two_idempotency_calls(client):
    """A keyed create-now: Powertools' put and update around the same two calls."""
    assert client.post("/orders", order_body()).status == 201
    got = count(lambda: client.post("/orders/SO-1001/progress-billings", {"amount": "5.00"},
                                    headers={"Idempotency-Key": roundtrips.idempotency_key("create now (amount)", 0)}))
    assert got.operations == ("PutItem", "BatchGetItem", "TransactWriteItems", "UpdateItem")
    assert verdict(got, roundtrips.with_idempotency_key(FLOORS["create now (amount)"])) == "at floor"
