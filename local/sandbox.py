"""The one offline AWS environment: moto for every AWS service, and the template's tables, either in
moto or in a DynamoDB Local engine. Used by the tests (``tests/conftest.py``) and the benchmark.

Two steps:

- ``go_offline()``, once per process and before any handler module is imported: fake credentials, a
  region, the service's Powertools settings, and no endpoint override from a developer's shell, so
  that nothing can reach a real AWS account.
- ``sandbox(endpoint)``, around each test or run: moto active for every service, the tables of
  ``template.yaml`` created (``local.cfn``), and the variables the service reads (``SERVICE_ENV``)
  pointing at them; on exit the tables are dropped and the variables restored as they were.

With ``endpoint`` (a DynamoDB Local engine, ``local.ddblocal``), the tables are fresh, uniquely
named ones in that engine, deleted afterwards, and every DynamoDB client goes there: the service's
own through ``DYNAMODB_ENDPOINT_URL``, any other ``boto3.client("dynamodb")`` through the SDK's
standard ``AWS_ENDPOINT_URL_DYNAMODB``; moto lets those requests through (it answers AWS hostnames
only, and the endpoint is also listed in its ``passthrough`` setting). Without it, moto's in-memory
DynamoDB holds them: a fresh account each time, gone on exit.

The service reads its environment once (``billing.config``): the cached configuration is forgotten
with ``billing.config.reset()`` whenever the environment changes, on entry and on exit.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from . import cfn

# No real account: credentials that nothing accepts, and the service's settings (read at import).
OFFLINE_ENV: dict[str, str] = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "progress-billing",
    "POWERTOOLS_METRICS_NAMESPACE": "ProgressBilling",
    "POWERTOOLS_TRACE_DISABLED": "1",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    "BUSINESS_TIMEZONE": "UTC",
}
# Table names used on moto unless the environment names others (each moto account is fresh).
DEFAULT_TABLE_NAMES: dict[str, str] = {
    "TABLE_NAME": "billing-test",
    "IDEMPOTENCY_TABLE_NAME": "billing-idempotency-test",
}
# What the service (and any SDK client) reads to find its tables; set by ``sandbox``, restored after.
SERVICE_ENV = ("TABLE_NAME", "IDEMPOTENCY_TABLE_NAME", "DYNAMODB_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB")
_ENDPOINT_OVERRIDES = ("DYNAMODB_ENDPOINT_URL", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB")


def go_offline(table_names: dict[str, str] | None = None) -> None:
    """Point this process at no real account (call before importing any handler module); the tables
    are named ``DEFAULT_TABLE_NAMES``, or as ``table_names`` (variable -> name) says."""
    os.environ.update({**OFFLINE_ENV, **DEFAULT_TABLE_NAMES, **(table_names or {})})
    for var in _ENDPOINT_OVERRIDES:  # a developer's shell must not send DynamoDB clients elsewhere
        os.environ.pop(var, None)


@dataclass(frozen=True)
class Sandbox:
    tables: dict[str, str]  # logical id -> table name
    endpoint: str | None  # the DynamoDB Local engine, or None: moto
    env: dict[str, str]  # the SERVICE_ENV variables as set (hand them to a child process)

    def dynamodb(self) -> Any:
        """A boto3 DynamoDB client for these tables."""
        import boto3

        return boto3.client("dynamodb", endpoint_url=self.endpoint)


def mock_everything(endpoint: str | None = None) -> Any:
    """moto's ``mock_aws`` for every service, letting requests to ``endpoint`` (DynamoDB Local) through."""
    from moto import mock_aws
    from moto.core.config import default_user_config

    if endpoint is None:
        return mock_aws()
    core = default_user_config.get("core", {})
    return mock_aws(
        config={
            "core": {
                **core,
                "passthrough": {  # type: ignore[typeddict-unknown-key]
                    "urls": [re.escape(endpoint) + r"(/.*)?$"],
                    "services": [],
                },
            }
        }
    )


def _forget_cached_config() -> None:
    from billing import config

    config.reset()


@contextmanager
def sandbox(endpoint: str | None = None, prefix: str = "billing") -> Iterator[Sandbox]:
    """moto for every AWS service and the template's tables: in moto, or fresh ones in the DynamoDB
    Local engine at ``endpoint`` (named ``<prefix>-...``, deleted on exit)."""
    if endpoint is None:
        env = {var: os.environ.get(var) or DEFAULT_TABLE_NAMES[var] for var in cfn.TABLE_ENV.values()}
    else:
        suffix = uuid.uuid4().hex[:12]
        env = {
            "TABLE_NAME": f"{prefix}-{suffix}",
            "IDEMPOTENCY_TABLE_NAME": f"{prefix}-idempotency-{suffix}",
            "DYNAMODB_ENDPOINT_URL": endpoint,  # the service's clients
            "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        }  # any other boto3/botocore client
    saved = {var: os.environ.get(var) for var in (*SERVICE_ENV, "AWS_ENDPOINT_URL")}
    try:
        for var in saved:
            os.environ.pop(var, None)
        os.environ.update(env)
        _forget_cached_config()
        box = Sandbox({logical_id: env[var] for logical_id, var in cfn.TABLE_ENV.items()}, endpoint, env)
        with mock_everything(endpoint):
            client = box.dynamodb()
            cfn.create_tables(client, box.tables)
            try:
                yield box
            finally:
                if endpoint is not None:
                    for name in box.tables.values():
                        client.delete_table(TableName=name)
    finally:
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
        _forget_cached_config()  # the environment is restored: forget the tables and endpoint
