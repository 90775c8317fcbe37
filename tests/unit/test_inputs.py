"""billing.inputs: what a client may send (R1, R10 and the HTTP contract in docs/rules.md).

Bodies are validated from JSON text where it matters (``model_validate_json``), because that is how
a JSON number, as opposed to a string, reaches the service.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from billing.inputs import FinalIn, JobIn, LineIn, RecordIn, SettingsIn
from billing.validate import Model, ValidationError
from local.fixtures import job_line, order_body


def line(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = job_line()
    body.update(over)
    return body


def job(**over: Any) -> dict[str, Any]:
    return {**order_body(), **over}


def rejected(model: type[Model], body: dict[str, Any] | str) -> ValidationError:
    text = body if isinstance(body, str) else json.dumps(body)
    with pytest.raises(ValidationError) as info:
        model.model_validate_json(text)
    return info.value


def bad_fields(err: ValidationError) -> set[str]:
    """The dotted location of every error, e.g. ``lines.0.quantity``."""
    return {".".join(str(p) for p in e["loc"]) for e in err.errors()}


# --- valid bodies ---------------------------------------------------------------------------------


def test_contract_job_body_is_accepted() -> None:
    j = JobIn.model_validate_json(json.dumps(job()))
    assert j.id == "SO-1001"
    assert j.currency == "USD"
    assert j.lines[0].quantity == "10"
    assert j.lines[0].unit_price == "100.00"


def test_job_currency_defaults_to_usd() -> None:
    body = job()
    del body["currency"]
    assert JobIn.model_validate_json(json.dumps(body)).currency == "USD"


def test_contract_record_bodies_are_accepted() -> None:
    r = RecordIn.model_validate_json(
        json.dumps(
            {
                "invoice_date": "2026-12-01",
                "title": "Milestone 1",
                "description": "Design",
                "item_description": "Design phase",
                "amount": "2500.00",
            }
        )
    )
    assert (r.amount, r.percent, r.schedule, r.invoice_date) == ("2500.00", None, False, "2026-12-01")

    r = RecordIn.model_validate_json('{"percent": "25", "schedule": true}')
    assert (r.amount, r.percent, r.schedule, r.invoice_date) == (None, "25", True, None)


def test_final_body_is_optional() -> None:
    f = FinalIn.model_validate_json("{}")
    assert (f.invoice_date, f.title, f.description) == (None, "", "")


# --- R10: numbers must be strings (strict) --------------------------------------------------------


@pytest.mark.parametrize("text", ['{"amount": 2500.00}', '{"amount": 2500}', '{"amount": 1e3}'])
def test_json_number_amount_rejected(text: str) -> None:
    assert "amount" in bad_fields(rejected(RecordIn, text))


@pytest.mark.parametrize("text", ['{"percent": 25}', '{"percent": 33.3333}'])
def test_json_number_percent_rejected(text: str) -> None:
    assert "percent" in bad_fields(rejected(RecordIn, text))


@pytest.mark.parametrize(
    ("field", "value"), [("quantity", 10), ("quantity", 2.5), ("unit_price", 100), ("unit_price", 99.99)]
)
def test_json_number_quantity_or_unit_price_rejected(field: str, value: float) -> None:
    err = rejected(JobIn, job(lines=[line(**{field: value})]))
    assert f"lines.0.{field}" in bad_fields(err)


def test_python_numbers_are_rejected_too() -> None:
    # strict mode: no int/float -> str coercion, whatever the entry point
    with pytest.raises(ValidationError):
        RecordIn.model_validate({"amount": 2500})
    with pytest.raises(ValidationError):
        RecordIn.model_validate({"percent": 25.0})
    with pytest.raises(ValidationError):
        LineIn.model_validate(line(quantity=1))


@pytest.mark.parametrize("value", ["true", 1, "yes"])
def test_schedule_must_be_a_json_boolean(value: Any) -> None:
    assert "schedule" in bad_fields(rejected(RecordIn, {"amount": "1.00", "schedule": value}))


# --- extra fields ----------------------------------------------------------------------------------


def test_extra_fields_rejected_on_record() -> None:
    err = rejected(RecordIn, {"amount": "10.00", "amout": "10.00"})
    assert "amout" in bad_fields(err)


def test_extra_fields_rejected_on_job_and_line() -> None:
    assert "status" in bad_fields(rejected(JobIn, job(status="finalized")))
    # a client may not send a line amount: it is computed from quantity x unit price
    assert "lines.0.amount" in bad_fields(rejected(JobIn, job(lines=[line(amount="1000.00")])))


def test_extra_fields_rejected_on_final_and_settings() -> None:
    assert "total" in bad_fields(rejected(FinalIn, {"total": "0.00"}))
    assert "accounts.cash" in bad_fields(rejected(SettingsIn, {"accounts": {"cash": "1000"}}))
    assert "auto_invoice" in bad_fields(rejected(SettingsIn, {"auto_invoice": True}))


# --- R1: exactly one of amount or percent ----------------------------------------------------------


def test_both_amount_and_percent_rejected() -> None:
    err = rejected(RecordIn, {"amount": "100.00", "percent": "10"})
    assert "exactly one of amount or percent" in str(err)


@pytest.mark.parametrize("body", [{}, {"title": "Deposit"}, {"amount": None, "percent": None}])
def test_neither_amount_nor_percent_rejected(body: dict[str, Any]) -> None:
    err = rejected(RecordIn, body)
    assert "exactly one of amount or percent" in str(err)


@pytest.mark.parametrize("amount", ["0", "0.00", "-1.00", "-0.01", "abc", "", "1e3", " 10.00", "1,000.00"])
def test_amount_must_be_a_positive_decimal_string(amount: str) -> None:
    assert "amount" in bad_fields(rejected(RecordIn, {"amount": amount}))


@pytest.mark.parametrize("percent", ["0.0001", "1", "12.3456", "25", "99.9999", "100", "100.0000", "33.3333"])
def test_percent_in_range_with_up_to_four_decimals_accepted(percent: str) -> None:
    assert RecordIn.model_validate_json(json.dumps({"percent": percent})).percent == percent


@pytest.mark.parametrize(
    "percent",
    ["0", "0.0000", "-5", "100.0001", "101", "1000", "12.34567", "0.00001", "25%", "1e1", "", "abc"],
)
def test_percent_out_of_range_or_too_precise_rejected(percent: str) -> None:
    assert "percent" in bad_fields(rejected(RecordIn, {"percent": percent}))


def test_percent_with_trailing_newline_rejected() -> None:
    rejected(RecordIn, {"percent": "25\n"})


def test_percent_with_non_ascii_digits_rejected() -> None:
    rejected(RecordIn, {"percent": "\u0665"})


# --- dates -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("date", ["2026-12-01", "2028-02-29", "2026-01-31"])
def test_valid_dates_accepted(date: str) -> None:
    assert RecordIn.model_validate_json(json.dumps({"amount": "1.00", "invoice_date": date})).invoice_date == date
    assert FinalIn.model_validate_json(json.dumps({"invoice_date": date})).invoice_date == date


@pytest.mark.parametrize(
    "date",
    [
        "2026-13-01",
        "2026-1-1",
        "2026-12-1",
        "2026-02-30",
        "2026-02-29",
        "2026-00-10",
        "20261201",
        "2026/12/01",
        "01-12-2026",
        "2026-12-01T00:00:00",
        "2026-12-01 ",
        "",
        "tomorrow",
    ],
)
def test_invalid_dates_rejected(date: str) -> None:
    assert "invoice_date" in bad_fields(rejected(RecordIn, {"amount": "1.00", "invoice_date": date}))
    assert "invoice_date" in bad_fields(rejected(FinalIn, {"invoice_date": date}))


def test_date_must_be_a_string() -> None:
    assert "invoice_date" in bad_fields(rejected(RecordIn, {"amount": "1.00", "invoice_date": 20261201}))


def test_iso_week_date_rejected() -> None:
    rejected(RecordIn, {"amount": "1.00", "invoice_date": "2026-W49-2"})


# --- ids -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("id_", ["SO-1001", "a", "A_b.c-9", "x" * 64])
def test_valid_ids_accepted(id_: str) -> None:
    j = JobIn.model_validate_json(json.dumps(job(id=id_, customer_id=id_, lines=[line(line_id=id_)])))
    assert (j.id, j.customer_id, j.lines[0].line_id) == (id_, id_, id_)


@pytest.mark.parametrize("id_", ["", "x" * 65, "SO 1001", "SO/1001", "SO#1", "SO-1\n", "caf\u00e9", "a:b"])
def test_invalid_ids_rejected(id_: str) -> None:
    assert "id" in bad_fields(rejected(JobIn, job(id=id_)))
    assert "customer_id" in bad_fields(rejected(JobIn, job(customer_id=id_)))
    assert "lines.0.line_id" in bad_fields(rejected(JobIn, job(lines=[line(line_id=id_)])))


def test_customer_name_required() -> None:
    assert "customer_name" in bad_fields(rejected(JobIn, job(customer_name="")))


# --- currency --------------------------------------------------------------------------------------


@pytest.mark.parametrize("currency", ["USD", "JPY", "KWD", "EUR"])
def test_supported_currency_accepted(currency: str) -> None:
    assert JobIn.model_validate_json(json.dumps(job(currency=currency))).currency == currency


@pytest.mark.parametrize("currency", ["XXX", "ABC", "usd", "US", "USDX", "", "$"])
def test_unsupported_currency_rejected(currency: str) -> None:
    assert "currency" in bad_fields(rejected(JobIn, job(currency=currency)))


# --- lines -----------------------------------------------------------------------------------------


def test_duplicate_line_ids_rejected() -> None:
    err = rejected(JobIn, job(lines=[line(line_id="1"), line(line_id="2"), line(line_id="1")]))
    assert "lines" in bad_fields(err)
    assert "unique" in str(err)


def test_distinct_line_ids_accepted() -> None:
    j = JobIn.model_validate_json(json.dumps(job(lines=[line(line_id="1"), line(line_id="2")])))
    assert [ln.line_id for ln in j.lines] == ["1", "2"]


def test_at_least_one_line() -> None:
    assert "lines" in bad_fields(rejected(JobIn, job(lines=[])))
    body = job()
    del body["lines"]
    assert "lines" in bad_fields(rejected(JobIn, body))


@pytest.mark.parametrize("qty", ["0", "0.0000", "-1", "1.23456", "1e2", "ten", ""])
def test_line_quantity_positive_up_to_four_decimals(qty: str) -> None:
    assert "lines.0.quantity" in bad_fields(rejected(JobIn, job(lines=[line(quantity=qty)])))


@pytest.mark.parametrize("qty", ["1", "0.0001", "2.5", "1.2345"])
def test_line_quantity_accepted(qty: str) -> None:
    assert JobIn.model_validate_json(json.dumps(job(lines=[line(quantity=qty)]))).lines[0].quantity == qty


@pytest.mark.parametrize("price", ["0", "0.00", "33.3333", "100"])
def test_unit_price_zero_or_positive_up_to_four_decimals_accepted(price: str) -> None:
    assert JobIn.model_validate_json(json.dumps(job(lines=[line(unit_price=price)]))).lines[0].unit_price == price


@pytest.mark.parametrize("price", ["-0.01", "33.33333", "1e2", "abc"])
def test_unit_price_negative_or_too_precise_rejected(price: str) -> None:
    assert "lines.0.unit_price" in bad_fields(rejected(JobIn, job(lines=[line(unit_price=price)])))


# --- settings --------------------------------------------------------------------------------------


def test_settings_partial_update_accepted() -> None:
    s = SettingsIn.model_validate_json('{"accounts": {"revenue": "4100"}}')
    assert s.accounts is not None
    assert (s.accounts.revenue, s.accounts.receivable, s.auto_invoice_on_shipment) == ("4100", None, None)


@pytest.mark.parametrize(
    "body",
    [
        {"auto_invoice_on_shipment": "yes"},
        {"auto_invoice_on_shipment": 1},
        {"accounts": {"revenue": 4000}},
        {"accounts": {"revenue": ""}},
        {"accounts": {"revenue": "40 00"}},
    ],
)
def test_settings_invalid_values_rejected(body: dict[str, Any]) -> None:
    rejected(SettingsIn, body)
