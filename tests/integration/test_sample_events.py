"""The sample events in events/http/ (what ``sam local invoke -e`` is given) match the template's
routes, have the payload 2.0 shape, and succeed when handed to their function's real handler."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local import cfn
from local.fixtures import ADMIN, lambda_context, order_body
from tests.conftest import EVENTS

EVENT_FILES = sorted((EVENTS / "http").glob("*.json"))
JOBS = {"orders": "SO-1001", "projects": "PRJ-1001"}
# Server-generated ids that the sample events can only name by placeholder (events/README.md).
RECORD_PLACEHOLDER, INVOICE_PLACEHOLDER = "PB-SAMPLE", "INV-000001"


def _route_of(event: dict[str, Any]) -> tuple[cfn.Route, dict[str, str]]:
    found = cfn.find_route(event["requestContext"]["http"]["method"], event["rawPath"])
    assert found is not None, f"no route of template.yaml matches {event['routeKey']} {event['rawPath']}"
    return found


def _is_registration(route: cfn.Route) -> bool:
    return route.method == "POST" and route.path in {f"/{segment}" for segment in JOBS}


def _replace_param(event: dict[str, Any], name: str, value: str) -> None:
    """Put a real id where the sample has a placeholder: path parameter, rawPath and http.path."""
    old = event["pathParameters"][name]
    segments = event["rawPath"].split("/")
    assert segments.count(old) == 1, event["rawPath"]
    path = "/".join(value if s == old else s for s in segments)
    event["pathParameters"][name] = value
    event["rawPath"] = event["requestContext"]["http"]["path"] = path


def _prepare(client: Any, route: cfn.Route, event: dict[str, Any]) -> None:
    """What the event needs to exist first: the sample settings (their tax code is the one the sample
    registration's line names, R16), the sample jobs, and any record or invoice it names."""
    if _is_registration(route):
        settings = json.loads(json.loads((EVENTS / "http" / "put_settings.json").read_text())["body"])
        assert client.put("/settings", settings).status == 200
    else:
        for segment, job_id in JOBS.items():
            assert client.post(f"/{segment}", order_body(job_id)).status == 201
    params = event.get("pathParameters") or {}
    if params.get("record_id") == RECORD_PLACEHOLDER:
        segment = event["rawPath"].split("/")[1]
        r = client.post(f"/{segment}/{params['job_id']}/progress-billings", {"percent": "10", "schedule": True})
        assert r.status == 201, r.body
        record_id = r.json()["record"]["record_id"]
        _replace_param(event, "record_id", record_id)
        if route.path.endswith("/retry"):  # it needs a failed record: what the automation leaves
            _fail(segment, params["job_id"], record_id)
    if params.get("invoice_id") == INVOICE_PLACEHOLDER:
        r = client.post("/orders/SO-1001/progress-billings", {"percent": "10"})
        assert r.status == 201, r.body
        _replace_param(event, "invoice_id", r.json()["invoice"]["invoice_id"])


def _fail(segment: str, job_id: str, record_id: str) -> None:
    """Mark a pending record failed, as the automation does when it would over-bill (R6)."""
    from billing import store
    from billing.documents import KIND_OF_SEGMENT, RecordStatus

    job, rec = store.read_job_and_record(KIND_OF_SEGMENT[segment], job_id, record_id)
    assert job is not None and rec is not None
    job.pending.pop(record_id)
    rec.status, rec.failure_reason = RecordStatus.FAILED, "it would over-bill the job"
    store.commit(store.Change(job, records=[rec]))


def test_there_are_sample_events():
    assert EVENT_FILES, f"no sample events in {EVENTS / 'http'}"


def test_every_http_route_has_a_sample_event():
    covered = {json.loads(f.read_text())["routeKey"] for f in EVENT_FILES}
    missing = sorted(r.route_key for r in cfn.http_routes() if r.route_key not in covered)
    assert missing == [], "run events/generate.py (see events/README.md)"


@pytest.mark.parametrize("path", EVENT_FILES, ids=[f.stem for f in EVENT_FILES])
def test_sample_event_has_the_shape_api_gateway_sends(path: Path):
    event = json.loads(path.read_text())
    route, params = _route_of(event)
    assert event["version"] == "2.0"
    assert event["routeKey"] == event["requestContext"]["routeKey"] == route.route_key
    assert event["requestContext"]["http"]["path"] == event["rawPath"]
    assert (event.get("pathParameters") or {}) == params
    claims = event["requestContext"]["authorizer"]["jwt"]["claims"]
    assert {k: claims.get(k) for k in ADMIN} == ADMIN  # the tests' administrator (may PUT /settings)
    if "body" in event:
        assert isinstance(event["body"], str) and isinstance(json.loads(event["body"]), dict)
        assert event["headers"]["content-type"] == "application/json"
        assert event["isBase64Encoded"] is False
    for job_id in params.get("job_id", ""), json.loads(event.get("body") or "{}").get("id", ""):
        assert job_id in {"", *JOBS.values()}


@pytest.mark.parametrize("path", EVENT_FILES, ids=[f.stem for f in EVENT_FILES])
def test_sample_event_succeeds_through_its_function(client, path: Path):
    event = json.loads(path.read_text())
    route, _ = _route_of(event)
    _prepare(client, route, event)
    module = cfn.load_handler_module(route.code_uri)
    response = module.lambda_handler(event, lambda_context(route.function))
    assert 200 <= int(response["statusCode"]) < 300, (route.route_key, response.get("body"))
    if _is_registration(route):
        body = json.loads(event["body"])
        job = client.get(event["rawPath"] + "/" + body["id"])
        assert job.status == 200
        # R16: each line captured the tax code it names, with the rate the sample settings give it
        assert [(ln["tax_code"], ln["tax_rate"]) for ln in job.json()["lines"]] == [("VAT20", "20")] * len(
            body["lines"]
        )
