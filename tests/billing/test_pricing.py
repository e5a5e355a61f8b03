"""The pure price functions against every number of docs/billing.md (plans, tiers, government
plans)."""

from datetime import date
from decimal import Decimal as D

import pytest

from billing import pricing, selectors
from billing.models import Plan

# The High plan's table as printed in the media guide (docs/billing.md): (first message, last
# message, price each).
SEED_TABLE = [
    (6001, 25000, "0.2"),
    (25001, 35000, "0.165"),
    (35001, 45000, "0.154"),
    (45001, 65000, "0.143"),
    (65001, 105000, "0.132"),
    (105001, 185000, "0.121"),
    (185001, 345000, "0.1045"),
    (345001, 665000, "0.1034"),
    (665001, 825000, "0.099"),
    (825001, 1305000, "0.0946"),
    (1305001, 2585000, "0.0858"),
    (2585001, 3525000, "0.077"),
    (3525001, 5145000, "0.066"),
    (5145001, 8025000, "0.055"),
    (8025001, 10265000, "0.0385"),
    (10265001, 20505000, "0.0187"),
    (20505001, None, "0.011"),
]
TIERS = pricing.tiers_from_rows((first, D(price)) for first, _last, price in SEED_TABLE)

# Charge for extra messages at the end of each tier, worked out by hand from the table.
AT_TIER_END = {
    6000: "0",
    25000: "3800",
    35000: "5450",
    45000: "6990",
    65000: "9850",
    105000: "15130",
    185000: "24810",
    345000: "41530",
    665000: "74618",
    825000: "90458",
    1305000: "135866",
    2585000: "245690",
    3525000: "318070",
    5145000: "424990",
    8025000: "583390",
    10265000: "669630",
    20505000: "861118",
}


def test_tiers_built_from_rows_have_no_gaps_and_match_the_seed_ranges():
    assert [(t.first, t.last, t.unit_price) for t in TIERS] == [
        (first, last, D(price)) for first, last, price in SEED_TABLE
    ]


@pytest.mark.parametrize("messages, expected", sorted(AT_TIER_END.items()))
def test_graduated_charge_at_the_last_message_of_each_tier(messages, expected):
    assert pricing.graduated_charge(messages, TIERS) == D(expected)


@pytest.mark.parametrize("first, _last, price", SEED_TABLE)
def test_graduated_charge_first_message_of_each_tier_costs_that_tiers_price(first, _last, price):
    before = pricing.graduated_charge(first - 1, TIERS)
    assert pricing.graduated_charge(first, TIERS) - before == D(price)
    assert pricing.graduated_charge(first + 1, TIERS) - before == 2 * D(price)


def test_messages_within_the_free_quota_cost_nothing():
    assert pricing.graduated_charge(0, TIERS) == 0
    assert pricing.graduated_charge(6000, TIERS) == 0
    assert pricing.graduated_charge(6001, TIERS) == D("0.2")


def test_seed_example_100000_messages_on_high_is_15670_before_tax():
    extra = pricing.graduated_charge(100_000, TIERS)
    assert extra == D("14470")
    assert D("1200") + extra == D("15670")


@pytest.mark.django_db
def test_seeded_price_table_in_the_database_is_the_seed_table():
    high = Plan.objects.get(code="high")
    tables = selectors.tier_tables(period=date(2025, 3, 1))
    assert tables[high.pk] == TIERS
    assert selectors.tier_tables(period=date(2024, 12, 1)) == {}  # not yet in effect


@pytest.mark.django_db
def test_seeded_plans_match_the_plan_table():
    plans = {p.code: p for p in Plan.objects.all()}
    assert (plans["light"].monthly_fee, plans["light"].free_messages, plans["light"].overage) == (
        0,
        200,
        "none",
    )
    assert (
        plans["medium"].monthly_fee,
        plans["medium"].free_messages,
        plans["medium"].overage,
    ) == (800, 3000, "none")
    assert (plans["high"].monthly_fee, plans["high"].free_messages, plans["high"].overage) == (
        1200,
        6000,
        "graduated",
    )
    assert (plans["gov_a"].yearly_fee, plans["gov_a"].free_messages) == (300000, 18)
    assert (plans["gov_b"].yearly_fee, plans["gov_b"].free_messages) == (500000, 30)
    assert (plans["gov_sub"].yearly_fee, plans["gov_sub"].free_messages) == (100000, 15)
    assert plans["gov_a"].overage_unit_price == plans["gov_sub"].overage_unit_price == 100000
    assert all(
        plans[c].counting == "sends" and plans[c].tax_included
        for c in ("gov_a", "gov_b", "gov_sub")
    )
    civil = plans["gov_civil"]
    assert (civil.yearly_fee, civil.tax_included, civil.free_messages, civil.overage) == (
        5714,
        False,
        3000,
        "none",
    )
    assert plans["gov_a"].sold_from == date(2025, 7, 1)
    assert plans["gov_a"].sold_until == date(2026, 12, 31)


def test_overage_rules():
    assert pricing.overage_charge(messages=250, free=200, rule="none") == 0
    assert pricing.overage_charge(messages=20, free=18, rule="flat", unit_price=D("100000")) == D(
        "200000"
    )
    assert pricing.overage_charge(messages=18, free=18, rule="flat", unit_price=D("100000")) == 0
    assert pricing.overage_charge(messages=100_000, free=6000, rule="graduated", tiers=TIERS) == D(
        "14470"
    )


@pytest.mark.parametrize(
    "from_fee, to_fee, expected",
    [
        ("0", "800", "800"),  # Light → Medium: full fee
        ("0", "1200", "1200"),  # Light → High: full fee
        ("800", "1200", "400"),  # Medium → High: the difference
        ("1200", "800", "0"),  # a downgrade costs nothing now
    ],
)
def test_upgrade_charges(from_fee, to_fee, expected):
    assert pricing.upgrade_charge(from_fee=D(from_fee), to_fee=D(to_fee)) == D(expected)


@pytest.mark.parametrize(
    "case, charge, deducted, forfeited",
    [
        (("light", "medium"), "800", "800", "400"),
        (("light", "high"), "1200", "1200", "0"),
        (("medium", "high"), "400", "400", "800"),
        ((None, "medium"), "800", "800", "400"),
        ((None, "high"), "1200", "1200", "0"),
    ],
)
def test_promotion_code_table(case, charge, deducted, forfeited):
    result = pricing.promotion_deduction(from_plan=case[0], to_plan=case[1], charge=D(charge))
    assert (result.deducted, result.forfeited) == (D(deducted), D(forfeited))
    assert result.deducted + result.forfeited == pricing.PROMOTION_FACE_VALUE == D("1200")


@pytest.mark.parametrize(
    "case",
    [
        (None, "light"),
        ("high", "medium"),
        ("high", "light"),
        ("medium", "light"),
        ("light", "gov_a"),
        (None, "gov_civil"),
    ],
)
def test_promotion_code_refused_for_anything_else(case):
    assert pricing.promotion_deduction(from_plan=case[0], to_plan=case[1], charge=D("800")) is None


@pytest.mark.parametrize("accounts, expected", [(1, 1), (9, 1), (10, 1), (11, 2), (20, 2), (21, 3)])
def test_blocks_of_ten(accounts, expected):
    assert pricing.blocks(accounts) == expected


def test_blocks_need_an_account():
    with pytest.raises(ValueError):
        pricing.blocks(0)


@pytest.mark.parametrize(
    "start, end, years",
    [
        (date(2025, 7, 1), date(2026, 6, 30), 1),
        (date(2025, 7, 1), date(2025, 12, 31), 1),  # shorter: a full year
        (date(2025, 7, 1), date(2026, 7, 1), 2),
        (date(2025, 7, 1), date(2027, 6, 30), 2),
    ],
)
def test_contract_years(start, end, years):
    assert pricing.contract_years(start, end) == years


@pytest.mark.parametrize(
    "amount, rounded",
    [
        ("16453.5", "16454"),
        ("16453.49", "16453"),
        ("17999.1", "17999"),
        ("5999.7", "6000"),
        ("0.5", "1"),
        ("0.4999", "0"),
    ],
)
def test_round_twd_rounds_half_up_to_the_dollar(amount, rounded):
    assert pricing.round_twd(D(amount)) == D(rounded)


def test_invoice_totals_add_five_percent_tax_to_untaxed_lines_and_round_once():
    totals = pricing.invoice_totals([(D("1200"), False), (D("14470"), False)])
    assert (totals.untaxed, totals.tax, totals.total) == (D("15670"), D("783.50"), D("16454"))
    assert totals.rounding == D("0.5")


@pytest.mark.parametrize(
    "blocks, total", [(1, "6000"), (2, "11999"), (3, "17999"), (4, "23999"), (5, "29999")]
)
def test_civil_servant_blocks_merge_on_5714_untaxed_then_tax_and_round(blocks, total):
    totals = pricing.invoice_totals([(D("5714"), False)] * blocks)
    assert totals.total == D(total)
    assert abs(totals.total - 6000 * blocks) <= 1


def test_government_prices_include_tax():
    totals = pricing.invoice_totals([(D("300000"), True), (D("200000"), True)])
    assert (totals.tax, totals.total) == (0, D("500000"))
