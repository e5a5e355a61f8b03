"""Statements on the API's hot paths, run as prepared statements on PostgreSQL.

Django binds parameters on the client side, so PostgreSQL parses and plans every statement
anew. The few statements a phone-number push runs on every request go through a server-side
binding cursor with ``prepare=True`` instead: psycopg prepares each once per connection and
then only binds and executes it (the connection's ``prepare_threshold`` must not be None:
settings sets it, ``PG_PREPARE_THRESHOLD=none`` turns preparing off behind PgBouncer).
Elsewhere (SQLite) they run through Django's cursor.
Errors are Django's (``IntegrityError`` and so on), as from the ORM."""

from django.db import connection


def _pg_cursor():
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


def fetchone(sql: str, params: list) -> tuple | None:
    """Run ``sql`` (``%s`` placeholders) and return its first row, or None."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()
    connection.validate_no_broken_transaction()
    with connection.wrap_database_errors, _pg_cursor() as cursor:
        cursor.execute(sql, params, prepare=True)
        return cursor.fetchone()
