"""Statements on the API's hot paths, run as prepared statements on PostgreSQL.

Django binds parameters on the client side, so PostgreSQL parses and plans every statement
anew. The few statements a phone-number push runs on every request go through a server-side
binding cursor with ``prepare=True`` instead: psycopg prepares each once per connection and
then only binds and executes it (the connection's ``prepare_threshold`` must not be None:
settings sets it, ``PG_PREPARE_THRESHOLD=none`` turns preparing off behind PgBouncer).
Elsewhere (SQLite) they run through Django's cursor.
Errors are Django's (``IntegrityError`` and so on), as from the ORM."""

from datetime import UTC, datetime

from django.db import DEFAULT_DB_ALIAS, connections
from django.utils import timezone


def _run(sql: str, params: list, fetch):
    db = connections[DEFAULT_DB_ALIAS]  # the wrapper itself: every ``connection.x`` costs a lookup
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            cursor.execute(sql, params)
            return fetch(cursor)
    import psycopg

    db.validate_no_broken_transaction()
    with db.wrap_database_errors:
        db.ensure_connection()
        with psycopg.Cursor(db.connection) as cursor:
            cursor.execute(sql, params, prepare=True)
            return fetch(cursor)


def fetchone(sql: str, params: list) -> tuple | None:
    """Run ``sql`` (``%s`` placeholders) and return its first row, or None."""
    return _run(sql, params, lambda cursor: cursor.fetchone())


def fetchall(sql: str, params: list) -> list[tuple]:
    """Run ``sql`` (``%s`` placeholders) and return its rows."""
    return _run(sql, params, lambda cursor: cursor.fetchall())


def aware(value):
    """A timestamp column's value as an aware datetime (SQLite hands back naive UTC text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value
