"""Runtime configuration, read from the environment once, when first needed (never at import).

The table names come from the template (``Globals``); a function started without one fails at its
first request with ``ConfigurationError`` naming the variable, instead of writing to a default table.
"""

from __future__ import annotations

import os
from functools import lru_cache

from .structs import struct


@struct(frozen=True)
class Config:
    table_name: str
    idempotency_table_name: str
    region: str
    endpoint_url: str | None
    business_timezone: str
    idempotency_ttl_seconds: int


class ConfigurationError(RuntimeError):
    """A required environment variable is missing: the deployment is broken, not the request."""


def _required(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"the environment variable {name} is not set (template.yaml Globals sets it)")
    return value


@lru_cache(maxsize=1)
def config() -> Config:
    return Config(
        table_name=_required("TABLE_NAME"),
        idempotency_table_name=_required("IDEMPOTENCY_TABLE_NAME"),
        region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
        # Only set locally (DynamoDB Local or a moto server); in AWS the SDK finds the endpoint itself.
        endpoint_url=os.environ.get("DYNAMODB_ENDPOINT_URL") or None,
        business_timezone=os.environ.get("BUSINESS_TIMEZONE", "UTC"),
        idempotency_ttl_seconds=int(os.environ.get("IDEMPOTENCY_TTL_SECONDS", "86400")),
    )


def reset() -> None:
    """Forget the cached configuration (tests and the local runner change the environment)."""
    config.cache_clear()
