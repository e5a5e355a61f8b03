"""A page of audiences as the LINE API's list shows it: the filters, the ORM page and the
prepared statement the API's hot path runs."""

import functools
from collections import namedtuple

from django.db import connection
from django.db.models import Count, Window

from lbm import hotsql

from ..models import Audience

# What a page of an account's audiences shows of each (the LINE API's ``audience_group``).
PAGE_FIELDS = (
    "pk",
    "type",
    "name",
    "status",
    "size",
    "created_at",
    "create_route",
    "id_type",
    "source_account_id",
    "organization_id",
)
PageRow = namedtuple("PageRow", PAGE_FIELDS)
_PAGE_COLUMNS = ("id",) + PAGE_FIELDS[1:]


def filtered_audiences(queryset, name_contains: str = "", status: str = "", create_route: str = ""):
    """``queryset`` narrowed by the API list's filters: name contains (case-insensitive),
    status, create route; an empty filter is no filter."""
    if name_contains:
        queryset = queryset.filter(name__icontains=name_contains)
    if status:
        queryset = queryset.filter(status=status)
    if create_route:
        queryset = queryset.filter(create_route=create_route)
    return queryset


def audience_page(
    queryset,
    page: int,
    size: int,
    name_contains: str = "",
    status: str = "",
    create_route: str = "",
) -> tuple[list, int]:
    """One page of ``queryset`` (audiences) with the list's filters, newest first, and how many
    there are in all: one query (``COUNT(*) OVER ()``; a page past the end counts apart), rows
    as named tuples of ``PAGE_FIELDS``."""
    filtered = filtered_audiences(queryset, name_contains, status, create_route)
    rows = list(
        filtered.order_by("-created_at", "-pk")
        .annotate(total_count=Window(Count("pk")))
        .values_list(*PAGE_FIELDS, "total_count", named=True)[(page - 1) * size : page * size]
    )
    total = rows[0].total_count if rows else (filtered.count() if page > 1 else 0)
    return [PageRow(*row[:-1]) for row in rows], total


@functools.cache
def _page_sql(vendor: str, by_name: bool, by_status: bool, by_route: bool) -> tuple[str, str]:
    """``own_audience_page``'s two statements for one database and set of filters."""
    ops, quote = connection.ops, connection.ops.quote_name
    where = [f"{quote('source_account_id')} = %s"]
    if by_name:
        lhs = ops.lookup_cast("icontains", "CharField") % quote("name")
        where.append(f"{lhs} {connection.operators['icontains'] % '%s'}")
    where += [
        f"{quote(column)} = %s"
        for column, used in (("status", by_status), ("create_route", by_route))
        if used
    ]
    table, condition = quote(Audience._meta.db_table), " AND ".join(where)
    columns = ", ".join(quote(c) for c in _PAGE_COLUMNS)
    return (
        f"SELECT {columns}, COUNT(*) OVER () FROM {table} WHERE {condition}"
        f" ORDER BY {quote('created_at')} DESC, {quote('id')} DESC LIMIT %s OFFSET %s",
        f"SELECT COUNT(*) FROM {table} WHERE {condition}",
    )


def own_audience_page(
    *,
    account_id: int,
    page: int,
    size: int,
    name_contains: str = "",
    status: str = "",
    create_route: str = "",
) -> tuple[list[PageRow], int]:
    """``audience_page(Audience.objects.filter(source_account_id=account_id), …)`` as one
    prepared statement (the page and ``COUNT(*) OVER ()``): the API's list runs it on every
    call, and the ORM's compilation cost more than the query. The SQL's pieces for the name
    filter are the ORM's own (``icontains``); a test holds the two to the same rows."""
    params = [account_id]
    if name_contains:
        params.append(f"%{connection.ops.prep_for_like_query(name_contains)}%")
    params += [value for value in (status, create_route) if value]
    page_sql, count_sql = _page_sql(
        connection.vendor, bool(name_contains), bool(status), bool(create_route)
    )
    rows = hotsql.fetchall(page_sql, [*params, size, (page - 1) * size])
    if rows:
        total = rows[0][-1]
    elif page > 1:  # past the end: the window had no row to count on
        total = hotsql.fetchone(count_sql, params)[0]
    else:
        total = 0
    created = _PAGE_COLUMNS.index("created_at")
    return [
        PageRow(*row[:created], hotsql.aware(row[created]), *row[created + 1 : -1]) for row in rows
    ], total
