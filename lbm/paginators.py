"""A changelist paginator for tables of millions of rows (docs/operations.md#admin-at-scale).

Django's paginator costs two things that grow with the table: an exact ``COUNT(*)`` on every
page, and ``OFFSET n`` for page ``n``, which reads and throws away every row before it (the
last page of 5,000,000 notices reads all 5,000,000). ``LargeTablePaginator`` bounds both:

- **Count.** The rows are counted exactly up to ``EXACT_UP_TO`` (``COUNT(*)`` over a
  ``LIMIT``, so it reads at most that many rows); above it, on PostgreSQL, the planner's estimate
  (``EXPLAIN``) is the count. ``exact`` tells which. Both queries always run on PostgreSQL, so a
  page's query count is the same at any table size.
- **Offset.** A page in the back half of the list is read from the other end: the ordering
  reversed, ``OFFSET`` the rows after the page, the rows turned round in Python. The last page
  is then the oldest rows at ``OFFSET 0`` (also when the count is an estimate). Pages farther
  than ``MAX_OFFSET`` rows from both ends are not served (Django's changelist answers an invalid
  page by going back to the first); the page links skip them. A filter, a search or the date
  hierarchy narrows the list to reach them. A page past the end (the count moved since the
  link was drawn) is the last page.
"""

from django.core.exceptions import EmptyResultSet
from django.core.paginator import EmptyPage, Paginator
from django.db import connections
from django.db.models import QuerySet
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _


class LargeTablePaginator(Paginator):
    EXACT_UP_TO = 10_000
    MAX_OFFSET = 10_000

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.error_messages = {
            **self.error_messages,
            "too_deep": _(
                "That page is too far from both ends of the list; "
                "narrow the list with a filter or a search."
            ),
        }
        self.exact = True

    def _queryset(self):
        qs = self.object_list
        return qs if isinstance(qs, QuerySet) else None

    @cached_property
    def count(self):
        qs = self._queryset()
        if qs is None:
            return super().count
        capped = qs.order_by()[: self.EXACT_UP_TO + 1].count()
        estimate = self._estimate(qs)
        if capped <= self.EXACT_UP_TO:
            return capped
        if estimate is None:  # not PostgreSQL: small deployments, count exactly
            return qs.count()
        self.exact = False
        return max(estimate, self.EXACT_UP_TO + 1)

    @staticmethod
    def _estimate(qs) -> int | None:
        connection = connections[qs.db]
        if connection.vendor != "postgresql":
            return None
        try:
            sql, params = qs.order_by().query.sql_with_params()
        except EmptyResultSet:  # a filter that matches nothing, e.g. ``pk__in=[]``
            return 0
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (FORMAT JSON) " + sql, params)
            plan = cursor.fetchone()[0]
        if isinstance(plan, str):
            import json

            plan = json.loads(plan)
        return int(plan[0]["Plan"]["Plan Rows"])

    def _bounds(self, number: int) -> tuple[int, int]:
        bottom = (number - 1) * self.per_page
        top = bottom + self.per_page
        if top + self.orphans >= self.count:
            top = self.count
        return bottom, top

    def reachable(self, number: int) -> bool:
        """Whether page ``number`` lies within ``MAX_OFFSET`` rows of either end."""
        bottom, top = self._bounds(number)
        return min(bottom, self.count - top) <= self.MAX_OFFSET

    def validate_number(self, number):
        try:
            number = super().validate_number(number)
        except EmptyPage:
            # Past the end: the rows shrank, or the estimate moved, since the page that linked
            # here was drawn (an upload or a month-end run changes it by the minute). The last
            # page is what the person asked for, not an error.
            if int(number) < 1:  # parsed already: only the range was wrong
                raise
            number = self.num_pages
        if not self.reachable(number):
            raise EmptyPage(self.error_messages["too_deep"])
        return number

    def page(self, number):
        number = self.validate_number(number)
        bottom, top = self._bounds(number)
        after = self.count - top
        qs = self._queryset()
        if qs is not None and qs.ordered and after < bottom:
            rows = list(qs.reverse()[after : after + (top - bottom)])
            rows.reverse()
            return self._get_page(rows, number, self)
        return self._get_page(self.object_list[bottom:top], number, self)

    def get_elided_page_range(self, number=1, *, on_each_side=3, on_ends=2):
        previous = None
        for item in super().get_elided_page_range(
            number, on_each_side=on_each_side, on_ends=on_ends
        ):
            if item != self.ELLIPSIS and not self.reachable(item):
                item = self.ELLIPSIS
            if item == self.ELLIPSIS and previous == self.ELLIPSIS:
                continue
            previous = item
            yield item


# The estimated-count paginator of the first scale pass, now the shared large-table paginator
# (docs/operations.md#admin-at-scale); the name stays for the admins that use it.
EstimatedCountPaginator = LargeTablePaginator
