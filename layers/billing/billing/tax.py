"""R16 tax, as pure functions of plain values: the tax of a base, the allocation of a deposit over the
job's tax codes (largest remainder), and the final invoice's tax per code as the residual that makes
lifetime tax per code equal the tax on the job's net for that code, to the cent.

Amounts are net of tax everywhere (R16); a code's tax is rounded half-up once per code per invoice.
The untaxed part of a job is the code ``""`` (rate 0).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from decimal import ROUND_FLOOR, Decimal
from typing import Any, TypeVar

from .documents import TaxLine
from .money import _EXACT, HUNDRED, ZERO, exponent, fmt, quantize
from .structs import field, struct

K = TypeVar("K")


@struct(frozen=True)
class Rate:
    """A tax code at the rate a line captured (R16). A rate IS its code and percent: tax is computed
    and rounded per (code, rate), whatever the code is named or posted to. ``name`` and ``account``
    say how an invoice shows and posts it (the settings' now: ``resolved``); they are not compared."""

    code: str
    name: str = field(compare=False)
    rate: Decimal
    account: str = field(compare=False)

    @property
    def taxed(self) -> bool:
        return self.code != ""

    @classmethod
    def of_line(cls, d: Mapping[str, Any]) -> Rate:
        if not d.get("tax_code"):
            return UNTAXED
        return cls(d["tax_code"], "", Decimal(str(d["tax_rate"])), "")

    def named(self, name: str, account: str) -> Rate:
        return replace(self, name=name, account=account)


UNTAXED = Rate("", "", ZERO, "")  # lines with no tax code: rate 0, never posted


@struct(frozen=True)
class Tax:
    """One rate's tax on one invoice: the net base it is computed on, and the amount."""

    rate: Rate
    base: Decimal
    amount: Decimal

    def line(self, currency: str) -> TaxLine:
        """As the invoice shows it and the job item keeps it (with the account: a reversal uses it)."""
        return {"code": self.rate.code, "name": self.rate.name, "rate": format(self.rate.rate, "f"),
                "base": fmt(self.base, currency), "amount": fmt(self.amount, currency),
                "account": self.rate.account}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Tax:
        rate = Rate(d["code"], d["name"], Decimal(str(d["rate"])), d["account"])
        return cls(rate, Decimal(str(d["base"])), Decimal(str(d["amount"])))

    def negated(self) -> Tax:
        return Tax(self.rate, ZERO - self.base, ZERO - self.amount)


def tax_of(base: Decimal, rate: Decimal, currency: str) -> Decimal:
    """``base`` x ``rate`` / 100, rounded half-up to the minor unit (exact before rounding)."""
    return quantize(_EXACT.divide(_EXACT.multiply(base, rate), HUNDRED), currency)


def net_per_rate(lines: Iterable[tuple[Rate, Decimal]]) -> dict[Rate, Decimal]:
    """The sum of the amounts of each rate, in the order the rates first appear."""
    out: dict[Rate, Decimal] = {}
    for rate, amount in lines:
        out[rate] = out.get(rate, ZERO) + amount
    return out


def allocate(amount: Decimal, weights: Mapping[K, Decimal], currency: str) -> dict[K, Decimal]:
    """Split ``amount`` (>= 0) over ``weights`` in proportion, in minor units, by largest remainder:
    each part is the floor of its exact share, and the units left over go one each to the largest
    remainders (ties: the order of ``weights``), so the parts sum to ``amount`` exactly.

    Weights of zero or less get nothing; with no positive weight, nothing is allocated (``{}``).
    """
    unit = exponent(currency)
    positive = {k: w for k, w in weights.items() if w > 0}
    whole = sum(positive.values(), ZERO)
    if whole == 0:
        return {}
    units = _EXACT.divide(amount, unit)  # the amount in minor units: an integer, it is quantized
    shares = {k: _EXACT.divide(_EXACT.multiply(units, w), whole) for k, w in positive.items()}
    parts = {k: s.to_integral_value(rounding=ROUND_FLOOR) for k, s in shares.items()}
    left = int(units - sum(parts.values(), ZERO))
    position = {k: i for i, k in enumerate(positive)}
    for k in sorted(positive, key=lambda k: (parts[k] - shares[k], position[k]))[:left]:
        parts[k] += 1
    return {k: _EXACT.multiply(p, unit) for k, p in parts.items()}


def taxes(bases: Mapping[Rate, Decimal], currency: str) -> list[Tax]:
    """The tax of each taxed rate's base on one invoice, rounded once per rate (none for untaxed)."""
    return [Tax(r, b, tax_of(b, r.rate, currency)) for r, b in bases.items() if r.taxed and b != 0]


def total(tax: Iterable[Tax]) -> Decimal:
    return sum((t.amount for t in tax), ZERO)


def summed(tax: Iterable[Tax], *, per_account: bool = False) -> list[Tax]:
    """Taxes of the same rate added up (bases and amounts), in the order the rates first appear; rates
    that come to nothing are left out. ``per_account``: of the same rate AND account (what is held on
    each account, so that a reversal posts back to it)."""
    out: dict[tuple[Rate, str], Tax] = {}
    for t in tax:
        key = (t.rate, t.rate.account if per_account else "")
        was = out.get(key)
        out[key] = t if was is None else Tax(was.rate, was.base + t.base, was.amount + t.amount)
    return [t for t in out.values() if t.base != 0 or t.amount != 0]


def deposit_taxes(amount: Decimal, job_net: Mapping[Rate, Decimal], currency: str) -> list[Tax]:
    """R16: a deposit's net allocated over the job's rates in proportion to the job's net per rate
    (untaxed lines take their share at rate 0), each part taxed."""
    return taxes(allocate(amount, job_net, currency), currency)


def final_taxes(job_net: Mapping[Rate, Decimal], shipped: Iterable[Tax], currency: str) -> list[Tax]:
    """R16: the tax the final invoice itself charges per rate: the tax on the job's whole net for the
    rate, rounded once, less what shipment invoices charged for it (their bases likewise), so that
    shipments + final = the tax on the job's net, to the cent. The deposits' tax is reversed beside it."""
    billed = {t.rate: t for t in summed(shipped)}  # per rate, whatever account each was posted to
    out = []
    for rate, net in job_net.items():
        if not rate.taxed:
            continue
        was = billed.get(rate, Tax(rate, ZERO, ZERO))
        out.append(Tax(rate, net - was.base, tax_of(net, rate.rate, currency) - was.amount))
    return [t for t in out if t.base != 0 or t.amount != 0]
