"""Read ``template.yaml`` so that tests and the local runner use the real stack definition:
tables, queues, HTTP routes and schedules come from here, never from a second hand-written copy.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

# Logical id of each table -> the environment variable its name is passed in (see Globals).
TABLE_ENV = {"BillingTable": "TABLE_NAME", "IdempotencyTable": "IDEMPOTENCY_TABLE_NAME"}


class _Loader(yaml.SafeLoader):
    """YAML loader that keeps CloudFormation short-form tags (``!Ref X`` -> ``{"Ref": "X"}``)."""


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    name = "Ref" if suffix == "Ref" else f"Fn::{suffix}"
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {name: value}


_Loader.add_multi_constructor("!", _tag)


@lru_cache(maxsize=1)
def template() -> dict[str, Any]:
    with TEMPLATE.open() as f:
        loaded: dict[str, Any] = yaml.load(f, Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    return loaded


def resources(type_: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template()["Resources"].items() if v["Type"] == type_}


def parameter_default(name: str) -> str:
    return str(template()["Parameters"][name]["Default"])


def function_environment(table_names: dict[str, str], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """The functions' environment as the template's ``Globals`` sets it: a table's Ref gets its name
    in ``table_names`` (logical id -> name), a parameter's Ref its default, unless ``overrides`` (the
    caller's environment, e.g. ``BUSINESS_TIMEZONE=Asia/Tokyo make run``) names the variable."""
    variables = template().get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    given = overrides or {}
    out: dict[str, str] = {}
    for name, value in variables.items():
        ref = value.get("Ref") if isinstance(value, dict) else None
        if ref in table_names:
            out[name] = table_names[ref]
        else:
            out[name] = given.get(name) or (parameter_default(ref) if ref is not None else str(value))
    return out


def create_table_kwargs(logical_id: str, table_name: str) -> dict[str, Any]:
    """``CreateTable`` arguments from a table's properties in the template."""
    props = resources("AWS::DynamoDB::Table")[logical_id]["Properties"]
    kwargs: dict[str, Any] = {
        "TableName": table_name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        kwargs["GlobalSecondaryIndexes"] = [
            {"IndexName": g["IndexName"], "KeySchema": g["KeySchema"], "Projection": g["Projection"]}
            for g in props["GlobalSecondaryIndexes"]
        ]
    if props.get("StreamSpecification"):
        kwargs["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    return kwargs


def ttl_attribute(logical_id: str) -> str | None:
    spec = resources("AWS::DynamoDB::Table")[logical_id]["Properties"].get("TimeToLiveSpecification")
    return spec["AttributeName"] if spec and spec.get("Enabled") else None


def create_tables(client: Any, names: dict[str, str]) -> None:
    """Create every table of the template (``names``: logical id -> table name) if missing."""
    existing = set(client.list_tables().get("TableNames", []))
    for logical_id, name in names.items():
        if name in existing:
            continue
        client.create_table(**create_table_kwargs(logical_id, name))
        client.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        ttl = ttl_attribute(logical_id)
        if ttl:
            client.update_time_to_live(TableName=name, TimeToLiveSpecification={"AttributeName": ttl, "Enabled": True})


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # template form: /orders/{job_id}
    function: str  # logical id
    code_uri: str
    pattern: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method.upper() != self.method:
            return None
        m = self.pattern.match(path)
        return m.groupdict() if m else None


def _pattern(path: str) -> re.Pattern[str]:
    regex = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", re.escape(path))
    return re.compile(f"^{regex}$")


def function_events(event_type: str) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(function logical id, its properties, the event's properties) of every event of ``event_type``
    (``HttpApi``, ``SQS``, ``DynamoDB``) of every function in the template."""
    for logical_id, res in resources("AWS::Serverless::Function").items():
        props = res["Properties"]
        for event in (props.get("Events") or {}).values():
            if event["Type"] == event_type:
                yield logical_id, props, event["Properties"]


@lru_cache(maxsize=1)
def http_routes() -> tuple[Route, ...]:
    out = []
    for logical_id, props, p in function_events("HttpApi"):
        out.append(Route(p["Method"].upper(), p["Path"], logical_id, props["CodeUri"], _pattern(p["Path"])))
    # Literal segments win over parameters, as in API Gateway: more literal characters first.
    out.sort(key=lambda r: -len(re.sub(r"\{\w+\}", "", r.path)))
    return tuple(out)


def find_route(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    for route in http_routes():
        params = route.match(method, path)
        if params is not None:
            return route, params
    return None


def function_code_uri(logical_id: str) -> str:
    return str(resources("AWS::Serverless::Function")[logical_id]["Properties"]["CodeUri"])


def function_property(logical_id: str, name: str) -> Any:
    props = resources("AWS::Serverless::Function")[logical_id]["Properties"]
    return props.get(name, template().get("Globals", {}).get("Function", {}).get(name))


def load_handler_module(code_uri: str) -> ModuleType:
    """Import ``<code_uri>/app.py`` under a unique module name (every function's module is ``app``).
    Its directory goes on ``sys.path`` (last), as ``/var/task`` is in Lambda, for its own modules."""
    name = "fn_" + code_uri.strip("/").replace("/", "_")
    if name in sys.modules:
        return sys.modules[name]
    if str(ROOT / code_uri) not in sys.path:
        sys.path.append(str(ROOT / code_uri))
    spec = importlib.util.spec_from_file_location(name, ROOT / code_uri / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
