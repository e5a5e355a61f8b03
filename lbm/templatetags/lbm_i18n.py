"""Template filters for the library pages' language (docs/language.md#import-and-export)."""

from django import template
from django.utils.translation import gettext

from lbm.import_export_i18n import column_label

register = template.Library()


@register.filter
def column_labels(columns, opts) -> str:
    """A resource's column names as 「verbose name（column）」, comma-separated."""
    model = getattr(opts, "model", None)
    if model is None:
        return ", ".join(map(str, columns))
    return ", ".join(column_label(model, str(c)) for c in columns)


@register.filter
def history_reason(reason) -> str:
    """A recorded reason in the reader's language when it is one of the project's fixed reasons
    ("Approved", "Submitted for review"): services record it in the language of whoever acted.
    A reason someone typed, or one with numbers in it, is shown as recorded."""
    if not reason:
        return "—"
    return gettext(str(reason))
