"""How money and counts read on every page (docs/billing.md#how-amounts-read).

``money(Decimal("1200.0000"))`` → ``NT$1,200``: thousands separators, trailing zeros dropped,
exact decimals kept (``NT$0.2``). ``count(6000)`` → ``6,000`` whatever the language. The
template filters ``twd`` and ``count`` (``billing_money``) and the admin's columns and
read-only fields (``install_admin_formatting``) all call these two.
"""

from decimal import Decimal

from django.db import models


def money(value) -> str:
    if value is None or value == "":
        return ""
    text = f"{Decimal(value):,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"-NT${text[1:]}" if text.startswith("-") else f"NT${text}"


def count(value) -> str:
    """A whole number with thousands commas: ``6000`` → ``6,000``."""
    return "" if value is None or value == "" else f"{int(value):,}"


def _is_count(field) -> bool:
    """An integer model field that counts something (not an id, a number series or a choice)."""
    if not isinstance(field, models.IntegerField) or isinstance(field, models.AutoField):
        return False
    if field.choices or field.name in ("number", "year", "sequence", "bubbles"):
        return False
    return not field.name.endswith("_number")


def install_admin_formatting() -> None:
    """Every admin list column and read-only field showing a decimal model field (all of them
    are TWD amounts) reads as money, and a counting integer field with separators."""
    from django.contrib.admin import helpers
    from django.contrib.admin.templatetags import admin_list

    original = admin_list.display_for_field
    if getattr(original, "lbm_formatting", False):
        return

    def display_for_field(value, field, empty_value_display, *args, **kwargs):
        if value is not None and isinstance(field, models.DecimalField):
            return money(value)
        if value is not None and _is_count(field):
            return count(value)
        return original(value, field, empty_value_display, *args, **kwargs)

    display_for_field.lbm_formatting = True
    admin_list.display_for_field = display_for_field
    helpers.display_for_field = display_for_field
