"""R20: the caller's groups, role and author, from the JWT claims API Gateway hands the function."""

from __future__ import annotations

from typing import Any

import pytest

from billing.documents import actor_or_unknown
from billing.http.identity import ROUTE_ROLES, Role, actor_of, allowed, authorize, groups_of, route_key


@pytest.mark.parametrize(
    "raw,groups",
    [
        ("[billing-admins clerks]", {"billing-admins", "clerks"}),  # what HTTP APIs send
        ("[billing-admins]", {"billing-admins"}),
        ("  [ billing-clerks\tother ]  ", {"billing-clerks", "other"}),
        ("[]", set()),
        ("", set()),
        ("[x,billing-admins]", {"x,billing-admins"}),  # never split on commas
        ("[billing-clerks,billing-admins]", {"billing-clerks,billing-admins"}),
        ("x,billing-admins", set()),  # not the bracketed form: no groups
        ("billing-admins", set()),
        ("[billing-admins", set()),
        (["billing-admins", "clerks"], {"billing-admins", "clerks"}),  # a JSON list
        (["x,billing-admins"], {"x,billing-admins"}),
        (["billing-admins", 7, None, ""], {"billing-admins"}),
        ('["billing-admins", "clerks"]', {"billing-admins", "clerks"}),  # a JSON list as text
        ('["billing-admins", "cl', set()),  # not JSON
        ('["x,billing-admins"]', {"x,billing-admins"}),
        ('{"billing-admins": 1}', set()),
        (7, set()),
        (None, set()),
        ({"billing-admins": True}, set()),
    ],
)
def test_groups_of(raw: Any, groups: set[str]) -> None:
    assert groups_of({"cognito:groups": raw}) == groups


def test_no_groups_claim_is_no_group() -> None:
    assert groups_of({"sub": "u-1"}) == set()


@pytest.mark.parametrize(
    "role,groups,ok",
    [
        (Role.READER, set(), True),
        (Role.CLERK, set(), False),
        (Role.CLERK, {"clerks"}, False),
        (Role.CLERK, {"billing-clerks"}, True),
        (Role.CLERK, {"billing-admins"}, True),
        (Role.ADMIN, {"billing-clerks"}, False),
        (Role.ADMIN, {"x,billing-admins"}, False),
        (Role.ADMIN, {"billing-admins"}, True),
    ],
)
def test_allowed(role: Role, groups: set[str], ok: bool) -> None:
    assert allowed(role, groups) is ok


def test_route_key_is_api_gateways() -> None:
    assert route_key("post", "/orders/<job_id>/progress-billings") == "POST /orders/{job_id}/progress-billings"
    assert route_key("DELETE", "/projects/<job_id>/progress-billings/<record_id>") == (
        "DELETE /projects/{job_id}/progress-billings/{record_id}"
    )


def test_authorize_reads_the_route_key_and_closes_unknown_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ROUTE_ROLES, "GET /things", Role.READER)
    monkeypatch.setitem(ROUTE_ROLES, "POST /things", Role.CLERK)
    reader: dict[str, Any] = {"sub": "u-1", "cognito:groups": "[]"}
    clerk: dict[str, Any] = {"sub": "u-2", "cognito:groups": "[billing-clerks]"}
    admin: dict[str, Any] = {"sub": "u-3", "cognito:groups": "[billing-admins]"}
    assert authorize({"routeKey": "GET /things"}, reader) is None
    refused = authorize({"routeKey": "POST /things"}, reader)
    assert refused is not None and refused.status == 403 and refused.code == "FORBIDDEN"
    assert "billing-clerks" in refused.message
    assert authorize({"routeKey": "POST /things"}, clerk) is None
    for event in ({"routeKey": "PATCH /things"}, {}):  # not a route this function declares: admins only
        assert authorize(event, clerk) is not None
        assert authorize(event, admin) is None


@pytest.mark.parametrize(
    "claims,actor",
    [
        ({"sub": "u-1", "cognito:username": "alice", "username": "x"}, {"sub": "u-1", "username": "alice"}),
        ({"sub": "u-1", "username": "tok"}, {"sub": "u-1", "username": "tok"}),  # an access token
        ({"sub": "u-1"}, {"sub": "u-1", "username": "u-1"}),
        ({}, {"sub": "unknown", "username": "unknown"}),
    ],
)
def test_actor_of(claims: dict[str, Any], actor: dict[str, str]) -> None:
    assert actor_of(claims) == actor


@pytest.mark.parametrize(
    "stored,actor",
    [
        ({"sub": "u-1", "username": "alice"}, {"sub": "u-1", "username": "alice"}),
        (None, {"sub": "unknown", "username": "unknown"}),  # written before R20
        ("alice", {"sub": "unknown", "username": "alice"}),  # settings' updated_by before R20
        ({"sub": "u-1"}, {"sub": "unknown", "username": "unknown"}),
    ],
)
def test_actor_or_unknown(stored: Any, actor: dict[str, str]) -> None:
    assert actor_or_unknown(stored) == actor
