"""``{{ amount|twd }}`` → ``NT$1,200`` (exact decimals kept, trailing zeros dropped);
``{{ n|count }}`` → ``6,000``."""

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def twd(value) -> str:
    if value is None or value == "":
        return ""
    amount = Decimal(value)
    text = f"{amount:,f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return f"-NT${text[1:]}" if text.startswith("-") else f"NT${text}"


@register.filter
def count(value) -> str:
    """A whole number with thousands commas, whatever the locale: ``6000`` → ``6,000``."""
    return "" if value is None else f"{int(value):,}"
