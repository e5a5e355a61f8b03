"""The large-table paginator (lbm/paginators.py): bounded counts, the back half read from the
other end, no page deeper than MAX_OFFSET rows from both ends."""

import os

import pytest
from django.contrib.auth.models import Group
from django.core.paginator import EmptyPage, Paginator
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from audiences.models import LineUser
from lbm.paginators import LargeTablePaginator

pytestmark = pytest.mark.django_db


class Small(LargeTablePaginator):
    EXACT_UP_TO = 1000  # the 95 rows below are counted exactly, on any database
    MAX_OFFSET = 20


class TinyExact(Small):
    EXACT_UP_TO = 30


@pytest.fixture
def groups():
    Group.objects.bulk_create(Group(name=f"g{i:03d}") for i in range(95))
    return Group.objects.filter(name__startswith="g0").order_by("-name", "-pk")


def names(page):
    return [g.name for g in page.object_list]


def test_every_reachable_page_holds_what_the_plain_paginator_shows(groups):
    plain, large = Paginator(groups, 10), Small(groups, 10)
    assert large.count == 95 and large.num_pages == 10
    reachable = [n for n in range(1, 11) if large.reachable(n)]
    assert reachable == [1, 2, 3, 8, 9, 10]  # 20 rows from either end, pages of 10
    for number in reachable:
        assert names(large.page(number)) == names(plain.page(number)), number


def test_the_last_page_is_the_oldest_rows_read_from_the_other_end(groups):
    page = Small(groups, 10).page(10)
    assert names(page) == ["g004", "g003", "g002", "g001", "g000"]
    assert isinstance(page.object_list, list)  # read reversed, turned round in Python
    assert page.start_index() == 91 and page.end_index() == 95


def test_orphans_join_the_last_page_from_either_end(groups):
    plain, large = Paginator(groups, 10, orphans=5), Small(groups, 10, orphans=5)
    assert large.num_pages == plain.num_pages == 9
    assert names(large.page(9)) == names(plain.page(9))
    assert len(large.page(9).object_list) == 15


def test_a_page_far_from_both_ends_is_refused_and_never_linked(groups):
    large = Small(groups, 10)
    with pytest.raises(EmptyPage):
        large.page(5)
    assert list(large.get_elided_page_range(1, on_each_side=3, on_ends=2)) == [
        1,
        2,
        3,
        Paginator.ELLIPSIS,
        8,
        9,
        10,
    ]
    assert list(large.get_elided_page_range(9, on_each_side=1, on_ends=1)) == [
        1,
        Paginator.ELLIPSIS,
        8,
        9,
        10,
    ]


def test_a_short_list_is_counted_exactly_and_every_page_served(groups):
    large = LargeTablePaginator(groups, 10)
    assert large.count == 95 and large.exact
    assert all(large.reachable(n) for n in range(1, 11))


def test_the_changelist_last_page_and_a_deep_page(admin_client, monkeypatch):
    monkeypatch.setattr(LargeTablePaginator, "MAX_OFFSET", 200)
    LineUser.objects.bulk_create(LineUser(user_id=f"U{i:032x}") for i in range(1, 651))
    url = reverse("admin:audiences_lineuser_changelist")
    first = admin_client.get(url)
    assert first.status_code == 200
    cl = first.context["cl"]
    assert cl.paginator.num_pages == 7 and cl.result_count == 650
    # LineUser has no ordering of its own: the changelist orders by -pk, newest first.
    last = admin_client.get(url + "?p=7")
    assert [u.user_id for u in last.context["cl"].result_list] == [
        f"U{i:032x}" for i in range(50, 0, -1)
    ]
    assert b"?p=4" not in first.content  # page 4 is 300 rows from both ends: not linked
    deep = admin_client.get(url + "?p=4")
    assert deep.status_code == 302 and deep.url.endswith("?e=1")
    # Rows went away since the last page's link was drawn: the link shows the new last page.
    LineUser.objects.filter(pk__in=LineUser.objects.order_by("-pk").values("pk")[:100]).delete()
    moved = admin_client.get(url + "?p=7")
    assert moved.status_code == 200
    assert moved.context["cl"].paginator.num_pages == 6
    assert moved.context["cl"].result_list[0].user_id == f"U{50:032x}"


@pytest.mark.integration
@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith("postgres"),
    reason="the planner's estimate is PostgreSQL's",
)
def test_on_postgresql_a_big_list_takes_the_estimate_in_the_same_two_queries(groups):
    small = groups.filter(name__lt="g010")
    with CaptureQueriesContext(connection) as few:
        assert TinyExact(small, 10).count == 10
    Group.objects.bulk_create(Group(name=f"h{i:04d}") for i in range(2000))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE auth_group")
    many = TinyExact(Group.objects.order_by("name"), 10)  # 2,095 of ours and a few others
    with CaptureQueriesContext(connection) as lots:
        count = many.count
    assert not many.exact
    assert 1000 < count < 4000  # the planner's estimate of 2,095 rows, not a COUNT(*)
    assert len(few.captured_queries) == len(lots.captured_queries) == 2
    assert lots.captured_queries[1]["sql"].startswith("EXPLAIN")


def test_a_filter_that_matches_nothing_counts_zero_on_any_database(groups):
    # ``pk__in=[]`` cannot be compiled to SQL (Django answers it without a query); a customer
    # with no organization of theirs gets such a list (lbm.permissions.visible).
    nothing = LargeTablePaginator(Group.objects.filter(pk__in=[]).order_by("name"), 10)
    assert nothing.count == 0 and nothing.exact
    assert list(nothing.page(1).object_list) == []
