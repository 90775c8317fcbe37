"""R20: roles (checked before anything else about the request), the settings round trip with its
``version``, and the author (``created_by``) of every job, record, invoice and settings change."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from billing import service, store
from billing.documents import Actor
from billing.errors import StaleVersion
from billing.http import ROUTE_ROLES, Role
from billing.inputs import SettingsIn
from billing.model import Settings
from local import cfn
from local.fixtures import ADMIN, CLERK, READER, order_body, run_automation, scheduled_event, ship, shipment_message
from tests.conftest import dynamodb, table_snapshot

ROOT = Path(__file__).resolve().parents[2]
ALICE: Actor = {"sub": ADMIN["sub"], "username": ADMIN["cognito:username"]}  # alice
BOB: Actor = {"sub": CLERK["sub"], "username": CLERK["cognito:username"]}  # bob
UNKNOWN: Actor = {"sub": "unknown", "username": "unknown"}
ROUTES = sorted(cfn.http_routes(), key=lambda r: r.route_key)
WRITES = [r for r in ROUTES if r.method != "GET"]
READS = [r for r in ROUTES if r.method == "GET"]


@pytest.fixture
def order(client):
    assert client.post("/orders", order_body(), claims=CLERK).status == 201  # total 1000.00, by bob
    return "/orders/SO-1001"


def concrete(path: str) -> str:
    return path.replace("{job_id}", "SO-1001").replace("{record_id}", "PB-1").replace("{invoice_id}", "INV-000001")


def refused(r: Any) -> dict[str, Any]:
    assert r.status == 403, (r.status, r.body)
    err: dict[str, Any] = r.json()["error"]
    assert err["code"] == "FORBIDDEN" and err["message"]
    return err


# ---- the role of each route ---------------------------------------------------------------------


def test_every_template_route_declares_its_role():
    import billing.routes  # noqa: F401 - registering the routes declares their roles

    assert set(ROUTE_ROLES) == {r.route_key for r in ROUTES}
    assert {k for k, role in ROUTE_ROLES.items() if role == Role.ADMIN} == {
        "PUT /settings",
        "POST /invoices/{invoice_id}/void",
    }
    assert {k for k, role in ROUTE_ROLES.items() if role == Role.READER} == {r.route_key for r in READS}


def test_protected_routes_declare_403_in_the_openapi_document():
    doc = json.loads((ROOT / "docs/openapi.json").read_text())
    for r in ROUTES:
        answers = doc["paths"][r.path][r.method.lower()]["responses"]
        assert ("403" in answers) == (r.method != "GET"), r.route_key


@pytest.mark.parametrize("route", WRITES, ids=lambda r: r.route_key)
def test_a_reader_is_refused_every_write_and_nothing_changes(client, order, route):
    before = table_snapshot()
    refused(client.request(route.method, concrete(route.path), {}, claims=READER))
    assert table_snapshot() == before


@pytest.mark.parametrize("route", READS, ids=lambda r: r.route_key)
def test_a_reader_may_read_everything(client, order, route):
    assert client.post(f"{order}/progress-billings", {"amount": "100.00"}).status == 201  # INV-000001
    r = client.get(concrete(route.path), claims=READER)
    assert r.status in (200, 404), (r.status, r.body)  # 404: the project SO-1001 does not exist


def test_signed_in_without_the_groups_claim_is_a_reader(client, order):
    no_claim = {"sub": "u-9", "cognito:username": "zed"}
    assert client.get(order, claims=no_claim).status == 200
    refused(client.post(f"{order}/progress-billings", {"amount": "1.00"}, claims=no_claim))


@pytest.mark.parametrize("route", WRITES, ids=lambda r: r.route_key)
def test_a_clerk_is_refused_only_what_needs_an_admin(client, order, route):
    r = client.request(route.method, concrete(route.path), {}, claims=CLERK)
    if route.route_key in ("PUT /settings", "POST /invoices/{invoice_id}/void"):
        refused(r)
    else:
        assert r.status != 403, (r.status, r.body)


def test_a_clerk_does_the_clerks_work(client, order):
    rec = client.post(
        f"{order}/progress-billings", {"amount": "100.00", "schedule": True, "invoice_date": "2027-01-01"}, claims=CLERK
    )
    assert rec.status == 201
    record_id = rec.json()["record"]["record_id"]
    assert client.delete(f"{order}/progress-billings/{record_id}", claims=CLERK).status == 200
    assert client.post(f"{order}/progress-billings", {"amount": "100.00"}, claims=CLERK).status == 201
    assert client.post(f"{order}/final-invoice", claims=CLERK).status == 201
    assert client.post("/projects", order_body("P-1"), claims=CLERK).status == 201


# ---- 403 before the body is looked at -------------------------------------------------------------


def test_403_comes_before_422(client, order):
    before = table_snapshot()
    refused(client.put("/settings", {"accounts": {"receivable": 5}, "nope": 1}, claims=CLERK))
    refused(client.post("/orders", {"id": ""}, claims=READER))
    refused(client.post(f"{order}/progress-billings", {"amount": 5}, claims=READER))
    assert table_snapshot() == before


def test_403_comes_before_400_and_415(client, order):
    refused(client.put("/settings", raw="{not json", claims=CLERK))
    refused(client.post(f"{order}/final-invoice", raw="{not json", claims=READER))
    refused(client.post("/orders", raw="id=1", headers={"Content-Type": "text/plain"}, claims=READER))


def test_401_still_comes_first(client):
    assert client.put("/settings", raw="{not json", claims=None).status == 401


@pytest.mark.parametrize(
    "groups",
    ["[x,billing-admins]", "x,billing-admins", "billing-admins", "[billing-clerks,billing-admins]", "[Billing-Admins]"],
)
def test_groups_are_split_on_whitespace_only(client, groups):
    caller = {"sub": "u-x", "cognito:username": "x", "cognito:groups": groups}
    refused(client.put("/settings", {"auto_invoice_on_shipment": True}, claims=caller))
    assert client.get("/settings").json()["version"] == 0


def test_a_json_list_of_groups_is_read(client):
    caller = {"sub": "u-j", "cognito:username": "j", "cognito:groups": ["clerks", "billing-admins"]}
    assert client.put("/settings", {"auto_invoice_on_shipment": True}, claims=caller).status == 200
    caller["cognito:groups"] = '["billing-admins"]'
    assert client.put("/settings", {"auto_invoice_on_shipment": False}, claims=caller).status == 200


# ---- settings: the GET -> PUT round trip and version ------------------------------------------------


def test_settings_round_trip(client):
    first = client.get("/settings").json()
    assert first["version"] == 0 and first["updated_by"] is None and first["updated_at"] is None
    first["auto_invoice_on_shipment"] = True
    saved = client.put("/settings", first)
    assert saved.status == 200, saved.body
    s = saved.json()
    assert s["version"] == 1 and s["updated_by"] == ALICE and s["updated_at"]
    assert client.get("/settings").json() == s
    again = client.put("/settings", s)  # what GET returned, server-owned fields included
    assert again.status == 200 and again.json()["version"] == 2
    assert client.put("/settings", {"account_names": {"revenue": "Sales"}}).json()["version"] == 3  # no version


def test_a_stale_version_is_409_and_changes_nothing(client):
    s = client.get("/settings").json()
    assert client.put("/settings", {**s, "auto_invoice_on_shipment": True}).status == 200  # another admin
    before = table_snapshot()
    r = client.put("/settings", {**s, "accounts": {**s["accounts"], "revenue": "4100"}})
    assert r.status == 409, r.body
    err = r.json()["error"]
    assert err["code"] == "CONFLICT" and err["details"][0]["field"] == "version"
    assert table_snapshot() == before
    assert client.get("/settings").json()["accounts"]["revenue"] == "4000"


@pytest.mark.parametrize("version", [-1, "1", 1.5, True])
def test_version_must_be_a_non_negative_integer(client, version):
    r = client.put("/settings", {"version": version})
    assert r.status == 422 and r.json()["error"]["details"][0]["field"] == "version"


def test_a_concurrent_put_with_the_same_version_loses(aws, monkeypatch):
    """Two admins read version 0; the other one saves between our read and our write."""
    read = store.get_settings

    def read_then_the_other_admin_saves() -> Settings:
        current = read()
        monkeypatch.setattr(store, "get_settings", read)
        other = Settings(auto_invoice_on_shipment=True, version=current.version + 1, updated_by=BOB)
        store.put_settings(other, expected_version=current.version)
        return current

    monkeypatch.setattr(store, "get_settings", read_then_the_other_admin_saves)
    with pytest.raises(StaleVersion):
        service.put_settings(SettingsIn.model_validate({"version": 0, "accounts": {"revenue": "4100"}}), ALICE)
    s = store.get_settings()
    assert (s.version, s.auto_invoice_on_shipment, s.accounts["revenue"], s.updated_by) == (1, True, "4000", BOB)

    # without a version, the loser reads again and applies its change on top
    monkeypatch.setattr(store, "get_settings", read_then_the_other_admin_saves)
    s = service.put_settings(SettingsIn.model_validate({"accounts": {"revenue": "4100"}}), ALICE)
    assert (s.version, s.auto_invoice_on_shipment, s.accounts["revenue"], s.updated_by) == (3, True, "4100", ALICE)
    assert store.get_settings().version == 3


def test_the_store_refuses_a_write_on_a_version_it_no_longer_has(aws):
    from billing.errors import Conflict

    store.put_settings(Settings(version=1), expected_version=0)
    with pytest.raises(Conflict):
        store.put_settings(Settings(version=1), expected_version=0)
    with pytest.raises(Conflict):
        store.put_settings(Settings(version=3), expected_version=2)
    store.put_settings(Settings(version=2), expected_version=1)
    assert store.get_settings().version == 2


# ---- created_by ----------------------------------------------------------------------------------


def test_created_by_on_the_job_record_and_deposit_invoice(client, order):
    assert client.get(order).json()["created_by"] == BOB
    created = client.post(f"{order}/progress-billings", {"amount": "100.00"}).json()
    assert created["record"]["created_by"] == ALICE and created["invoice"]["created_by"] == ALICE
    assert client.get(f"{order}/progress-billings").json()["items"][0]["created_by"] == ALICE
    assert client.get(f"/invoices/{created['invoice']['invoice_id']}").json()["created_by"] == ALICE
    assert client.get("/orders").json()["items"][0]["created_by"] == BOB


def test_a_scheduled_record_keeps_its_creator_and_its_invoice_is_the_automations(client, order):
    rec = client.post(
        f"{order}/progress-billings", {"amount": "100.00", "schedule": True, "invoice_date": "2026-12-01"}, claims=CLERK
    ).json()["record"]
    assert rec["created_by"] == BOB
    assert run_automation(scheduled_event("2026-12-01T06:00:00Z"))["invoiced"] == 1
    [after] = client.get(f"{order}/progress-billings").json()["items"]
    assert after["status"] == "invoiced" and after["created_by"] == BOB
    invoice = client.get(f"/invoices/{after['invoice_id']}").json()
    assert invoice["created_by"] == {"sub": "automation", "username": "automation"}


def test_a_shipment_invoice_is_the_shipments(client, order):
    assert client.put("/settings", {"auto_invoice_on_shipment": True}).status == 200
    assert ship(shipment_message("SH-1")) == {"batchItemFailures": []}
    [invoice] = client.get(f"{order}/invoices").json()["items"]
    assert invoice["type"] == "shipment" and invoice["created_by"] == {"sub": "shipments", "username": "shipments"}


def test_a_final_invoice_names_who_issued_it(client, order):
    invoice = client.post(f"{order}/final-invoice", claims=CLERK).json()["invoice"]
    assert invoice["type"] == "final" and invoice["created_by"] == BOB


def test_an_access_token_username_and_a_missing_username(client):
    token = {"sub": "u-7", "username": "tok", "cognito:groups": "[billing-clerks]"}
    assert client.post("/orders", order_body("SO-7"), claims=token).json()["created_by"] == {
        "sub": "u-7",
        "username": "tok",
    }
    bare = {"sub": "u-8", "cognito:groups": "[billing-clerks]"}
    assert client.post("/orders", order_body("SO-8"), claims=bare).json()["created_by"] == {
        "sub": "u-8",
        "username": "u-8",
    }


def _strip(pk: str, sk: str, update: str, **values: Any) -> None:
    kwargs: dict[str, Any] = {
        "TableName": os.environ["TABLE_NAME"],
        "Key": {"pk": {"S": pk}, "sk": {"S": sk}},
        "UpdateExpression": update,
        "ExpressionAttributeNames": {"#d": "data"},
    }
    if values:
        kwargs["ExpressionAttributeValues"] = values
    dynamodb().update_item(**kwargs)


def test_documents_written_before_r20_read_back_as_unknown(client, order):
    created = client.post(f"{order}/progress-billings", {"amount": "100.00"}).json()
    record_id, invoice_id = created["record"]["record_id"], created["invoice"]["invoice_id"]
    pk = "JOB#order#SO-1001"
    for key in [
        (pk, "#JOB"),
        (pk, f"REC#{record_id}"),
        (pk, f"INV#{invoice_id}"),
        (f"INVOICE#{invoice_id}", "#INVOICE"),
    ]:
        _strip(*key, "REMOVE #d.created_by")
    assert client.get(order).json()["created_by"] == UNKNOWN
    assert client.get(f"{order}/progress-billings").json()["items"][0]["created_by"] == UNKNOWN
    assert client.get(f"{order}/invoices").json()["items"][0]["created_by"] == UNKNOWN
    assert client.get(f"/invoices/{invoice_id}").json()["created_by"] == UNKNOWN
    # the old job keeps working, and a write keeps its (unknown) author
    assert client.post(f"{order}/progress-billings", {"amount": "50.00"}).status == 201
    assert client.get(order).json()["created_by"] == UNKNOWN


def test_settings_saved_before_r20_read_back_and_accept_a_put(client):
    assert client.put("/settings", {"auto_invoice_on_shipment": True}).status == 200
    _strip("SETTINGS", "#SETTINGS", "SET #d.updated_by = :u REMOVE #d.version", **{":u": {"S": "alice"}})
    s = client.get("/settings").json()
    assert s["version"] == 0 and s["updated_by"] == {"sub": "unknown", "username": "alice"}
    r = client.put("/settings", s)
    assert r.status == 200 and r.json()["version"] == 1 and r.json()["updated_by"] == ALICE
