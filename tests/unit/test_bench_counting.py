"""The scale benchmark's measuring on a tiny table (bench/scale.py): the seeded history is the store's
own, the real code reads and invoices it, the calls and items read per due record are counted, and
the moto patch keeps transactions all-or-nothing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from bench import scale
from bench.env import ROOT


def test_seeded_history_is_read_and_invoiced_by_the_real_code(client):
    from billing import service, store

    seeded = scale.seed(10, [2, 1])
    assert seeded["due"] == {scale.DUE_DATES[0]: 2, scale.DUE_DATES[1]: 1}
    assert seeded["invoices_in_history"] == 10 * 2 + 1  # two deposits each, one job (the tenth) finalized
    assert seeded["pending_not_yet_due"] == 2  # jobs 4 and 8 (job 0 has a record due instead)
    job = store.get_job("order", "J000000")
    assert len(job.deposits) == 2 and job.version == 3  # registered + two deposits + its due record
    assert store.get_job("project", "J000009").status == "finalized"
    # the counter continues the history's numbering
    created = client.post("/orders/J000004/progress-billings", {"amount": "1.00"}).json()
    assert created["invoice"]["number"] == f"INV-{seeded['invoices_in_history'] + 1:06d}"
    assert all(t["balanced"] for t in service.trial_balance()["totals"])


def test_a_run_counts_calls_and_items_read_per_due_record(client):
    scale.seed(12, [3, 1])
    run = scale.run_once(scale.DUE_DATES[0])
    assert (run["invoiced"], run["result"]["complete"]) == (3, True)
    # and the run's own item (R18)
    assert run["calls_by_operation"] == {"BatchGetItem": 3, "PutItem": 1, "Query": 1, "TransactWriteItems": 3}
    # per record: the record from the index, then job, counter and settings
    assert (run["items_read"], run["items_read_per_record"]) == (12, 4.0)
    assert run["calls_per_record"] == 8 / 3
    ms = run["ms_per_record"]
    assert 0 < ms["in DynamoDB calls (botocore + moto)"] < ms["total"]
    service = ms["total"] - ms["in DynamoDB calls (botocore + moto)"]
    assert ms["service (billing, pynamodb, Powertools)"] == pytest.approx(service)
    later = scale.run_once(scale.DUE_DATES[1])  # the first run's records are no longer due
    assert (later["invoiced"], later["items_read_per_record"]) == (1, 4.0)


def test_the_moto_patch_keeps_transactions_all_or_nothing():
    """In a subprocess: the patch is process-wide, and the other tests use moto as it is."""
    script = textwrap.dedent("""
        import json, boto3
        from moto import mock_aws
        from bench.scale import fast_moto
        fast_moto()
        with mock_aws():
            c = boto3.client("dynamodb", region_name="us-east-1")
            c.create_table(TableName="t", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                           BillingMode="PAY_PER_REQUEST")
            c.put_item(TableName="t", Item={"pk": {"S": "a"}, "n": {"N": "1"}})
            update = {"Update": {"TableName": "t", "Key": {"pk": {"S": "a"}}, "UpdateExpression": "SET n = :two",
                                 "ExpressionAttributeValues": {":two": {"N": "2"}}}}
            failed = False
            try:
                c.transact_write_items(TransactItems=[update, {"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}}}},
                    {"Put": {"TableName": "t", "Item": {"pk": {"S": "a2"}},
                             "ConditionExpression": "attribute_exists(pk)"}}])
            except c.exceptions.TransactionCanceledException:
                failed = True
            after = {i["pk"]["S"]: i.get("n", {}).get("N") for i in c.scan(TableName="t")["Items"]}
            c.transact_write_items(TransactItems=[{"Put": {"TableName": "t", "Item": {"pk": {"S": "b"}}}}, update])
            done = {i["pk"]["S"]: i.get("n", {}).get("N") for i in c.scan(TableName="t")["Items"]}
            too_big = False
            try:
                c.put_item(TableName="t", Item={"pk": {"S": "big"}, "v": {"S": "x" * 410_000}})
            except c.exceptions.ClientError:
                too_big = True
        print(json.dumps([failed, after, done, too_big]))
    """)
    fake = {"PATH": "/usr/bin:/bin", "AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x"}
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False, env=fake
    )
    assert out.returncode == 0, out.stderr
    failed, after, done, too_big = json.loads(out.stdout.strip().splitlines()[-1])
    assert failed and after == {"a": "1"}  # the update and the put were rolled back
    assert done == {"a": "2", "b": None}
    assert too_big  # the 400 KB item limit still holds
