"""Write one sample HTTP API (payload 2.0) event per route of template.yaml into events/http/.

Run from the repository root: ``.venv/bin/python events/generate.py``. The events are built by
``local.gateway.http_event``, the same code the in-process gateway uses, so they have its exact shape.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local import cfn, fixtures, gateway  # noqa: E402

OUT = ROOT / "events" / "http"
JOB_IDS = {"orders": "SO-1001", "projects": "PRJ-1001"}
# Ids the server generates: the tests replace these with real ones (see events/README.md).
OTHER_IDS = {"record_id": "PB-SAMPLE", "invoice_id": "INV-000001"}
# The tests' administrator (local.fixtures.ADMIN), with the other claims a Cognito ID token carries.
CLAIMS = {
    **fixtures.ADMIN,
    "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_EXAMPLE",
    "aud": "exampleclientid1234567890",
    "token_use": "id",
    "email": "alice@example.com",
}
TIME_EPOCH_MS = 1796119200000  # 2026-12-01T10:00:00Z: fixed so that regenerating changes nothing

BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/{kind}"): {
        "customer_id": "C-7",
        "customer_name": "Acme",
        "currency": "USD",
        "lines": [
            {
                "line_id": "1",
                "item_code": "WIDGET",
                "description": "Widget",
                "quantity": "10",
                "unit_price": "100.00",
                "tax_code": "VAT20",  # R16: a code of the settings' tax_codes (put_settings.json)
            }
        ],
    },
    ("POST", "/{kind}/{job_id}/progress-billings"): {
        "invoice_date": "2026-12-01",
        "title": "Milestone 1",
        "description": "Deposit on signing",
        "item_description": "25% deposit",
        "percent": "25",
    },
    ("PATCH", "/{kind}/{job_id}/progress-billings/{record_id}"): {
        "invoice_date": "2027-01-15",
        "title": "Milestone 1, moved",
        "percent": "30",
    },
    ("POST", "/{kind}/{job_id}/final-invoice"): {
        "invoice_date": "2026-12-31",
        "title": "Final invoice",
        "description": "Revenue recognition",
    },
    ("POST", "/{kind}/{job_id}/change-orders"): {
        "date": "2026-12-10",
        "reason": "Customer added scope",
        "lines": [
            {"line_id": "1", "quantity": "12"},
            {
                "line_id": "2",
                "item_code": "EXTRA",
                "description": "Extra work",
                "quantity": "1",
                "unit_price": "320.00",
            },
        ],
    },
    ("POST", "/invoices/{invoice_id}/void"): {"reason": "Billed the wrong amount", "void_date": "2026-12-15"},
    ("PUT", "/settings"): {
        "auto_invoice_on_shipment": False,
        "accounts": {"receivable": "1200", "customer_deposits": "2400", "revenue": "4000"},
        "tax_on_deposits": False,
        "tax_codes": {"VAT20": {"name": "VAT 20%", "rate": "20", "account": "2200"}},
        "company": {"name": "Acme Builders Ltd", "address": "1 Main Street, Springfield", "tax_id": "GB123456789"},
    },
}
QUERIES = {
    ("GET", "/{kind}"): "status=open&limit=20",
    ("GET", "/invoices"): "from=2026-12-01&to=2026-12-31&type=deposit&limit=50",
    ("GET", "/ledger/entries"): "from=2026-12-01&to=2026-12-31&limit=100",
    ("GET", "/automation/runs"): "limit=20",
}
BODILESS = {"/{kind}/{job_id}/progress-billings/{record_id}/retry"}  # POSTs that take no body


def file_name(route: cfn.Route) -> str:
    parts = [route.method.lower()]
    for segment in route.path.strip("/").split("/"):
        param = re.fullmatch(r"\{(\w+?)(?:_id)?\}", segment)
        parts.append(param.group(1) if param else segment.replace("-", "_"))
    return "_".join(parts) + ".json"


def sample_event(route: cfn.Route) -> dict[str, Any]:
    segment = route.path.strip("/").split("/")[0]
    generic = re.sub(r"^/(orders|projects)(?=/|$)", "/{kind}", route.path)
    params = {
        name: JOB_IDS[segment] if name == "job_id" else OTHER_IDS[name] for name in re.findall(r"\{(\w+)\}", route.path)
    }
    path = route.path.format(**params)
    body = BODIES.get((route.method, generic))
    if route.method in {"POST", "PUT", "PATCH"} and body is None and generic not in BODILESS:
        raise SystemExit(f"no sample body for {route.route_key}: add one to BODIES")
    if generic == "/{kind}" and body is not None:
        body = {"id": JOB_IDS[segment], **body}
    event = gateway.http_event(
        route.method,
        path,
        route.route_key,
        params,
        QUERIES.get((route.method, generic), ""),
        body=None if body is None else json.dumps(body),
        claims=CLAIMS,
    )
    event["requestContext"]["requestId"] = "sample-" + file_name(route).removesuffix(".json")
    event["requestContext"]["timeEpoch"] = TIME_EPOCH_MS
    event["requestContext"]["time"] = "01/Dec/2026:10:00:00 +0000"
    return event


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for route in cfn.http_routes():
        (OUT / file_name(route)).write_text(json.dumps(sample_event(route), indent=2) + "\n")
        print(OUT / file_name(route))


if __name__ == "__main__":
    main()
