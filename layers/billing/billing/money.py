"""Money: Decimal only, quantized to the currency's ISO 4217 minor unit (R1, R10).

Every amount in the service passes through this module on its way in (``parse_amount``),
on every computation (``quantize``) and on its way out (``fmt``). No float is ever accepted:
a JSON number is rejected before it gets here, and ``Decimal(float)`` is never called.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow

# ISO 4217 minor units. Extend here to support another currency.
MINOR_UNITS: dict[str, int] = {
    "USD": 2,
    "EUR": 2,
    "GBP": 2,
    "CAD": 2,
    "AUD": 2,
    "NZD": 2,
    "CHF": 2,
    "SEK": 2,
    "NOK": 2,
    "DKK": 2,
    "MXN": 2,
    "SGD": 2,
    "HKD": 2,
    "CNY": 2,
    "INR": 2,
    "ZAR": 2,
    "PLN": 2,
    "JPY": 0,
    "KRW": 0,
    "ISK": 0,
    "CLP": 0,
    "VND": 0,
    "KWD": 3,
    "BHD": 3,
    "JOD": 3,
    "OMR": 3,
    "TND": 3,
}

PERCENT_DECIMALS = 4
QUANTITY_DECIMALS = 4
UNIT_PRICE_DECIMALS = 4

# R19 magnitudes (``limits``): amounts below 10^12 with at most 3 decimals (15 significant digits)
# keep a stack's running balances exact in the default 28-digit context and in DynamoDB's 38-digit
# numbers; a quantity times a unit price (up to 29 significant digits) is computed in ``_EXACT``.
_EXACT = Context(prec=60, rounding=ROUND_HALF_UP, traps=[InvalidOperation, Overflow, DivisionByZero])

DECIMAL_PATTERN = r"^-?[0-9]{1,15}(\.[0-9]{1,12})?$"
_DECIMAL_STRING = re.compile(DECIMAL_PATTERN.strip("^$"))  # used with fullmatch: ASCII only
HUNDRED = Decimal(100)
ZERO = Decimal(0)


class MoneyError(ValueError):
    """A value that is not an acceptable decimal string for its purpose."""


def minor_unit(currency: str) -> int:
    try:
        return MINOR_UNITS[currency]
    except KeyError:
        raise MoneyError(f"unsupported currency {currency!r}") from None


def exponent(currency: str) -> Decimal:
    return Decimal(1).scaleb(-minor_unit(currency))


def quantize(value: Decimal, currency: str) -> Decimal:
    """Round half-up to the currency's minor unit (exactly: in a context wide enough for any bounded value)."""
    return value.quantize(exponent(currency), rounding=ROUND_HALF_UP, context=_EXACT)


def fmt(value: Decimal, currency: str) -> str:
    """The wire form: exactly the minor-unit decimals (``"2500.00"``, JPY ``"33333"``)."""
    q = quantize(value, currency)
    return format(abs(q) if q == 0 else q, "f")  # never "-0.00"


def parse_decimal(text: str, max_decimals: int, what: str = "value") -> Decimal:
    """Parse a plain decimal string with at most ``max_decimals`` places; nothing is rounded."""
    if not isinstance(text, str) or not _DECIMAL_STRING.fullmatch(text):
        raise MoneyError(f'{what} must be a decimal string such as "12.50"')
    value = Decimal(text)
    places = -value.as_tuple().exponent  # type: ignore[operator]
    if places > max_decimals:
        raise MoneyError(f"{what} has more than {max_decimals} decimal places")
    return abs(value) if value == 0 else value  # "-0" is 0: never stored or shown as "-0"


def parse_amount(text: str, currency: str, what: str = "amount") -> Decimal:
    """An amount in ``currency``: no more decimals than its minor unit allows, never rounded."""
    value = parse_decimal(text, minor_unit(currency), what)
    return quantize(value, currency)


def percent_of(total: Decimal, percent: Decimal, currency: str) -> Decimal:
    """R1: job total x p / 100, rounded half-up to the minor unit."""
    return quantize(_EXACT.divide(_EXACT.multiply(total, percent), HUNDRED), currency)


def line_amount(quantity: Decimal, unit_price: Decimal, currency: str) -> Decimal:
    """Quantity x unit price, exact before it is rounded half-up to the minor unit."""
    return quantize(_EXACT.multiply(quantity, unit_price), currency)


def ratio_percent(part: Decimal, whole: Decimal) -> Decimal:
    """``part`` as a percentage of ``whole``, two decimals, for display (``percent_billed``)."""
    if whole == 0:
        return Decimal("0.00")
    return (part * HUNDRED / whole).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
