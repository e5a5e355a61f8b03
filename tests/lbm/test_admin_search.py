"""``=field`` searches as indexed equalities (lbm/admin_search.py), on the changelists that use
them: IDs found in the case they are written in, a term that is no UUID matches nothing, the
other search fields still search by substring."""

import uuid
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from lbm.models import Account
from notifications.models import Notice, UserFlow
from tests import factories
from tests.notifications import factories as lon

pytestmark = pytest.mark.django_db


def found(client, url, term):
    response = client.get(url, {"q": term})
    assert response.status_code == 200
    return {obj.pk for obj in response.context["cl"].result_list}


@pytest.fixture
def setup():
    return lon.live_setup()


def notice(setup, **fields):
    now = timezone.now()
    return Notice.objects.create(
        account=setup["account"],
        template_version=setup["version"],
        request_id=uuid.uuid4(),
        phone_hash="0" * 64,
        state="pending",
        reason="phone_mismatch",
        user_flow=UserFlow.values[0],
        accepted_at=now,
        line_day=now.date(),
        deadline_at=now + timedelta(days=1),
        **fields,
    )


def test_a_notice_is_found_by_request_id_and_by_delivery_tag(admin_client, setup):
    tagged = notice(setup, delivery_tag="order-2026-A123456")
    other = notice(setup, delivery_tag="ORDER-2026-B999999")
    url = reverse("admin:notifications_notice_changelist")
    assert found(admin_client, url, str(tagged.request_id)) == {tagged.pk}
    assert found(admin_client, url, str(tagged.request_id).upper()) == {tagged.pk}
    assert found(admin_client, url, "order-2026-A123456") == {tagged.pk}
    assert found(admin_client, url, "order-2026-b999999") == {other.pk}  # upper-cased
    assert found(admin_client, url, "A123456") == set()  # an exact ID, not a substring
    assert found(admin_client, url, "1") == set()  # no UUID, no tag: nothing, no error


def test_an_account_link_by_basic_id_in_either_case_and_by_name(admin_client):
    org = factories.organization(state="approved")
    account = factories.account_for(org, name="熊大咖啡 信義店")
    link = factories.linked(org, account)
    Account.objects.filter(pk=account.pk).update(basic_id="@abc1234")
    url = reverse("admin:lbm_accountlink_changelist")
    assert found(admin_client, url, "@ABC1234") == {link.pk}
    assert found(admin_client, url, "@abc1234") == {link.pk}
    assert found(admin_client, url, "信義") == {link.pk}  # account__name: a substring
    assert found(admin_client, url, "@abc123") == set()


def test_the_exact_fields_compare_the_column_itself_so_an_index_serves_them(rf, admin_user):
    from django.contrib import admin

    model_admin = admin.site._registry[Notice]
    request = rf.get("/")
    request.user = admin_user
    queryset, _duplicates = model_admin.get_search_results(
        request, Notice.objects.all(), str(uuid.UUID(int=7))
    )
    sql = str(queryset.query)
    assert '"notifications_notice"."delivery_tag" IN' in sql
    assert '"notifications_notice"."request_id" = ' in sql
    # Django's iexact would compare UPPER(column) (PostgreSQL) or LIKE (SQLite): no index.
    assert "UPPER(" not in sql and "LIKE" not in sql
