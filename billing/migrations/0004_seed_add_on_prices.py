"""The add-on prices of the 2025 Q1 media guide (docs/billing.md) as dated rows, like the plans.

Premium ID (專屬ID) 720 per year and the chat advanced plan (聊天進階方案) 100 per month, both
untaxed. A later price sheet is a new row with a later ``effective_from``. Literal copies, so
this migration means the same thing forever.
"""

from decimal import Decimal

from django.db import migrations

EFFECTIVE_FROM = "2025-01-01"  # the same sheet as the High plan's graduated table
PRICES = [("premium_id", "720", "year"), ("chat_advanced", "100", "month")]


def seed(apps, schema_editor):
    AddOnPrice = apps.get_model("billing", "AddOnPrice")
    for code, price, per in PRICES:
        AddOnPrice.objects.update_or_create(code=code, effective_from=EFFECTIVE_FROM,
                                            defaults={"price": Decimal(price), "per": per})


def unseed(apps, schema_editor):
    AddOnPrice = apps.get_model("billing", "AddOnPrice")
    for code, _price, _per in PRICES:
        AddOnPrice.objects.filter(code=code, effective_from=EFFECTIVE_FROM).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_government_lists_addon_prices")]

    operations = [migrations.RunPython(seed, unseed)]
