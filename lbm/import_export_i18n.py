"""django-import-export's pages in the user's language (docs/language.md#import-and-export).

A file's column names are its format and stay as they are; next to each the page shows the
model field's verbose name, e.g. 「名稱（name）」, instead of a title-cased ``Business Number``.
"""

from django.core.exceptions import FieldDoesNotExist
from django.utils.text import capfirst
from django.utils.translation import gettext
from import_export.forms import SelectableFieldsExportForm


def column_label(model, column: str, attribute: str | None = None) -> str:
    """The verbose name of the model field behind ``column`` with the column in brackets, or the
    bare column when no model field is behind it."""
    field = None
    for part in (attribute or column).split("__"):  # follow customer__business_number
        if model is None:
            return column
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            try:
                field = model._meta.get_field(part.removesuffix("_id"))
            except FieldDoesNotExist:
                return column
        model = field.related_model
    verbose = getattr(field, "verbose_name", None)
    if not verbose or str(verbose) == column:
        return column
    return gettext("%(label)s (%(column)s)") % {"label": capfirst(verbose), "column": column}


class LabelledExportForm(SelectableFieldsExportForm):
    """The export form whose field checkboxes read like the admin (every export admin uses it;
    tests/lbm/test_import_export_pages.py checks the registry)."""

    def _get_field_label(self, resource, field_name: str) -> str:
        field = resource.fields.get(field_name)
        column = field.column_name if field else field_name
        attribute = getattr(field, "attribute", None) or field_name
        return column_label(resource._meta.model, column, attribute)
