"""The notice row writer: one row per judged recipient, written with COPY, ``bulk_create`` or
one INSERT."""

import uuid
from datetime import date as date_type
from datetime import datetime

from django.db import connection

from lbm import hotsql

from .. import crypto
from ..models import SETTLE_WINDOW, Notice, TemplateVersion
from .common import INSERT_BATCH
from .rules import Prepared


def _notice_row(
    account_id: int,
    version: TemplateVersion,
    p: Prepared,
    judged: tuple,
    *,
    now: datetime,
    day,
    request_id: uuid.UUID,
    actor_id,
    charged: bool,
) -> tuple:
    """One notice row (``NOTICE_COLUMNS``) for a judged recipient."""
    state, reason, flow = judged
    pending = state == Notice.State.PENDING
    delivered = state == Notice.State.DELIVERED
    return (
        account_id,
        version.pk,
        request_id,
        p.phone_hash,
        crypto.encrypt(p.line_hash),
        crypto.encrypt_json(p.values) if pending and p.values else "",
        p.delivery_tag,
        state,
        reason,
        flow,
        now,
        day,
        now + SETTLE_WINDOW,
        now if delivered else None,
        None if pending else now,
        now if delivered and charged else None,
        None,
        actor_id,
    )


NOTICE_COLUMNS = (
    "account_id",
    "template_version_id",
    "request_id",
    "phone_hash",
    "line_hash_secret",
    "values_secret",
    "delivery_tag",
    "state",
    "reason",
    "user_flow",
    "accepted_at",
    "line_day",
    "deadline_at",
    "delivered_at",
    "settled_at",
    "charged_at",
    "purged_at",
    "sent_by_id",
)


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    """One value in PostgreSQL's COPY text format (datetimes are aware, so ISO 8601 with
    offset is unambiguous)."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def _insert_notices(rows: list[tuple]) -> list[int]:
    """Insert notice rows (``NOTICE_COLUMNS``), returning their ids in order. On PostgreSQL:
    the ids drawn from the sequence in one query, then one ``COPY``; elsewhere
    ``bulk_create``. A single row is one INSERT (``_insert_notice``)."""
    if len(rows) == 1:
        return [_insert_notice(rows[0])]
    if connection.vendor != "postgresql":
        notices = [Notice(**dict(zip(NOTICE_COLUMNS, row, strict=True))) for row in rows]
        Notice.objects.bulk_create(notices, batch_size=INSERT_BATCH)
        return [n.pk for n in notices]
    table = connection.ops.quote_name(Notice._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT nextval(pg_get_serial_sequence('{Notice._meta.db_table}', 'id'))"
            " FROM generate_series(1, %s)",
            [len(rows)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        columns = ", ".join(connection.ops.quote_name(c) for c in ("id", *NOTICE_COLUMNS))
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            lines = []
            for pk, row in zip(ids, rows, strict=True):
                lines.append("\t".join([str(pk), *map(_copy_text, row)]))
                if len(lines) >= 5_000:
                    copy.write("\n".join(lines) + "\n")
                    lines = []
            if lines:
                copy.write("\n".join(lines) + "\n")
    return ids


def _db_value(value, ops):
    if isinstance(value, datetime):
        return ops.adapt_datetimefield_value(value)
    if isinstance(value, date_type):
        return ops.adapt_datefield_value(value)
    if isinstance(value, uuid.UUID) and ops.connection.vendor != "postgresql":
        return value.hex  # Django keeps a UUID as 32 hex characters where there is no uuid type
    return value


_insert_sql: dict[str, str] = {}  # vendor → the INSERT, built once per process


def _insert_notice(row: tuple) -> int:
    """One notice row (``NOTICE_COLUMNS``) with one INSERT; returns its id."""
    ops = connection.ops
    sql = _insert_sql.get(connection.vendor)
    if sql is None:
        columns = ", ".join(ops.quote_name(c) for c in NOTICE_COLUMNS)
        marks = ", ".join(["%s"] * len(NOTICE_COLUMNS))
        sql = _insert_sql[connection.vendor] = (
            f"INSERT INTO {ops.quote_name(Notice._meta.db_table)} ({columns}) VALUES ({marks})"
            f" RETURNING id"
        )
    return hotsql.fetchone(sql, [_db_value(v, ops) for v in row])[0]
