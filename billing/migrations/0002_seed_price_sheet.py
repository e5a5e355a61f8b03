"""The current price sheet (docs/billing.md) and the month-end billing schedule.

Literal copies, not imports of app code, so this migration means the same thing forever. Later
price changes are new rows with a later ``effective_from``, added by account managers or by a
new migration.
"""

from decimal import Decimal

from django.db import migrations

from lbm.beat import crontab_tasks

PLANS = [
    # code, rank, monthly fee, yearly fee, free messages, counting, overage, unit price,
    # tax included, add-ons included, sold from, sold until
    ("light", 0, "0", None, 200, "recipients", "none", None, False, False, None, None),
    ("medium", 1, "800", None, 3000, "recipients", "none", None, False, False, None, None),
    ("high", 2, "1200", None, 6000, "recipients", "graduated", None, False, False, None, None),
    ("gov_a", 10, "0", "300000", 18, "sends", "flat", "100000", True, True,
     "2025-07-01", "2026-12-31"),
    ("gov_b", 11, "0", "500000", 30, "sends", "flat", "100000", True, True,
     "2025-07-01", "2026-12-31"),
    # Per block of 10 sub-accounts; each sub-account 15 sends a month.
    ("gov_sub", 12, "0", "100000", 15, "sends", "flat", "100000", True, True,
     None, "2026-12-31"),
    # Per block of 10 accounts: 6,000 tax included, billed on the untaxed 5,714
    # (docs/billing.md#government-plans).
    ("gov_civil", 13, "0", "5714", 3000, "recipients", "none", None, False, True,
     None, "2026-12-31"),
]

HIGH_TIERS_EFFECTIVE = "2025-01-01"  # media guide 2025 Q1, "新版高用量階梯式累進計價"
HIGH_TIERS = [
    (6001, "0.2"), (25001, "0.165"), (35001, "0.154"), (45001, "0.143"), (65001, "0.132"),
    (105001, "0.121"), (185001, "0.1045"), (345001, "0.1034"), (665001, "0.099"),
    (825001, "0.0946"), (1305001, "0.0858"), (2585001, "0.077"), (3525001, "0.066"),
    (5145001, "0.055"), (8025001, "0.0385"), (10265001, "0.0187"), (20505001, "0.011"),
]

TASK_NAME = "billing: month-end invoices"


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    PriceTier = apps.get_model("billing", "PriceTier")
    for (code, rank, monthly, yearly, free, counting, overage, unit, taxed, addons, sold_from,
         sold_until) in PLANS:
        Plan.objects.update_or_create(code=code, defaults=dict(
            rank=rank, monthly_fee=Decimal(monthly),
            yearly_fee=Decimal(yearly) if yearly else None, free_messages=free,
            counting=counting, overage=overage,
            overage_unit_price=Decimal(unit) if unit else None, tax_included=taxed,
            includes_add_ons=addons, sold_from=sold_from, sold_until=sold_until))
    high = Plan.objects.get(code="high")
    for first, price in HIGH_TIERS:
        PriceTier.objects.update_or_create(plan=high, effective_from=HIGH_TIERS_EFFECTIVE,
                                           first_message=first,
                                           defaults={"unit_price": Decimal(price)})


# 03:00 on the 2nd, Japan time: 27 hours after the month ends, past the 24 hours within which
# notification deliveries are confirmed. The task works out the month itself.
schedule = crontab_tasks([(TASK_NAME, "billing.bill_month",
                           {"minute": "0", "hour": "3", "day_of_month": "2",
                            "timezone": "Asia/Tokyo"})])


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        schedule,
    ]
