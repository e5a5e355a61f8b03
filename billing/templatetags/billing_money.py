"""``{{ amount|twd }}`` → ``NT$1,200`` (exact decimals kept, trailing zeros dropped);
``{{ n|count }}`` → ``6,000``. The one formatting of both is ``lbm.formatting``."""

from django import template

from lbm import formatting

register = template.Library()


@register.filter
def twd(value) -> str:
    return formatting.money(value)


@register.filter
def count(value) -> str:
    """A whole number with thousands commas, whatever the locale: ``6000`` → ``6,000``."""
    return formatting.count(value)
