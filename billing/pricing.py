"""Pure price arithmetic (docs/billing.md). No database, no clock.

The price *data* (plans, the High plan's graduated table with its effective dates) lives in the
database and is passed in; these functions only compute. Every amount is a ``Decimal`` in TWD,
exact until ``round_twd``, the one function that rounds.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta
from django.utils.translation import gettext_lazy as _

ZERO = Decimal("0")
TAX_RATE = Decimal("0.05")  # Taiwan business tax, added to Official Account prices
# LON: per delivered notice, untaxed (docs/notifications.md#charging)
NOTIFICATION_UNIT_PRICE = Decimal("0.2")
PROMOTION_FACE_VALUE = Decimal("1200")  # docs/billing.md#promotion-codes
# government sub-account and civil-servant blocks (docs/billing.md#government-plans)
BLOCK_SIZE = 10

ROUNDING_RULE = _(
    "Untaxed lines are added exactly and 5% business tax is computed on their sum, exactly; "
    "tax-included lines are added as they are. Only the invoice total is rounded, once, to the "
    "whole New Taiwan dollar, halves rounded up (ROUND_HALF_UP)."
)


@dataclass(frozen=True)
class Tier:
    """Messages ``first``..``last`` (inclusive; ``last=None``: no upper end) cost ``unit_price``
    each. Message numbers count the month's total, free messages included."""

    first: int
    last: int | None
    unit_price: Decimal


def tiers_from_rows(rows: Iterable[tuple[int, Decimal]]) -> tuple[Tier, ...]:
    """Tiers from ``(first_message, unit_price)`` rows; each tier ends where the next begins, so
    the table can have neither gaps nor overlaps."""
    ordered = sorted(rows, key=lambda row: row[0])
    tiers = []
    for index, (first, price) in enumerate(ordered):
        last = ordered[index + 1][0] - 1 if index + 1 < len(ordered) else None
        tiers.append(Tier(first=int(first), last=last, unit_price=Decimal(price)))
    return tuple(tiers)


def graduated_charge(messages: int, tiers: Sequence[Tier]) -> Decimal:
    """The charge for a month's ``messages`` under a graduated table: each message is priced by
    the tier its number falls in (messages before the first tier are free). Exact, unrounded."""
    total = ZERO
    for tier in tiers:
        if messages < tier.first:
            break
        upper = messages if tier.last is None else min(messages, tier.last)
        total += (upper - tier.first + 1) * tier.unit_price
    return total


def overage_charge(
    *,
    messages: int,
    free: int,
    rule: str,
    tiers: Sequence[Tier] = (),
    unit_price: Decimal | None = None,
) -> Decimal:
    """The charge for messages beyond a plan's free quota.

    ``rule`` is a ``Plan.Overage`` value: ``none`` (extra messages cannot be sent: nothing to
    charge), ``graduated`` (``tiers``, numbered over the month's total) or ``flat`` (``unit_price``
    per message over ``free``, e.g. 100,000 per government send)."""
    if rule == "graduated":
        return graduated_charge(messages, tiers)
    if rule == "flat":
        return max(messages - free, 0) * (unit_price or ZERO)
    return ZERO


def upgrade_charge(*, from_fee: Decimal, to_fee: Decimal) -> Decimal:
    """What an upgrade costs in its month, without proration: the new plan's fee less the fee
    already charged (Light → Medium 800, Light → High 1,200, Medium → High 400)."""
    return max(to_fee - from_fee, ZERO)


# Promotion codes (docs/billing.md#promotion-codes): the cases a code may pay for, by plan
# codes. ``None`` as the first element is a renewal of the plan named second.
PROMOTION_CASES = {
    ("light", "medium"),
    ("light", "high"),
    ("medium", "high"),
    (None, "medium"),
    (None, "high"),
}


@dataclass(frozen=True)
class Deduction:
    deducted: Decimal
    forfeited: Decimal


def promotion_deduction(
    *,
    from_plan: str | None,
    to_plan: str,
    charge: Decimal,
    face_value: Decimal = PROMOTION_FACE_VALUE,
) -> Deduction | None:
    """What a promotion code deducts from ``charge`` for an upgrade ``from_plan → to_plan`` (or a
    renewal, ``from_plan=None``), and what of its face value is forfeited.

    Returns ``None`` for any case that docs/billing.md#promotion-codes does not list (the code
    is refused)."""
    if (from_plan, to_plan) not in PROMOTION_CASES or charge <= ZERO:
        return None
    deducted = min(face_value, charge)
    return Deduction(deducted=deducted, forfeited=face_value - deducted)


def blocks(accounts: int, size: int = BLOCK_SIZE) -> int:
    """Blocks billed for ``accounts`` (sold by 10: 11 are billed as 20, fewer than 10 as 10)."""
    if accounts < 1:
        raise ValueError("A block purchase needs at least one account.")
    return -(-accounts // size)


def contract_years(starts_on: date, ends_on: date) -> int:
    """Years charged for a government term ``starts_on``..``ends_on`` (both inclusive): whole
    years, a part of a year charged as a full year, one year at least
    (2025-07-01..2026-06-30 → 1; ..2026-07-31 → 2; 2025-07-01..2025-12-31 → 1)."""
    if ends_on < starts_on:
        raise ValueError("A term cannot end before it starts.")
    years = 1
    while ends_on >= starts_on + relativedelta(years=years):  # 29 Feb → 28 Feb
        years += 1
    return years


def round_twd(amount: Decimal) -> Decimal:
    """Round an invoice total to the whole TWD, halves up (``ROUND_HALF_UP``): 16,453.5 → 16,454,
    16,453.49 → 16,453. The only rounding in billing; see ``ROUNDING_RULE``."""
    return amount.quantize(Decimal("1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Totals:
    untaxed: Decimal  # sum of untaxed lines, exact
    tax: Decimal  # 5% of ``untaxed``, exact
    tax_included: Decimal  # sum of lines whose price already includes tax
    total: Decimal  # rounded
    rounding: Decimal  # total - (untaxed + tax + tax_included)


def invoice_totals(lines: Iterable[tuple[Decimal, bool]]) -> Totals:
    """Totals of ``(amount, tax_included)`` lines under ``ROUNDING_RULE``.

    Civil-servant blocks are untaxed lines of 5,714 each, so 5% is added on their sum and the
    result rounded once (3 blocks: 17,142 × 1.05 = 17,999.1 → 17,999)."""
    untaxed = ZERO
    included = ZERO
    for amount, tax_included in lines:
        if tax_included:
            included += amount
        else:
            untaxed += amount
    tax = untaxed * TAX_RATE
    exact = untaxed + tax + included
    total = round_twd(exact)
    return Totals(
        untaxed=untaxed, tax=tax, tax_included=included, total=total, rounding=total - exact
    )
