"""Changelist searches that use the table's indexes (docs/operations.md#admin-at-scale).

Django turns an ``=field`` search field into ``field__iexact``, which PostgreSQL compares as
``UPPER(field) = UPPER(term)``: no plain index serves it, so a search of 5,000,000 notices by
request ID read all of them. ``ExactSearchMixin`` keeps every other search field as Django
does and makes each ``=field`` an indexed equality:

- text fields: the term as typed, lower-cased and upper-cased (``field IN (...)``); an ID is
  written in one case (``@abc1234``, ``AB00000001``), so this finds what ``iexact`` found
  except for mixed-case values typed in another mixed case;
- other fields (UUIDs, numbers): the term converted to the field's type, and no match at all
  when it does not convert (``1`` is no UUID) instead of comparing the column as text.
"""

from django.contrib.admin.utils import lookup_spawns_duplicates
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models.constants import LOOKUP_SEP
from django.utils.text import smart_split, unescape_string_literal

PREFIXES = {"^": "istartswith", "@": "search"}


def _field(model, path: str):
    field = None
    opts = model._meta
    for part in path.split(LOOKUP_SEP):
        try:
            field = opts.get_field(opts.pk.name if part == "pk" else part)
        except FieldDoesNotExist:
            return None
        if hasattr(field, "path_infos") and field.is_relation:
            opts = field.path_infos[-1].to_opts
    return field


def exact_q(model, path: str, term: str) -> models.Q | None:
    """The indexed equality for ``=path`` and ``term``; None when nothing can match."""
    field = _field(model, path)
    if field is not None and field.is_relation:
        field = field.target_field
    if field is None or isinstance(field, (models.CharField, models.TextField)):
        return models.Q(**{f"{path}__in": sorted({term, term.lower(), term.upper()})})
    try:
        value = field.to_python(term)
    except (ValidationError, ValueError, TypeError):
        return None
    return models.Q(**{path: value})


class ExactSearchMixin:
    def get_search_results(self, request, queryset, search_term):
        search_fields = [str(f) for f in self.get_search_fields(request)]
        if not search_fields or not search_term:
            return queryset, False
        model = queryset.model
        term_queries = []
        for bit in smart_split(search_term):
            if bit.startswith(('"', "'")) and bit[0] == bit[-1]:
                bit = unescape_string_literal(bit)
            alternatives = models.Q()
            for spec in search_fields:
                if spec.startswith("="):
                    q = exact_q(model, spec[1:], bit)
                    if q is not None:
                        alternatives |= q
                    continue
                lookup = PREFIXES.get(spec[:1])
                path = spec[1:] if lookup else spec
                if lookup is None and _field(model, path) is not None:
                    lookup = "icontains"
                alternatives |= models.Q(**{f"{path}__{lookup}" if lookup else path: bit})
            if not alternatives:  # no field can hold this term: nothing matches
                return queryset.none(), False
            term_queries.append(alternatives)
        queryset = queryset.filter(*term_queries)
        duplicates = any(
            lookup_spawns_duplicates(self.opts, spec.lstrip("=^@")) for spec in search_fields
        )
        return queryset, duplicates
