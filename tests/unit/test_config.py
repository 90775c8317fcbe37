"""The configuration fails fast: a function started without its table names refuses to run, rather
than writing to a default table no stack created."""

from __future__ import annotations

import pytest

from billing import config


@pytest.fixture(autouse=True)
def _forget() -> object:
    config.reset()
    yield
    config.reset()


@pytest.mark.parametrize("missing", ["TABLE_NAME", "IDEMPOTENCY_TABLE_NAME"])
def test_a_missing_table_name_is_an_error_naming_the_variable(monkeypatch, missing):
    monkeypatch.delenv(missing)
    with pytest.raises(config.ConfigurationError, match=missing):
        config.config()


def test_a_blank_table_name_counts_as_missing(monkeypatch):
    monkeypatch.setenv("TABLE_NAME", "  ")
    with pytest.raises(config.ConfigurationError, match="TABLE_NAME"):
        config.config()


def test_the_environment_is_read_once_when_first_needed(monkeypatch):
    monkeypatch.setenv("TABLE_NAME", "billing-a")
    monkeypatch.setenv("BUSINESS_TIMEZONE", "Asia/Tokyo")
    first = config.config()
    monkeypatch.setenv("TABLE_NAME", "billing-b")
    assert config.config() is first
    assert (first.table_name, first.business_timezone) == ("billing-a", "Asia/Tokyo")


def test_over_http_a_missing_table_name_is_a_500_that_says_so_not_a_retryable_fault(monkeypatch):
    from local import cfn
    from local.fixtures import ADMIN, lambda_context
    from local.gateway import http_event

    monkeypatch.delenv("TABLE_NAME")
    module = cfn.load_handler_module(cfn.function_code_uri("ApiFunction"))
    event = http_event("GET", "/orders/SO-1", "GET /orders/{job_id}", {"job_id": "SO-1"}, claims=ADMIN)
    response = module.lambda_handler(event, lambda_context("ApiFunction"))
    assert response["statusCode"] == 500
    assert "misconfigured" in response["body"] and "retried" not in response["body"]
