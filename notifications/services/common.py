"""What the workflows of the notifications services share: chunk sizes, the history writer,
row locks and set-based helpers (docs/notifications.md#where-the-code-is)."""

import logging

from django.db import connection, transaction
from django.db.models import BooleanField, Q
from django.db.models.expressions import RawSQL

from lbm.audit import record_change

logger = logging.getLogger("notifications.services")

INSERT_BATCH = 10_000
LOOKUP_CHUNK = 10_000
SETTLE_CHUNK = 2_000
FAN_OUT_CHUNK = 500


_record = record_change  # lbm.audit: who and why for the history row


def _lock(queryset):
    return queryset.select_for_update(of=("self",))


def _in_filter(model, column: str, values: list):
    """``column IN values`` as one parameter on PostgreSQL (``= ANY(array)``): thousands of
    placeholders cost more to build and parse than the query's work."""
    if connection.vendor == "postgresql":
        name = f'"{model._meta.db_table}"."{column}"'
        return RawSQL(f"{name} = ANY(%s)", (values,), output_field=BooleanField())
    return Q(**{f"{column}__in": values})


def _in_locked_chunks(query, size: int, *, pk_of, handle) -> None:
    """Call ``handle(chunk)`` on ``query``'s rows, ``size`` at a time in ascending pk, each
    chunk locked (``SKIP LOCKED`` where the database has it, so concurrent runs share the
    work) and handled in its own transaction."""
    last_pk = 0
    while True:
        with transaction.atomic():
            page = query.filter(pk__gt=last_pk).order_by("pk")
            if connection.features.has_select_for_update_skip_locked:
                page = page.select_for_update(skip_locked=True)
            chunk = list(page[:size])
            if not chunk:
                return
            last_pk = pk_of(chunk[-1])
            handle(chunk)
        if len(chunk) < size:
            return
