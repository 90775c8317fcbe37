"""Request bodies (``billing.validate``: strict, closed): what a client may send, and nothing else.

Amounts, percents, quantities and prices are strings (R10): strict mode rejects a JSON number.
Checks that need the job (an amount's decimals depend on its currency) happen in ``service``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from . import limits as L
from .dates import is_date
from .money import (
    DECIMAL_PATTERN,
    MINOR_UNITS,
    PERCENT_DECIMALS,
    QUANTITY_DECIMALS,
    UNIT_PRICE_DECIMALS,
    MoneyError,
    parse_decimal,
)
from .validate import AfterValidator, ConfigDict, Field, Model, field_validator, model_validator

Id = Annotated[str, Field(min_length=1, max_length=L.ID_MAX, pattern=L.ID_PATTERN)]
# The schema says what the validators check (a client generator or a fuzzer reads it); the validators
# below give the precise message (decimals allowed, the limit).
DecimalString = Annotated[
    str,
    Field(min_length=1, max_length=32, examples=["2500.00"], json_schema_extra={"pattern": DECIMAL_PATTERN}),
]
Text = Annotated[str, Field(max_length=L.TEXT_MAX)]
LongText = Annotated[str, Field(max_length=L.LONG_TEXT_MAX)]
AccountCode = Annotated[str, Field(min_length=1, max_length=L.ACCOUNT_CODE_MAX, pattern=L.ID_PATTERN)]
AccountName = Annotated[str, Field(min_length=1, max_length=L.ACCOUNT_NAME_MAX)]
TaxCode = Annotated[str, Field(min_length=1, max_length=L.TAX_CODE_MAX, pattern=L.ID_PATTERN, examples=["VAT20"])]

_STRICT = ConfigDict(extra="forbid", strict=True, defer_build=True)


def _strict(example: dict[str, Any], **schema: Any) -> ConfigDict:
    """The request models' configuration, with an example the OpenAPI document shows (Swagger UI,
    generated clients, and the fuzzer's example phase, which so reaches the write paths)."""
    return ConfigDict(
        extra="forbid", strict=True, defer_build=True, json_schema_extra={"examples": [example], **schema}
    )


__all__ = [
    "ChangeOrderIn", "Date", "FinalIn", "Id", "JobIn", "LineIn", "Quantity", "RecordIn", "RecordPatchIn",
    "SettingsIn", "VoidIn",
]  # fmt: skip
AMOUNT_DECIMALS_MAX = 12  # before the job's currency is known; its minor unit is checked in ``service``


def _date(value: str) -> str:
    if not is_date(value):
        raise ValueError("must be a date YYYY-MM-DD")
    return value


def _bounded(value: str, places: int, what: str, below: Decimal, allow_zero: bool = False) -> str:
    """A decimal string > 0 (or >= 0) with at most ``places`` decimals and below ``below`` (R10, R19)."""
    try:
        d = parse_decimal(value, places, what)
    except MoneyError as e:
        raise ValueError(str(e)) from None
    if d < 0 or (d == 0 and not allow_zero):
        raise ValueError(f"{what} must be greater than {'or equal to ' if allow_zero else ''}0")
    if d >= below:
        raise ValueError(f"{what} must be less than {below:,f} (docs/limits.md)")
    return value


def _percent(value: str) -> str:
    _bounded(value, PERCENT_DECIMALS, "percent", Decimal(101))
    if parse_decimal(value, PERCENT_DECIMALS) > 100:
        raise ValueError("percent must be at most 100")
    return value


Date = Annotated[
    str,
    Field(examples=["2026-12-01"], description="YYYY-MM-DD", json_schema_extra={"format": "date"}),
    AfterValidator(_date),
]
# A quantity (job lines and shipped lines): a decimal string > 0 with at most 4 decimals.
Quantity = Annotated[
    DecimalString, AfterValidator(lambda v: _bounded(v, QUANTITY_DECIMALS, "quantity", L.MAX_QUANTITY))
]
# A change order's quantity: 0 removes the line's (unshipped) scope (R15).
QuantityOrZero = Annotated[
    DecimalString,
    AfterValidator(lambda v: _bounded(v, QUANTITY_DECIMALS, "quantity", L.MAX_QUANTITY, allow_zero=True)),
]
UnitPrice = Annotated[
    DecimalString,
    AfterValidator(lambda v: _bounded(v, UNIT_PRICE_DECIMALS, "unit_price", L.MAX_UNIT_PRICE, allow_zero=True)),
]
Amount = Annotated[DecimalString, AfterValidator(lambda v: _bounded(v, AMOUNT_DECIMALS_MAX, "amount", L.MAX_AMOUNT))]
Percent = Annotated[DecimalString, AfterValidator(_percent)]


class LineIn(Model):
    model_config = _STRICT
    line_id: Id
    item_code: Annotated[str, Field(min_length=1, max_length=L.ITEM_CODE_MAX)]
    description: Annotated[str, Field(max_length=L.LINE_DESCRIPTION_MAX)] = ""
    quantity: Quantity
    unit_price: UnitPrice
    tax_code: TaxCode | None = None  # R16: a code of the settings' tax_codes (None: untaxed)


def _unique(lines: list[LineIn] | list[ChangeLineIn]) -> None:
    ids = [ln.line_id for ln in lines]
    if len(ids) != len(set(ids)):
        raise ValueError("line_id values must be unique")


def _said(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


# A reason a person gives (a void, a change order): required, not blank.
Reason = Annotated[str, Field(min_length=1, max_length=L.TEXT_MAX), AfterValidator(_said)]


class JobIn(Model):
    """Register an order or a project."""

    model_config = _strict({"id": "SO-1001", "customer_id": "C-7", "customer_name": "Acme", "currency": "USD",
                            "lines": [{"line_id": "1", "item_code": "WIDGET", "description": "Widget",
                                       "quantity": "10", "unit_price": "100.00"}]})  # fmt: skip
    id: Id
    customer_id: Id
    customer_name: Annotated[str, Field(min_length=1, max_length=L.CUSTOMER_NAME_MAX)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$", json_schema_extra={"enum": sorted(MINOR_UNITS)})] = "USD"
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=L.LINES_PER_JOB)]

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if v not in MINOR_UNITS:
            raise ValueError(f"unsupported currency; supported: {', '.join(sorted(MINOR_UNITS))}")
        return v

    @field_validator("lines")
    @classmethod
    def _unique_lines(cls, v: list[LineIn]) -> list[LineIn]:
        _unique(v)
        return v


class ChangeLineIn(Model):
    """One line of a change order (R15): an existing ``line_id`` with what changes, or a new line
    (``item_code``, ``quantity`` and ``unit_price`` required). Quantity ``"0"`` removes a line's scope."""

    model_config = _STRICT
    line_id: Id
    item_code: Annotated[str, Field(min_length=1, max_length=L.ITEM_CODE_MAX)] | None = None
    description: Annotated[str, Field(max_length=L.LINE_DESCRIPTION_MAX)] | None = None
    quantity: QuantityOrZero | None = None
    unit_price: UnitPrice | None = None
    tax_code: TaxCode | None = None  # R16: a new line's tax code (an existing line's cannot change)


class ChangeOrderIn(Model):
    """R15: change a job's lines; ``date`` defaults to today's business date."""

    model_config = _strict({"date": "2026-12-01", "reason": "Customer added a second floor",
                            "lines": [{"line_id": "1", "quantity": "12"},
                                      {"line_id": "9", "item_code": "EXTRA", "description": "Extra work",
                                       "quantity": "1", "unit_price": "3200.00"}]})  # fmt: skip
    date: Date | None = None
    reason: Reason
    lines: Annotated[list[ChangeLineIn], Field(min_length=1, max_length=L.CHANGE_ORDER_LINES)]

    @field_validator("lines")
    @classmethod
    def _unique_lines(cls, v: list[ChangeLineIn]) -> list[ChangeLineIn]:
        _unique(v)
        return v


class VoidIn(Model):
    """R14: void an invoice by a credit note; ``void_date`` defaults to today's business date."""

    model_config = _strict({"reason": "Billed the wrong amount", "void_date": "2026-12-01"})
    reason: Reason
    void_date: Date | None = None


class _Heading(Model):
    """What every invoice request may name: its date (default: today's business date), title, description."""

    model_config = _STRICT
    invoice_date: Date | None = None
    title: Text = ""
    description: LongText = ""


class RecordIn(_Heading):
    """A progress billing record: exactly one of ``amount`` or ``percent`` (R1)."""

    model_config = _strict(
        {"invoice_date": "2026-12-01", "title": "Milestone 1", "item_description": "Design", "percent": "25"},
        oneOf=[{"required": ["amount"]}, {"required": ["percent"]}],
    )

    item_description: Text = ""
    amount: Amount | None = None
    percent: Percent | None = None
    schedule: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> RecordIn:
        if (self.amount is None) == (self.percent is None):
            raise ValueError("exactly one of amount or percent is required")
        return self


class RecordPatchIn(Model):
    """R21: what may change on a pending record; fields left out keep their value. At most one of
    ``amount`` or ``percent``: either replaces the other (a percent is turned into its amount again)."""

    model_config = _strict({"invoice_date": "2027-01-15", "amount": "2750.00"})
    invoice_date: Date | None = None
    title: Text | None = None
    description: LongText | None = None
    item_description: Text | None = None
    amount: Amount | None = None
    percent: Percent | None = None

    @model_validator(mode="after")
    def _one_change(self) -> RecordPatchIn:
        if self.amount is not None and self.percent is not None:
            raise ValueError("send amount or percent, not both")
        if not self.model_fields_set:
            raise ValueError("nothing to change: send at least one field")
        return self


class FinalIn(_Heading):
    """The final invoice (R7): the body is optional."""

    model_config = _strict({"invoice_date": "2026-12-31", "title": "Final invoice"})


class AccountsIn(Model):
    model_config = _STRICT
    receivable: AccountCode | None = None
    customer_deposits: AccountCode | None = None
    revenue: AccountCode | None = None


class AccountNamesIn(Model):
    model_config = _STRICT
    receivable: AccountName | None = None
    customer_deposits: AccountName | None = None
    revenue: AccountName | None = None


class ActorIn(Model):
    """An author as ``GET /settings`` shows it (``updated_by``): sent back, it is ignored."""

    model_config = _STRICT
    sub: Annotated[str, Field(max_length=256)]
    username: Annotated[str, Field(max_length=256)]


def _rate(value: str) -> str:
    """A percent 0-100 with at most 4 decimals, kept in its shortest form ("20.0000" and "020" are "20")."""
    try:
        rate = parse_decimal(value, PERCENT_DECIMALS, "rate")
    except MoneyError as e:
        raise ValueError(str(e)) from None
    if not 0 <= rate <= 100:
        raise ValueError("must be a percent from 0 to 100")
    text = format(rate, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


class TaxCodeIn(Model):
    """R16: one tax code: its name, its rate (a percent, up to 4 decimals) and its account."""

    model_config = _STRICT
    name: AccountName
    rate: Annotated[DecimalString, AfterValidator(_rate)]
    account: AccountCode


class CompanyIn(Model):
    """The issuer shown on invoice documents; fields left out keep their value."""

    model_config = _STRICT
    name: Annotated[str, Field(max_length=L.COMPANY_NAME_MAX)] | None = None
    address: Annotated[str, Field(max_length=L.ADDRESS_MAX)] | None = None
    tax_id: Annotated[str, Field(max_length=L.TAX_ID_MAX)] | None = None


class SettingsIn(Model):
    """``PUT /settings``: the fields sent replace the current ones; omitted fields are kept.

    What ``GET /settings`` returned is accepted back as it is (R20): the server-owned ``updated_at``
    and ``updated_by`` are ignored; ``version``, when sent, must still be the stored one (else 409
    ``CONFLICT``), so that two admins cannot silently overwrite each other.
    """

    model_config = _strict({"auto_invoice_on_shipment": True, "accounts": {"customer_deposits": "2400"}})
    auto_invoice_on_shipment: bool | None = None
    accounts: AccountsIn | None = None
    account_names: AccountNamesIn | None = None
    tax_on_deposits: bool | None = None  # R16
    # R16: the whole map of tax codes, replaced when sent (a code left out is removed: the lines that
    # captured it keep their rate and account)
    tax_codes: (
        Annotated[
            dict[TaxCode, TaxCodeIn],
            Field(
                max_length=L.TAX_CODES_MAX, examples=[{"VAT20": {"name": "VAT 20%", "rate": "20", "account": "2200"}}]
            ),
        ]
        | None
    ) = None
    company: CompanyIn | None = None
    version: Annotated[int, Field(ge=0, description="The version GET /settings returned")] | None = None
    updated_at: Annotated[str, Field(max_length=64, description="Server-owned: ignored")] | None = None
    updated_by: Annotated[ActorIn | None, Field(description="Server-owned: ignored")] = None
