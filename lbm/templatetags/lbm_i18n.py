"""Template filters for the library pages' language (docs/language.md#import-and-export)."""

from django import template

from lbm.import_export_i18n import column_label

register = template.Library()


@register.filter
def column_labels(columns, opts) -> str:
    """A resource's column names as 「verbose name（column）」, comma-separated."""
    model = getattr(opts, "model", None)
    if model is None:
        return ", ".join(map(str, columns))
    return ", ".join(column_label(model, str(c)) for c in columns)
