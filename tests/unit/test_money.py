"""billing.money: Decimal amounts quantized to the currency's minor unit (R1, R10).

Every expected value below is worked out by hand from the rule it checks (half-up rounding to
ISO 4217 minor units: USD 2, JPY 0, KWD 3).
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.money import (
    MoneyError,
    fmt,
    line_amount,
    minor_unit,
    parse_amount,
    parse_decimal,
    percent_of,
    quantize,
    ratio_percent,
)

D = Decimal


# --- minor units ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("currency", "places"), [("USD", 2), ("EUR", 2), ("JPY", 0), ("KRW", 0), ("KWD", 3)])
def test_minor_unit_follows_iso_4217(currency: str, places: int) -> None:
    assert minor_unit(currency) == places


@pytest.mark.parametrize("currency", ["XXX", "usd", "", "US"])
def test_unsupported_currency_is_rejected_everywhere(currency: str) -> None:
    with pytest.raises(MoneyError):
        minor_unit(currency)
    with pytest.raises(MoneyError):
        quantize(D("1"), currency)
    with pytest.raises(MoneyError):
        fmt(D("1"), currency)
    with pytest.raises(MoneyError):
        parse_amount("1", currency)


def test_money_error_is_a_value_error() -> None:
    # pydantic validators and callers catch ValueError; MoneyError must be one.
    assert issubclass(MoneyError, ValueError)


# --- quantize: half-up to the minor unit -----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        # USD, 2 places
        ("1.005", "USD", "1.01"),  # exact half: up (banker's rounding would give 1.00)
        ("2.675", "USD", "2.68"),
        ("1.004999", "USD", "1.00"),
        ("0.125", "USD", "0.13"),  # banker's would give 0.12
        ("-1.005", "USD", "-1.01"),  # half away from zero
        ("7", "USD", "7.00"),
        # JPY, 0 places
        ("2.5", "JPY", "3"),  # banker's would give 2
        ("3.5", "JPY", "4"),
        ("2.4999", "JPY", "2"),
        ("-2.5", "JPY", "-3"),
        # KWD, 3 places
        ("1.0005", "KWD", "1.001"),
        ("1.0004", "KWD", "1.000"),
        ("0.0125", "KWD", "0.013"),
    ],
)
def test_quantize_rounds_half_up_to_minor_unit(value: str, currency: str, expected: str) -> None:
    q = quantize(D(value), currency)
    assert q == D(expected)
    # the result carries exactly the currency's decimals
    assert q.as_tuple().exponent == -minor_unit(currency)


# --- fmt: the wire form ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("2500", "USD", "2500.00"),
        ("2500.5", "USD", "2500.50"),
        ("0.005", "USD", "0.01"),
        ("33333", "JPY", "33333"),
        ("33333.5", "JPY", "33334"),
        ("1.5", "KWD", "1.500"),
        ("1.2345", "KWD", "1.235"),  # 1.2345 -> 1.235 half-up (banker's: 1.234)
        ("1E+3", "USD", "1000.00"),  # never scientific notation on the wire
        ("1E+3", "JPY", "1000"),
        ("123456789012345.67", "USD", "123456789012345.67"),
        ("-12.345", "USD", "-12.35"),
    ],
)
def test_fmt_prints_exactly_the_minor_unit_decimals(value: str, currency: str, expected: str) -> None:
    assert fmt(D(value), currency) == expected


@pytest.mark.parametrize(
    ("value", "currency", "expected"),
    [
        ("-0", "USD", "0.00"),
        ("-0.00", "USD", "0.00"),
        ("-0.004", "USD", "0.00"),  # rounds to zero from below
        ("-0.4", "JPY", "0"),
        ("-0.0004", "KWD", "0.000"),
        ("-0E+2", "USD", "0.00"),
    ],
)
def test_fmt_never_prints_negative_zero(value: str, currency: str, expected: str) -> None:
    out = fmt(D(value), currency)
    assert out == expected
    assert not out.startswith("-")


def test_fmt_keeps_the_sign_of_a_nonzero_negative_amount() -> None:
    # a reversal line of a final invoice is negative and must print as such
    assert fmt(D("-0.005"), "USD") == "-0.01"
    assert fmt(D("-2500"), "USD") == "-2500.00"
    assert fmt(D("-1"), "JPY") == "-1"


# --- percent_of (R1) -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "percent", "currency", "expected"),
    [
        ("10000.00", "25", "USD", "2500.00"),
        ("1000.00", "100", "USD", "1000.00"),
        ("100.00", "33.3333", "USD", "33.33"),  # 33.3333 -> 33.33
        ("100.00", "66.6667", "USD", "66.67"),  # 66.6667 -> 66.67
        # exact halves of a cent round up
        ("0.01", "50", "USD", "0.01"),  # 0.005 -> 0.01
        ("0.03", "50", "USD", "0.02"),  # 0.015 -> 0.02
        ("0.05", "50", "USD", "0.03"),  # 0.025 -> 0.03 (banker's: 0.02)
        ("10.10", "12.5", "USD", "1.26"),  # 1.2625 -> 1.26
        ("10.20", "12.5", "USD", "1.28"),  # 1.275 -> 1.28 (banker's: 1.28, float would give 1.27)
        ("0.10", "0.0001", "USD", "0.00"),  # 0.0000001 -> 0.00
        # JPY: whole yen
        ("100000", "33.3333", "JPY", "33333"),  # 33333.3 -> 33333 (the example of docs/rules.md, R10)
        ("333", "50", "JPY", "167"),  # 166.5 -> 167 (banker's: 166)
        ("1", "50", "JPY", "1"),  # 0.5 -> 1
        ("5", "10", "JPY", "1"),  # 0.5 -> 1
        ("100", "33.3333", "JPY", "33"),
        # KWD: three places
        ("1.001", "50", "KWD", "0.501"),  # 0.5005 -> 0.501
        ("100.000", "33.3333", "KWD", "33.333"),  # 33.33333 -> 33.333
        ("2.000", "0.0125", "KWD", "0.000"),  # 0.00025 -> 0.000
        ("20.000", "0.0125", "KWD", "0.003"),  # 0.0025 -> 0.003
    ],
)
def test_percent_of_rounds_half_up_to_the_minor_unit(total: str, percent: str, currency: str, expected: str) -> None:
    got = percent_of(D(total), D(percent), currency)
    assert got == D(expected)
    assert fmt(got, currency) == expected


def test_percent_of_does_not_depend_on_how_the_percent_is_written() -> None:
    assert percent_of(D("999.99"), D("25"), "USD") == percent_of(D("999.99"), D("25.0000"), "USD") == D("250.00")
    # 999.99 x 0.25 = 249.9975 -> 250.00


# --- line_amount ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("qty", "price", "currency", "expected"),
    [
        ("10", "100.00", "USD", "1000.00"),
        ("3", "33.3333", "USD", "100.00"),  # 99.9999 -> 100.00
        ("2.5", "10.005", "USD", "25.01"),  # 25.0125 -> 25.01
        ("0.5", "0.01", "USD", "0.01"),  # 0.005 -> 0.01
        ("3", "0.5", "JPY", "2"),  # 1.5 -> 2
        ("1", "1.2345", "KWD", "1.235"),
    ],
)
def test_line_amount_is_quantity_times_price_rounded_half_up(
    qty: str, price: str, currency: str, expected: str
) -> None:
    assert line_amount(D(qty), D(price), currency) == D(expected)


# --- parse_amount / parse_decimal (R10) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("2500.00", "USD", "2500.00"),
        ("2500", "USD", "2500.00"),
        ("10.5", "USD", "10.50"),
        ("0.01", "USD", "0.01"),
        ("33333", "JPY", "33333"),
        ("10.001", "KWD", "10.001"),
        ("10.1", "KWD", "10.100"),
    ],
)
def test_parse_amount_accepts_up_to_the_minor_unit(text: str, currency: str, expected: str) -> None:
    value = parse_amount(text, currency)
    assert value == D(expected)
    assert fmt(value, currency) == expected
    assert value.as_tuple().exponent == -minor_unit(currency)


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("10.001", "USD"),
        ("10.000", "USD"),  # same value, but more decimals than USD has: nothing is silently rounded
        ("0.005", "USD"),
        ("10.5", "JPY"),
        ("10.0", "JPY"),
        ("33333.00", "JPY"),
        ("10.0001", "KWD"),
        ("1.0000", "KWD"),
    ],
)
def test_parse_amount_rejects_more_decimals_than_the_currency_allows(text: str, currency: str) -> None:
    with pytest.raises(MoneyError, match="decimal places"):
        parse_amount(text, currency)


@pytest.mark.parametrize("value", [10, 10.5, 0.1, Decimal("10.00"), None, b"10.00", ["10.00"], True])
def test_parse_amount_rejects_non_strings(value: object) -> None:
    with pytest.raises(MoneyError):
        parse_amount(value, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [10, 1.5, 0.1, None])
def test_parse_decimal_rejects_non_strings(value: object) -> None:
    with pytest.raises(MoneyError):
        parse_decimal(value, 4)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "text",
    ["1e2", "1E2", "1E+2", "1.5e-1", "2.5E1", "NaN", "nan", "Infinity", "inf", "-Infinity", "sNaN"],
)
def test_parse_amount_rejects_exponents_and_special_values(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_amount(text, "USD")


@pytest.mark.parametrize(
    "text",
    [" 10.00", "10.00 ", "\t10.00", "10 .00", "10. 00", "1 000.00", " ", "\n10.00", "10.00\t"],
)
def test_parse_amount_rejects_whitespace(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_amount(text, "USD")


def test_parse_amount_rejects_a_trailing_newline() -> None:
    with pytest.raises(MoneyError):
        parse_amount("10.00\n", "USD")


@pytest.mark.parametrize("text", ["\u0661\u0660.\u0660\u0660", "\uff11\uff10"])
def test_parse_amount_rejects_non_ascii_digits(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_amount(text, "USD")


@pytest.mark.parametrize(
    "text",
    ["", ".", ".5", "5.", "+5", "--5", "1,000.00", "1_000", "$10", "10$", "0x10", "ten", "1.2.3", "10,00"],
)
def test_parse_amount_rejects_malformed_strings(text: str) -> None:
    with pytest.raises(MoneyError):
        parse_amount(text, "USD")


@pytest.mark.parametrize(
    ("text", "places", "ok"),
    [
        ("1.2345", 4, True),
        ("1.23456", 4, False),
        ("1", 0, True),
        ("1.0", 0, False),
        ("0.0001", 4, True),
    ],
)
def test_parse_decimal_enforces_max_decimals_without_rounding(text: str, places: int, ok: bool) -> None:
    if ok:
        value = parse_decimal(text, places)
        assert value == D(text)
        assert str(value) == text  # the value is kept as sent, not rounded or padded
    else:
        with pytest.raises(MoneyError):
            parse_decimal(text, places)


def test_parse_error_names_what_was_parsed() -> None:
    with pytest.raises(MoneyError, match="unit_price"):
        parse_decimal("abc", 4, "unit_price")
    with pytest.raises(MoneyError, match="amount"):
        parse_amount("10.001", "USD")


# --- ratio_percent ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("part", "whole", "expected"),
    [
        ("1", "3", "33.33"),  # 33.333...
        ("2", "3", "66.67"),  # 66.666...
        ("1", "8", "12.50"),
        ("1", "800", "0.13"),  # 0.125 -> 0.13 half-up
        ("100.00", "100.00", "100.00"),
        ("0", "100", "0.00"),
        ("2500.00", "10000.00", "25.00"),
        ("99.99", "100.00", "99.99"),
    ],
)
def test_ratio_percent_two_decimals_half_up(part: str, whole: str, expected: str) -> None:
    got = ratio_percent(D(part), D(whole))
    assert got == D(expected)
    assert format(got, "f") == expected


def test_ratio_percent_of_a_zero_whole_is_zero_not_an_error() -> None:
    got = ratio_percent(D("5"), D("0"))
    assert format(got, "f") == "0.00"
