"""docs/openapi.json is the API's contract for clients: it must be what the code declares, and a
client generated from it must find a typed answer, the error shape and the security scheme everywhere.

Regenerate it after changing a route or a document: ``make openapi``.
"""

from __future__ import annotations

import json
from pathlib import Path

from billing.http.openapi import openapi_json

DOC = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
BINARY = {"type": "string", "format": "binary"}


def test_the_committed_document_is_what_the_code_declares():
    assert DOC.read_text() == openapi_json(), "docs/openapi.json drifted from the code: run `make openapi`"


def test_every_operation_has_a_unique_id_a_typed_success_and_typed_errors():
    doc = json.loads(DOC.read_text())
    schemas = doc["components"]["schemas"]
    ids = []
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            ids.append(op["operationId"])
            codes = set(op["responses"])
            success = [c for c in codes if c.startswith("2")]
            assert len(success) == 1, (method, path, codes)
            assert {"401", "422", "500"} <= codes, (method, path, codes)
            for code, answer in op["responses"].items():
                if "application/pdf" in answer["content"]:  # the invoice document (R18): bytes, not JSON
                    assert (code, answer["content"]) == ("200", {"application/pdf": {"schema": BINARY}})
                    continue
                ref = answer["content"]["application/json"]["schema"]["$ref"]
                name = ref.removeprefix("#/components/schemas/")
                assert name in schemas, (method, path, code, ref)
                if not code.startswith("2"):
                    assert name == "ErrorBody", (method, path, code)
    assert len(ids) == len(set(ids)) == 33


def test_every_reference_resolves_and_the_api_needs_a_bearer_jwt():
    doc = json.loads(DOC.read_text())
    text = json.dumps(doc)
    refs = {part.split('"')[0] for part in text.split('"$ref": "#/components/schemas/')[1:]}
    assert refs == set(doc["components"]["schemas"])  # every reference resolves, no schema is unused
    assert doc["components"]["securitySchemes"]["cognitoJwt"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "Cognito ID token",
    }
    assert doc["security"] == [{"cognitoJwt": []}]


def test_the_error_shape_names_code_message_and_details():
    schemas = json.loads(DOC.read_text())["components"]["schemas"]
    assert schemas["ErrorBody"]["required"] == ["error"]
    assert sorted(schemas["ErrorInfo"]["required"]) == ["code", "details", "message"]
