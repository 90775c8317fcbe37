"""template.yaml as CloudFormation will see it: translated in-process by the SAM translator (the same
library `sam deploy` and the AWS::Serverless transform use), then checked for the properties the
service relies on: every route behind the Cognito JWT authorizer, runtime and tracing, least
privilege on the tables, a billing table that survives mistakes, and the parameters and outputs;
and the hardening (#9): log groups with a retention, access logs, throttling, CORS for the portal,
alarms to the alarm topic, a failure destination for the automation, the Cognito password policy
and groups.

Every check iterates over what the template declares, so new functions, events and routes are
covered without touching this file.
"""

from __future__ import annotations

import copy
import json
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


def _translate(parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """Translate as the AWS::Serverless transform does at deploy time, with these parameter values."""
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name="us-east-1"))
    return translator.translate(
        _sam_template(),
        parameter_values={**PSEUDO_PARAMETERS, **(parameters or {})},
        get_managed_policy_map=_NoManagedPolicies().load,
    )


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return _translate()


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


_NO_VALUE = object()


def _parameter_values(template: dict[str, Any], given: dict[str, str]) -> dict[str, Any]:
    defaults = {k: p.get("Default") for k, p in template.get("Parameters", {}).items()}
    return {**defaults, **PSEUDO_PARAMETERS, **given}


def _condition(template: dict[str, Any], expr: Any, params: dict[str, Any]) -> Any:
    """Evaluate a CloudFormation condition expression (or a plain value) for these parameter values."""
    if isinstance(expr, dict):
        ((fn, args),) = expr.items()
        if fn == "Condition":
            return _condition(template, template["Conditions"][args], params)
        if fn == "Ref":
            return params[args]
        values = [_condition(template, a, params) for a in _as_list(args)]
        if fn == "Fn::Equals":
            return str(values[0]) == str(values[1])
        if fn == "Fn::Not":
            return not values[0]
        if fn == "Fn::And":
            return all(values)
        if fn == "Fn::Or":
            return any(values)
        raise AssertionError(f"unsupported condition function {fn}")
    return expr


def _resolve(template: dict[str, Any], value: Any, params: dict[str, Any]) -> Any:
    """``value`` with Fn::If decided, parameter Refs replaced and AWS::NoValue dropped (returns _NO_VALUE)."""
    if isinstance(value, dict):
        if "Fn::If" in value:
            name, then, otherwise = value["Fn::If"]
            chosen = then if _condition(template, template["Conditions"][name], params) else otherwise
            return _resolve(template, chosen, params)
        if value == {"Ref": "AWS::NoValue"}:
            return _NO_VALUE
        if set(value) == {"Ref"} and value["Ref"] in params:
            return params[value["Ref"]]
        out = {k: _resolve(template, v, params) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not _NO_VALUE}
    if isinstance(value, list):
        return [v for v in (_resolve(template, v, params) for v in value) if v is not _NO_VALUE]
    return value


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


def _log_group(translated: dict[str, Any], value: Any) -> tuple[str, dict[str, Any]]:
    """The AWS::Logs::LogGroup that ``value`` (a Ref, GetAtt or Sub) names."""
    groups = _of_type(translated, "AWS::Logs::LogGroup")
    found = [g for g in groups if _references(value, g)]
    assert len(found) == 1, f"{value} names no log group of this template"
    return found[0], groups[found[0]]["Properties"]


def _stages(translated: dict[str, Any]) -> dict[str, dict[str, Any]]:
    apis = set(_of_type(translated, "AWS::ApiGatewayV2::Api"))
    stages = _of_type(translated, "AWS::ApiGatewayV2::Stage")
    assert apis and {a for s in stages.values() for a in apis if _references(s["Properties"]["ApiId"], a)} == apis
    return {k: s["Properties"] for k, s in stages.items()}


ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "ip": "$context.identity.sourceIp",
    "routeKey": "$context.routeKey",
    "status": "$context.status",
    "responseLength": "$context.responseLength",
    "integrationError": "$context.integrationErrorMessage",
}


def test_every_stage_writes_json_access_logs_to_a_group_with_the_retention(translated):
    function_groups = {
        _log_group(translated, fn["Properties"]["LoggingConfig"]["LogGroup"])[0]
        for fn in _functions(translated).values()
        if "LoggingConfig" in fn["Properties"]
    }
    for stage_id, stage in _stages(translated).items():
        settings = stage.get("AccessLogSettings")
        assert settings, f"{stage_id} has no access logs"
        group_id, group = _log_group(translated, settings["DestinationArn"])
        assert group_id not in function_groups, f"{stage_id} logs into a function's log group"
        assert group.get("RetentionInDays") == {"Ref": "LogRetentionDays"}, group_id
        fields = json.loads(settings["Format"])
        assert {k: fields.get(k) for k in ACCESS_LOG_FIELDS} == ACCESS_LOG_FIELDS


def test_every_stage_throttles_its_routes_from_the_parameters(translated):
    for stage_id, stage in _stages(translated).items():
        route_settings = stage.get("DefaultRouteSettings") or {}
        assert route_settings.get("ThrottlingBurstLimit") == {"Ref": "ApiThrottlingBurstLimit"}, stage_id
        assert route_settings.get("ThrottlingRateLimit") == {"Ref": "ApiThrottlingRateLimit"}, stage_id


def _cors(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any] | None:
    """The CORS configuration CloudFormation gives the (one) HTTP API with these parameter values."""
    api = template["Resources"][_one(template, "AWS::ApiGatewayV2::Api")]["Properties"]
    assert "CorsConfiguration" not in api  # SAM puts it in the OpenAPI body
    body = _resolve(template, api["Body"], _parameter_values(template, parameters))
    cors: dict[str, Any] | None = body.get("x-amazon-apigateway-cors")
    return cors


def test_no_cors_without_a_portal_origin(translated):
    assert translated["Parameters"]["PortalOrigin"]["Default"] == ""
    assert _cors(translated, {}) is None


def test_cors_allows_the_portal_origin_its_methods_and_headers():
    origin = "https://billing.example.com"
    cors = _cors(_translate({"PortalOrigin": origin}), {"PortalOrigin": origin})
    assert cors is not None, "PortalOrigin set, but the API has no CORS configuration"
    assert cors["allowOrigins"] == [origin]
    assert set(cors["allowMethods"]) == {m for m, _, _ in _declared_http_events()}
    assert {h.lower() for h in cors["allowHeaders"]} == {"authorization", "content-type", "idempotency-key"}
    assert {h.lower() for h in cors["exposeHeaders"]} == {"idempotent-replay", "retry-after", "next-token"}
    assert not cors.get("allowCredentials")  # bearer tokens, no cookies


@pytest.mark.parametrize("origin", ["https://billing.example.com", "http://localhost:3000", ""])
def test_portal_origin_accepts_an_origin_or_nothing(translated, origin):
    assert re.fullmatch(translated["Parameters"]["PortalOrigin"]["AllowedPattern"], origin)


@pytest.mark.parametrize("origin", ["*", "https://billing.example.com/", "https://billing.example.com/portal"])
def test_portal_origin_refuses_what_is_not_one_origin(translated, origin):
    assert not re.fullmatch(translated["Parameters"]["PortalOrigin"]["AllowedPattern"], origin)


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


# CloudWatch Logs' valid retention periods (days).
RETENTION_DAYS = {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731}
RETENTION_DAYS |= {1096, 1827, 2192, 2557, 2922, 3288, 3653}


def test_log_retention_parameter_allows_exactly_cloudwatchs_values(translated):
    parameter = translated["Parameters"]["LogRetentionDays"]
    assert parameter["Type"] == "Number"
    assert int(parameter["Default"]) == 30
    assert {int(v) for v in parameter["AllowedValues"]} == RETENTION_DAYS


def test_every_function_logs_to_its_own_group_with_the_retention(translated):
    groups = {}
    for fn_id, fn in _functions(translated).items():
        logging = fn["Properties"].get("LoggingConfig") or {}
        assert "LogGroup" in logging, f"{fn_id} logs to Lambda's default group, which keeps logs forever"
        group_id, group = _log_group(translated, logging["LogGroup"])
        assert group.get("RetentionInDays") == {"Ref": "LogRetentionDays"}, group_id
        groups[fn_id] = group_id
    assert len(set(groups.values())) == len(groups), f"functions share a log group: {groups}"


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


def _sends_to(statements: list[dict[str, Any]], action: str, resource: Any) -> bool:
    return any(
        action in map(str, _as_list(s.get("Action", []))) and resource in _as_list(s.get("Resource", []))
        for s in statements
    )


def test_asynchronous_self_invocation_fails_over_to_an_alarmed_queue(translated):
    """A function that invokes itself (the automation's continuations) has a failure destination."""
    configs = _of_type(translated, "AWS::Lambda::EventInvokeConfig")
    functions = _functions(translated)
    invoking = {
        fn_id
        for fn_id, fn in functions.items()
        if any(
            "lambda:InvokeFunction" in map(str, _as_list(s.get("Action", [])))
            for s in _role_statements(translated, fn_id, fn)
        )
    }
    assert "AutoGenerateFunction" in invoking
    queues = _of_type(translated, "AWS::SQS::Queue")
    for fn_id in invoking:
        config = [c["Properties"] for c in configs.values() if _references(c["Properties"]["FunctionName"], fn_id)]
        assert len(config) == 1, f"{fn_id} invokes itself asynchronously but has no EventInvokeConfig"
        ((props),) = config
        assert props.get("Qualifier") == "$LATEST"
        assert 0 <= int(props["MaximumRetryAttempts"]) <= 2
        destination = props["DestinationConfig"]["OnFailure"]["Destination"]
        queue = next((q for q in queues if destination == {"Fn::GetAtt": [q, "Arn"]}), None)
        assert queue is not None, f"{fn_id}: the failure destination {destination} is not a queue of this template"
        assert _sends_to(_role_statements(translated, fn_id, functions[fn_id]), "sqs:SendMessage", destination)
        assert queue in _alarmed_queues(translated), f"{queue} is not alarmed"


# ---- alarms ------------------------------------------------------------------------------------


def _alarmed(translated: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(namespace, metric, dimensions) of every metric an alarm to the alarm topic watches (metric math
    included), for an alarm that fires on the first occurrence."""
    topic = _one(translated, "AWS::SNS::Topic")
    out = []
    for alarm_id, alarm in _of_type(translated, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        if not _references(props.get("AlarmActions", []), topic):
            continue
        assert props.get("TreatMissingData") == "notBreaching", alarm_id
        metrics = [props] + [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
        for m in metrics:
            if "MetricName" in m:
                dims = {d["Name"]: d["Value"] for d in m.get("Dimensions", [])}
                out.append((m["Namespace"], m["MetricName"], dims))
    return out


def _alarmed_queues(translated: dict[str, Any]) -> set[str]:
    return {
        q
        for ns, metric, dims in _alarmed(translated)
        if ns == "AWS/SQS" and metric == "ApproximateNumberOfMessagesVisible"
        for q in _of_type(translated, "AWS::SQS::Queue")
        if dims.get("QueueName") == {"Fn::GetAtt": [q, "QueueName"]}
    }


@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_is_alarmed_on(translated, metric):
    alarmed = {
        fn_id
        for ns, name, dims in _alarmed(translated)
        if (ns, name) == ("AWS/Lambda", metric)
        for fn_id in _functions(translated)
        if dims.get("FunctionName") == {"Ref": fn_id}
    }
    assert set(_functions(translated)) - alarmed == set()


def test_every_http_api_is_alarmed_on_5xx(translated):
    apis = set(_of_type(translated, "AWS::ApiGatewayV2::Api"))
    alarmed = {
        api
        for ns, name, dims in _alarmed(translated)
        if (ns, name) == ("AWS/ApiGateway", "5xx")
        for api in apis
        if dims == {"ApiId": {"Ref": api}}
    }
    assert apis and alarmed == apis


def test_every_dead_letter_queue_is_alarmed(translated):
    queues = _of_type(translated, "AWS::SQS::Queue")
    dead_letter = {
        q
        for props in (r["Properties"] for r in queues.values())
        if "RedrivePolicy" in props
        for q in queues
        if _references(props["RedrivePolicy"]["deadLetterTargetArn"], q)
    }
    assert "ShipmentDeadLetterQueue" in dead_letter
    assert dead_letter - _alarmed_queues(translated) == set()


def test_records_marked_failed_are_alarmed(translated):
    assert ("ProgressBilling", "RecordsFailed", {"service": "progress-billing"}) in _alarmed(translated)


# ---- Cognito -------------------------------------------------------------------------------------


def test_user_pool_password_policy_and_admin_only_sign_up(translated):
    pool = translated["Resources"][_one(translated, "AWS::Cognito::UserPool")]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    policy = pool["Policies"]["PasswordPolicy"]
    assert int(policy["MinimumLength"]) >= 12
    for requirement in ("RequireUppercase", "RequireLowercase", "RequireNumbers", "RequireSymbols"):
        assert policy.get(requirement) is True, requirement
    assert int(policy["TemporaryPasswordValidityDays"]) == 3


def test_user_pool_has_the_r20_groups(translated):
    """R20 (docs/rules.md): billing-admins and billing-clerks; anyone else only reads."""
    pool = _one(translated, "AWS::Cognito::UserPool")
    groups = {
        g["Properties"]["GroupName"]
        for g in _of_type(translated, "AWS::Cognito::UserPoolGroup").values()
        if _references(g["Properties"]["UserPoolId"], pool)
    }
    assert {"billing-admins", "billing-clerks"} <= groups


# ---- data, parameters, outputs -------------------------------------------------------------------


def test_billing_table_is_protected_and_has_its_indexes(translated):
    table = translated["Resources"]["BillingTable"]
    assert table["Type"] == "AWS::DynamoDB::Table"
    assert table.get("DeletionPolicy") == "Retain"
    props = table["Properties"]
    assert props.get("DeletionProtectionEnabled") is True
    assert props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled") is True
    indexes = {g["IndexName"] for g in props.get("GlobalSecondaryIndexes", [])}
    assert {"PendingByDate", "JobsByKind", "ByDate", "ByCustomer"} <= indexes


@pytest.mark.parametrize(
    "name,default", [("BusinessTimezone", "UTC"), ("AutoGenerateSchedule", "cron(0 6 * * ? *)"), ("PortalOrigin", "")]
)
def test_parameters(translated, name, default):
    assert translated["Parameters"][name]["Type"] == "String"
    assert translated["Parameters"][name]["Default"] == default


@pytest.mark.parametrize(
    "name,default", [("LogRetentionDays", 30), ("ApiThrottlingBurstLimit", 100), ("ApiThrottlingRateLimit", 50)]
)
def test_number_parameters(translated, name, default):
    assert translated["Parameters"][name]["Type"] == "Number"
    assert int(translated["Parameters"][name]["Default"]) == default


@pytest.mark.parametrize(
    "name",
    [
        "ApiUrl",
        "UserPoolId",
        "UserPoolClientId",
        "AlarmTopicArn",
        "AutomationFailureQueueUrl",
        "HttpApiAccessLogGroupName",
    ],
)
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
