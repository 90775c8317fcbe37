"""R18 for a stack with history: invoices and journal entries written before the registers existed
are put in the registers by the backfill (``python -m local.backfill``), exactly once."""

from __future__ import annotations

import os
from typing import Any

from local.fixtures import order_body
from tests.conftest import dynamodb, table_snapshot


def history(client: Any) -> None:
    """Invoices of two jobs over two months, a credit note among them."""
    assert client.post("/orders", order_body("SO-1")).status == 201
    assert client.post("/projects", {**order_body("P-1"), "customer_id": "C-9"}).status == 201
    for path, date in (("/orders/SO-1", "2026-11-03"), ("/orders/SO-1", "2026-12-01"), ("/projects/P-1", "2026-12-02")):
        assert client.post(f"{path}/progress-billings", {"amount": "100.00", "invoice_date": date}).status == 201
    first = client.get("/orders/SO-1/invoices").json()["items"][0]["invoice_id"]
    assert client.post(f"/invoices/{first}/void", {"reason": "wrong", "void_date": "2026-12-05"}).status == 201


def as_before_the_registers() -> None:
    """Strip what R18 writes: the index keys, the entries' kind and job id, the month counts."""
    ddb, table = dynamodb(), os.environ["TABLE_NAME"]
    for item in table_snapshot():
        key = {"pk": item["pk"], "sk": item["sk"]}
        pk, sk = item["pk"]["S"], item["sk"]["S"]
        if pk.startswith("INVOICE#"):
            ddb.update_item(TableName=table, Key=key, UpdateExpression="REMOVE gsi3pk, gsi3sk, gsi4pk, gsi4sk")
        elif pk.startswith("JOB#") and sk.startswith("JE#"):
            ddb.update_item(TableName=table, Key=key, UpdateExpression="REMOVE gsi3pk, gsi3sk, #d.kind, #d.job_id",
                            ExpressionAttributeNames={"#d": "data"})  # fmt: skip
        elif pk == "MONTHS":
            ddb.delete_item(TableName=table, Key=key)


def registers(client: Any) -> tuple[Any, ...]:
    return (
        client.get("/invoices").json(),
        client.get("/invoices", query="customer_id=C-9").json(),
        client.get("/invoices", query="from=2026-12-01&to=2026-12-31&type=credit_note").json(),
        client.get("/ledger/entries").json(),
        client.get("/ledger/entries", query="format=csv").body,
    )


def test_a_backfill_puts_the_history_in_the_registers_once(client, capsys):
    from billing.store.backfill import backfill
    from local.backfill import main

    history(client)
    before = registers(client)
    assert len(before[0]["items"]) == 4 and len(before[3]["items"]) == 4
    as_before_the_registers()
    assert client.get("/invoices").json()["items"] == []  # the registers cannot see the history

    done = backfill()
    assert (done.invoices, done.entries, done.skipped) == (4, 4, 0)
    assert registers(client) == before
    indexed = table_snapshot()

    assert main(["--table", os.environ["TABLE_NAME"]]) == 0  # again, by its command: nothing to do
    assert "indexed 0 invoices and 0 journal entries (0 skipped)" in capsys.readouterr().out
    assert table_snapshot() == indexed
    # and what is issued afterwards is counted once, by its own transaction
    assert client.post("/orders/SO-1/progress-billings", {"amount": "5.00", "invoice_date": "2026-12-09"}).status == 201
    assert backfill().invoices == 0
    assert [i["total"] for i in client.get("/invoices", query="from=2026-12-09").json()["items"]] == ["5.00"]
