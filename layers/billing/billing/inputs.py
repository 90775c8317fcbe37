"""Request bodies (pydantic, ``extra="forbid"``, strict): what a client may send, and nothing else.

Amounts, percents, quantities and prices are strings (R10): strict mode rejects a JSON number.
Checks that need the job (an amount's decimals depend on its currency) happen in ``service``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from .dates import is_date
from .money import MINOR_UNITS, PERCENT_DECIMALS, QUANTITY_DECIMALS, UNIT_PRICE_DECIMALS, MoneyError, parse_decimal

Id = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]
DecimalString = Annotated[str, Field(min_length=1, max_length=32, examples=["2500.00"])]
Text = Annotated[str, Field(max_length=500)]
LongText = Annotated[str, Field(max_length=4000)]
AccountCode = Annotated[str, Field(min_length=1, max_length=20, pattern=r"^[A-Za-z0-9_.\-]+$")]

_STRICT = ConfigDict(extra="forbid", strict=True, defer_build=True)
__all__ = ["Date", "FinalIn", "Id", "JobIn", "LineIn", "Quantity", "RecordIn", "SettingsIn"]
AMOUNT_DECIMALS_MAX = 12  # before the job's currency is known; its minor unit is checked in ``service``


def _date(value: str) -> str:
    if not is_date(value):
        raise ValueError("must be a date YYYY-MM-DD")
    return value


def _positive(value: str, places: int, what: str, allow_zero: bool = False) -> str:
    try:
        d = parse_decimal(value, places, what)
    except MoneyError as e:
        raise ValueError(str(e)) from None
    if d < 0 or (d == 0 and not allow_zero):
        raise ValueError(f"{what} must be greater than {'or equal to ' if allow_zero else ''}0")
    return value


def _percent(value: str) -> str:
    _positive(value, PERCENT_DECIMALS, "percent")
    if parse_decimal(value, PERCENT_DECIMALS) > 100:
        raise ValueError("percent must be at most 100")
    return value


Date = Annotated[str, Field(examples=["2026-12-01"], description="YYYY-MM-DD"), AfterValidator(_date)]
# A quantity (job lines and shipped lines): a decimal string > 0 with at most 4 decimals.
Quantity = Annotated[DecimalString, AfterValidator(lambda v: _positive(v, QUANTITY_DECIMALS, "quantity"))]
UnitPrice = Annotated[
    DecimalString, AfterValidator(lambda v: _positive(v, UNIT_PRICE_DECIMALS, "unit_price", allow_zero=True))
]
Amount = Annotated[DecimalString, AfterValidator(lambda v: _positive(v, AMOUNT_DECIMALS_MAX, "amount"))]
Percent = Annotated[DecimalString, AfterValidator(_percent)]


class LineIn(BaseModel):
    model_config = _STRICT
    line_id: Id
    item_code: Annotated[str, Field(min_length=1, max_length=64)]
    description: Text = ""
    quantity: Quantity
    unit_price: UnitPrice


class JobIn(BaseModel):
    """Register an order or a project."""

    model_config = _STRICT
    id: Id
    customer_id: Id
    customer_name: Annotated[str, Field(min_length=1, max_length=200)]
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "USD"
    lines: Annotated[list[LineIn], Field(min_length=1, max_length=200)]

    @field_validator("currency")
    @classmethod
    def _currency(cls, v: str) -> str:
        if v not in MINOR_UNITS:
            raise ValueError(f"unsupported currency; supported: {', '.join(sorted(MINOR_UNITS))}")
        return v

    @field_validator("lines")
    @classmethod
    def _unique_lines(cls, v: list[LineIn]) -> list[LineIn]:
        ids = [ln.line_id for ln in v]
        if len(ids) != len(set(ids)):
            raise ValueError("line_id values must be unique")
        return v


class _Heading(BaseModel):
    """What every invoice request may name: its date (default: today's business date), title, description."""

    model_config = _STRICT
    invoice_date: Date | None = None
    title: Text = ""
    description: LongText = ""


class RecordIn(_Heading):
    """A progress billing record: exactly one of ``amount`` or ``percent`` (R1)."""

    item_description: Text = ""
    amount: Amount | None = None
    percent: Percent | None = None
    schedule: bool = False

    @model_validator(mode="after")
    def _one_of(self) -> RecordIn:
        if (self.amount is None) == (self.percent is None):
            raise ValueError("exactly one of amount or percent is required")
        return self


class FinalIn(_Heading):
    """The final invoice (R7): the body is optional."""


class AccountsIn(BaseModel):
    model_config = _STRICT
    receivable: AccountCode | None = None
    customer_deposits: AccountCode | None = None
    revenue: AccountCode | None = None


class AccountNamesIn(BaseModel):
    model_config = _STRICT
    receivable: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    customer_deposits: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    revenue: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class SettingsIn(BaseModel):
    """``PUT /settings``: the fields sent replace the current ones; omitted fields are kept."""

    model_config = _STRICT
    auto_invoice_on_shipment: bool | None = None
    accounts: AccountsIn | None = None
    account_names: AccountNamesIn | None = None
