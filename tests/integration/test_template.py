"""template.yaml as CloudFormation will see it: translated in-process by the SAM translator (the same
library `sam deploy` and the AWS::Serverless transform use), then checked for the properties the
service relies on: every route behind the Cognito JWT authorizer, runtime and tracing, least
privilege on the tables, a billing table that survives mistakes, and the parameters and outputs.

Every check iterates over what the template declares, so new functions, events and routes are
covered without touching this file.
"""

from __future__ import annotations

import copy
import re
from typing import Any

import boto3
import pytest
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator

from local import cfn

AUTHORIZER = "CognitoJwt"
PSEUDO_PARAMETERS = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "progress-billing",
}
# OpenAPI method keys of the generated API body -> HTTP API route methods.
OPENAPI_METHODS = {
    "get": "GET",
    "put": "PUT",
    "post": "POST",
    "delete": "DELETE",
    "patch": "PATCH",
    "head": "HEAD",
    "options": "OPTIONS",
    "x-amazon-apigateway-any-method": "ANY",
}


class _NoManagedPolicies:
    """Managed-policy loader that never calls IAM: the template names no managed policy by name."""

    def load(self) -> dict[str, str]:
        return {}


def _sam_template() -> dict[str, Any]:
    """The template as ``sam package`` would upload it: local code paths become S3 locations."""
    tpl = copy.deepcopy(cfn.template())
    for res in tpl["Resources"].values():
        props = res.get("Properties") or {}
        for key in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(props.get(key), str) and not props[key].startswith("s3://"):
                props[key] = f"s3://sam-artifacts/{props[key].strip('/')}"
    return tpl


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"))
    return translator.translate(
        _sam_template(), parameter_values=dict(PSEUDO_PARAMETERS), get_managed_policy_map=_NoManagedPolicies().load
    )


def _of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _references(value: Any, logical_id: str) -> bool:
    """Whether an intrinsic-function value refers to ``logical_id`` (Ref, GetAtt or a ${...} in Sub)."""
    if isinstance(value, dict):
        if value.get("Ref") == logical_id:
            return True
        get_att = value.get("Fn::GetAtt")
        if get_att is not None:
            target = get_att[0] if isinstance(get_att, list) else str(get_att).split(".", 1)[0]
            if target == logical_id:
                return True
        sub = value.get("Fn::Sub")
        if sub is not None:
            text = sub[0] if isinstance(sub, list) else sub
            if isinstance(text, str) and re.search(r"\$\{" + re.escape(logical_id) + r"(\.[\w.]+)?\}", text):
                return True
        return any(_references(v, logical_id) for v in value.values())
    if isinstance(value, list):
        return any(_references(v, logical_id) for v in value)
    return False


def _one(template: dict[str, Any], type_: str) -> str:
    ids = list(_of_type(template, type_))
    assert len(ids) == 1, f"expected one {type_}, found {ids}"
    return ids[0]


def _declared_http_events() -> set[tuple[str, str, str]]:
    """(method, path, function) of every HttpApi event of every function in template.yaml."""
    out = set()
    for fn_id, res in cfn.resources("AWS::Serverless::Function").items():
        for event in (res["Properties"].get("Events") or {}).values():
            if event["Type"] == "HttpApi":
                props = event.get("Properties") or {}
                out.add((str(props.get("Method", "ANY")).upper(), props.get("Path", "$default"), fn_id))
    return out


def _generated_routes(translated: dict[str, Any]) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(method, path) -> (API logical id, OpenAPI operation) over every generated HTTP API."""
    out = {}
    for api_id, api in _of_type(translated, "AWS::ApiGatewayV2::Api").items():
        for path, item in (api["Properties"].get("Body") or {}).get("paths", {}).items():
            for key, op in item.items():
                if key in OPENAPI_METHODS:
                    route = (OPENAPI_METHODS[key], path)
                    assert route not in out, f"route {route} is defined twice"
                    out[route] = (api_id, op)
    return out


def _integration_function(op: dict[str, Any]) -> str | None:
    uri = op.get("x-amazon-apigateway-integration", {}).get("uri", {})
    text = uri.get("Fn::Sub", "") if isinstance(uri, dict) else ""
    m = re.search(r"\$\{(\w+)\.Arn\}", text if isinstance(text, str) else text[0])
    return m.group(1) if m else None


# ---- HTTP API and authorizer --------------------------------------------------------------------


def test_generated_routes_are_exactly_the_functions_http_events(translated):
    declared = _declared_http_events()
    assert declared, "the template declares no HttpApi event"
    generated = _generated_routes(translated)
    assert {(m, p) for m, p, _ in declared} == set(generated)
    # ... and each route invokes the function that declares it, with payload format 2.0.
    for method, path, fn_id in declared:
        op = generated[(method, path)][1]
        assert _integration_function(op) == fn_id, (method, path)
        assert op["x-amazon-apigateway-integration"]["payloadFormatVersion"] == "2.0", (method, path)


def test_every_route_requires_the_cognito_jwt_authorizer(translated):
    generated = _generated_routes(translated)
    assert generated
    unprotected = sorted(
        f"{m} {p}" for (m, p), (_, op) in generated.items() if op.get("security") != [{AUTHORIZER: []}]
    )
    assert unprotected == []


def test_authorizer_is_jwt_issued_by_the_user_pool_for_the_client(translated):
    user_pool, client = _one(translated, "AWS::Cognito::UserPool"), _one(translated, "AWS::Cognito::UserPoolClient")
    apis = _of_type(translated, "AWS::ApiGatewayV2::Api")
    assert apis
    for api_id, api in apis.items():
        schemes = api["Properties"]["Body"].get("components", {}).get("securitySchemes", {})
        assert AUTHORIZER in schemes, f"{api_id} has no {AUTHORIZER} authorizer"
        authorizer = schemes[AUTHORIZER]["x-amazon-apigateway-authorizer"]
        assert authorizer["type"] == "jwt"
        assert authorizer["identitySource"] == "$request.header.Authorization"
        jwt = authorizer["jwtConfiguration"]
        assert _references(jwt["issuer"], user_pool), jwt["issuer"]
        issuer = jwt["issuer"].get("Fn::Sub", "") if isinstance(jwt["issuer"], dict) else ""
        assert issuer.startswith("https://cognito-idp.${AWS::Region}.amazonaws.com/"), jwt["issuer"]
        audience = _as_list(jwt["audience"])
        assert audience and all(_references(a, client) for a in audience), audience


# ---- functions -------------------------------------------------------------------------------------


def _functions(translated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sam_functions = set(cfn.resources("AWS::Serverless::Function"))
    lambdas = _of_type(translated, "AWS::Lambda::Function")
    assert sam_functions and sam_functions <= set(lambdas)
    return {k: v for k, v in lambdas.items() if k in sam_functions}


def test_every_function_is_python313_on_arm64_with_active_tracing(translated):
    for fn_id, fn in _functions(translated).items():
        props = fn["Properties"]
        assert props.get("Runtime") == "python3.13", fn_id
        assert props.get("Architectures") == ["arm64"], fn_id
        assert props.get("TracingConfig") == {"Mode": "Active"}, fn_id


def _role_statements(translated: dict[str, Any], fn_id: str, fn: dict[str, Any]) -> list[dict[str, Any]]:
    """Allow statements of the function's role: its inline policies and IAM policies attached to it."""
    role = fn["Properties"]["Role"]
    roles = _of_type(translated, "AWS::IAM::Role")
    role_id = next((r for r in roles if _references(role, r)), None)
    assert role_id is not None, f"{fn_id}: role {role} is not a role of this template, so it cannot be checked"
    documents = [p["PolicyDocument"] for p in roles[role_id]["Properties"].get("Policies", [])]
    for type_ in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
        for policy in _of_type(translated, type_).values():
            if _references(policy["Properties"].get("Roles", []), role_id):
                documents.append(policy["Properties"]["PolicyDocument"])
    return [s for d in documents for s in _as_list(d["Statement"]) if s.get("Effect") == "Allow"]


def test_function_roles_grant_no_wildcard_actions_and_no_table_wildcard(translated):
    problems = []
    for fn_id, fn in _functions(translated).items():
        for statement in _role_statements(translated, fn_id, fn):
            actions = [str(a) for a in _as_list(statement.get("Action", []))]
            if "NotAction" in statement:
                problems.append(f"{fn_id}: NotAction {statement['NotAction']}")
            problems += [f"{fn_id}: Action {a}" for a in actions if a == "*" or re.fullmatch(r"[\w-]+:\*", a)]
            if any(a.lower().startswith("dynamodb:") for a in actions) and "*" in _as_list(statement.get("Resource")):
                problems.append(f"{fn_id}: DynamoDB actions {actions} on Resource *")
    assert problems == []


# ---- data, parameters, outputs -------------------------------------------------------------------


def test_billing_table_is_protected_and_has_its_indexes(translated):
    table = translated["Resources"]["BillingTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table.get("DeletionPolicy") == "Retain"
    props = table["Properties"]
    assert props.get("DeletionProtectionEnabled") is True
    assert props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True
    indexes = {g["IndexName"] for g in props.get("GlobalSecondaryIndexes", [])}
    assert {"PendingByDate", "JobsByKind"} <= indexes


@pytest.mark.parametrize("name,default", [("BusinessTimezone", "UTC"), ("AutoGenerateSchedule", "cron(0 6 * * ? *)")])
def test_parameters(translated, name, default):
    assert translated["Parameters"][name]["Type"] == "String"
    assert translated["Parameters"][name]["Default"] == default


@pytest.mark.parametrize("name", ["ApiUrl", "UserPoolId", "UserPoolClientId"])
def test_outputs(translated, name):
    assert "Value" in translated.get("Outputs", {}).get(name, {}), f"output {name} is missing"


# ---- the policies grant what the handlers do ----------------------------------------------------

# Items of a transaction -> the IAM action each is authorized by.
_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


def _granted(translated: dict[str, Any], fn_id: str) -> set[tuple[str, str, str | None]]:
    """(dynamodb action, table logical id, index) the role allows; index: None for the table itself, a name,
    or "*" for all its indexes."""
    tables = set(_of_type(translated, "AWS::DynamoDB::Table"))
    out = set()
    fn = translated["Resources"][fn_id]
    for statement in _role_statements(translated, fn_id, fn):
        actions = [
            a.split(":", 1)[1]
            for a in map(str, _as_list(statement.get("Action", [])))
            if a.lower().startswith("dynamodb:")
        ]
        for resource in _as_list(statement.get("Resource", [])):
            for table in tables:
                sub = resource.get("Fn::Sub") if isinstance(resource, dict) else None
                text = sub[0] if isinstance(sub, list) else sub
                if isinstance(text, str) and text.startswith(f"${{{table}.Arn}}/index/"):
                    index: str | None = text.split("/index/", 1)[1]
                elif resource in ({"Fn::GetAtt": [table, "Arn"]}, {"Fn::GetAtt": f"{table}.Arn"}):
                    index = None
                else:
                    continue
                out |= {(action, table, index) for action in actions}
    return out


def _recording(calls: list[tuple[str, str, str | None]]) -> Any:
    """An interceptor recording (IAM action, table logical id, index) of every DynamoDB call any client makes."""
    import os

    logical = {os.environ[env]: logical_id for logical_id, env in cfn.TABLE_ENV.items()}

    def recording(operation: str, params: dict[str, Any], proceed: Any) -> Any:
        if operation in {"TransactWriteItems", "TransactGetItems"}:
            for item in params["TransactItems"]:
                ((op, body),) = item.items()
                calls.append((_ITEM_ACTIONS[op], logical[body["TableName"]], None))
        elif operation in {"BatchGetItem", "BatchWriteItem"}:
            calls.extend((operation, logical[table], None) for table in params["RequestItems"])
        else:
            calls.append((operation, logical[params["TableName"]], params.get("IndexName")))
        return proceed()

    return recording


def test_each_function_role_allows_the_dynamodb_calls_its_handler_makes(translated, client):
    import os

    import boto3

    from local.fixtures import order_body
    from local.metering import intercept

    calls: list[tuple[str, str, str | None]] = []
    made: dict[str, set[tuple[str, str, str | None]]] = {}

    def call(method: str, path: str, body: Any = None, **kw: Any) -> Any:
        calls.clear()
        r = client.request(method, path, body, **kw)
        assert r.status < 500 and r.function, (method, path, r.status, r.body)
        made.setdefault(r.function, set()).update(calls)
        return r

    def forget_idempotency_records() -> None:  # as when their TTL expires
        ddb, table = boto3.client("dynamodb"), os.environ["IDEMPOTENCY_TABLE_NAME"]
        for item in ddb.scan(TableName=table)["Items"]:
            ddb.delete_item(TableName=table, Key={"id": item["id"]})

    with intercept(_recording(calls)):
        for segment, job_id in (("orders", "SO-1001"), ("projects", "PRJ-1001")):
            call("POST", f"/{segment}", order_body(job_id))
            call("POST", f"/{segment}", order_body(job_id))  # 409: the duplicate check reads the job
            record = call("POST", f"/{segment}/{job_id}/progress-billings", {"percent": "10", "schedule": True})
            call("DELETE", f"/{segment}/{job_id}/progress-billings/{record.json()['record']['record_id']}")
            for path, body in (
                (f"/{segment}/{job_id}/progress-billings", {"percent": "10"}),
                (f"/{segment}/{job_id}/final-invoice", {}),
            ):
                for _ in range(2):  # the second: a resend with the same key, its idempotency record expired
                    r = call("POST", path, body, headers={"Idempotency-Key": f"key-{segment}-{path[-7:]}"})
                    forget_idempotency_records()
        ids = {"job_id": "SO-1001", "invoice_id": r.json()["invoice"]["invoice_id"]}
        for route in cfn.http_routes():  # every read route, for a job (or invoice) that exists
            if route.method == "GET":
                job_id = "PRJ-1001" if route.path.startswith("/projects") else "SO-1001"
                call("GET", route.path.format_map({**ids, "job_id": job_id}))
        call("PUT", "/settings", {"auto_invoice_on_shipment": False})

    missing = {}
    for fn_id, used in made.items():
        granted = _granted(translated, fn_id)
        gaps = sorted((c for c in used if c not in granted and (c[2] is None or (*c[:2], "*") not in granted)), key=str)
        if gaps:
            missing[fn_id] = gaps
    assert missing == {}
