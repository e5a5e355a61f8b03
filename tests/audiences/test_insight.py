"""Insight: overlap of two audiences and the "under 50" rule."""

import pytest

from audiences import selectors
from lbm.exceptions import NotAllowed
from tests import factories

from . import factories as af


def test_overlap_counts_in_the_database(org, admin_user):
    a = af.upload_audience(org, admin_user, af.phones(200), name="A")
    b = af.upload_audience(org, admin_user, af.phones(200, start=120), name="B")
    assert selectors.audience_overlap(admin_user, a, b) == {
        "both": 80,
        "first_only": 120,
        "second_only": 120,
    }


def test_numbers_under_50_are_never_shown_exactly(org, admin_user):
    a = af.upload_audience(org, admin_user, af.phones(100), name="A")
    b = af.upload_audience(org, admin_user, af.phones(100, start=51), name="B")
    # both 49, A only 51, B only 51
    assert selectors.audience_overlap(admin_user, a, b) == {
        "both": None,
        "first_only": 51,
        "second_only": 51,
    }
    assert selectors.insight_number(49) is None
    assert selectors.insight_number(50) == 50


def test_overlap_across_id_types_goes_through_the_directory(org, admin_user):
    from django.utils import timezone

    from audiences import services
    from audiences.models import TagEvent

    users = af.line_users(120)
    a = af.upload_audience(org, admin_user, af.phones(120), name="電話")
    tag = services.line_tag_create(actor=admin_user, organization_id=org.pk, name="官網")
    TagEvent.objects.bulk_create(
        TagEvent(tag=tag, line_user=u, event="PageView", occurred_at=timezone.now())
        for u in users[60:]
    )
    b = services.audience_web_traffic_create(
        actor=admin_user, organization_id=org.pk, name="訪客", tag_id=tag.pk
    )
    assert selectors.audience_overlap(admin_user, a, b) == {
        "both": 60,
        "first_only": 60,
        "second_only": None,
    }


@pytest.mark.parametrize("role", ["viewer", "operator_data"])
def test_only_admins_and_operators_see_insight(org, admin_user, role):
    a = af.upload_audience(org, admin_user, af.phones(60), name="A")
    b = af.upload_audience(org, admin_user, af.phones(60), name="B")
    with pytest.raises(NotAllowed):
        selectors.audience_overlap(factories.member(org, role), a, b)
    operator = factories.member(org, "operator")
    assert selectors.audience_overlap(operator, a, b)["both"] == 60


# --- Size over time, reachable per account, the pages -------------------------------------------


def test_a_snapshot_is_recorded_whenever_the_size_changes(org, admin_user):
    from audiences.models import AudienceSizeSnapshot

    audience = af.upload_audience(org, admin_user, af.phones(60), name="A")
    services_ = __import__("audiences.services", fromlist=["x"])
    services_.audience_add_ids(
        actor=admin_user, audience_id=audience.pk, ids=af.phones(30, start=60)
    )
    services_.audience_add_ids(actor=admin_user, audience_id=audience.pk, ids=af.phones(10))
    services_.audience_rename(actor=admin_user, audience_id=audience.pk, name="A2")
    assert list(
        AudienceSizeSnapshot.objects.filter(audience=audience)
        .order_by("recorded_at", "pk")
        .values_list("size", flat=True)
    ) == [60, 90]
    assert [h["size"] for h in selectors.size_history(audience)] == [60, 90]


def test_web_traffic_recompute_records_the_new_size(org, admin_user):
    from django.utils import timezone

    from audiences import services
    from audiences.models import TagEvent

    users = af.line_users(80)
    tag = services.line_tag_create(actor=admin_user, organization_id=org.pk, name="官網")
    TagEvent.objects.bulk_create(
        TagEvent(tag=tag, line_user=u, event="PageView", occurred_at=timezone.now())
        for u in users[:30]
    )
    audience = services.audience_web_traffic_create(
        actor=admin_user, organization_id=org.pk, name="訪客", tag_id=tag.pk
    )
    TagEvent.objects.bulk_create(
        TagEvent(tag=tag, line_user=u, event="PageView", occurred_at=timezone.now())
        for u in users[30:]
    )
    services.web_traffic_recompute_all()
    services.web_traffic_recompute_all()  # unchanged: no new row
    assert [h["size"] for h in selectors.size_history(audience)] == [None, 80]  # 30: under 50


def _insight_setup(org, admin_user):
    from audiences import services
    from lbm.models import Organization

    Organization.objects.filter(pk=org.pk).update(share_mode="share_selected")
    users = af.line_users(200)
    oa = factories.account_for(org, name="A 官方帳號")
    factories.linked(org, oa)
    lap = factories.AccountFactory(
        kind="lap",
        basic_id=None,
        external_id="LAP-INS",
        verified=True,
        business_number=org.business_number,
        name="B LAP",
    )
    factories.linked(org, lap)
    af.friends(oa, users[:120])
    af.friends(lap, users[:30])
    af.friends(oa, users[120:200], state="blocked")
    audience = af.upload_audience(org, admin_user, af.phones(200), name="電話")
    services.audience_share(actor=admin_user, audience_id=audience.pk, account_ids=[oa.pk])
    return audience, oa, lap


def test_reachable_per_account_with_thresholds(org, admin_user):
    audience, oa, lap = _insight_setup(org, admin_user)
    rows = {r["account"].name: r for r in selectors.reachable_by_account(admin_user, audience)}
    assert rows["A 官方帳號"]["reachable"] == 120  # the 80 who blocked it do not count
    assert rows["A 官方帳號"]["can_send"] and rows["A 官方帳號"]["meets_100"]
    assert rows["A 官方帳號"]["shared"] is True
    assert rows["B LAP"]["reachable"] is None  # 30: under 50, never exact
    assert not rows["B LAP"]["can_send"] and rows["B LAP"]["shared"] is False
    with pytest.raises(NotAllowed):
        selectors.reachable_by_account(factories.member(org, "operator_data"), audience)


@pytest.mark.parametrize("language, under", [("en", "under 50"), ("zh-hant", "少於 50")])
def test_insight_page_never_shows_a_number_under_50(client, org, admin_user, language, under):
    from django.urls import reverse

    audience, oa, lap = _insight_setup(org, admin_user)
    client.force_login(factories.member(org, "operator"))
    page = client.get(
        reverse("admin:audiences_audience_insight", args=[audience.pk]),
        HTTP_ACCEPT_LANGUAGE=language,
    )
    assert page.status_code == 200
    body = page.content.decode()
    reachable = {r["account"].name: r["shown"] for r in page.context["reachable"]}
    assert reachable == {"A 官方帳號": 120, "B LAP": under}
    assert under in body and ">30<" not in body
    assert page.context["chart"]["reachable"]["values"] == [120, None]
    assert [t["value"] for t in page.context["chart"]["reachable"]["thresholds"]] == [50, 100]
    assert "billing/chart.umd.js" in body and "audience-insight-data" in body


@pytest.mark.parametrize(
    "role, status", [("viewer", 403), ("operator_data", 403), ("operator", 200), ("admin", 200)]
)
def test_insight_pages_for_admins_and_operators(client, org, admin_user, role, status):
    from django.urls import reverse

    audience = af.upload_audience(org, admin_user, af.phones(60), name="A")
    user = admin_user if role == "admin" else factories.member(org, role)
    client.force_login(user)
    assert (
        client.get(reverse("admin:audiences_audience_insight", args=[audience.pk])).status_code
        == status
    )
    assert client.get(reverse("admin:audiences_audience_overlap")).status_code == status


def test_insight_of_another_organizations_audience_is_a_404(client, org, admin_user):
    from django.urls import reverse

    other = factories.organization(state="approved")
    from lbm.models import Membership

    theirs = af.upload_audience(
        other,
        Membership.objects.get(organization=other, role="admin").user,
        af.phones(60),
        name="他們的",
    )
    client.force_login(admin_user)
    assert (
        client.get(reverse("admin:audiences_audience_insight", args=[theirs.pk])).status_code == 404
    )


@pytest.mark.parametrize("language, under", [("en", "under 50"), ("zh-hant", "少於 50")])
def test_overlap_page(client, org, admin_user, language, under):
    from django.urls import reverse

    a = af.upload_audience(org, admin_user, af.phones(100), name="A")
    b = af.upload_audience(org, admin_user, af.phones(100, start=51), name="B")
    client.force_login(admin_user)
    url = reverse("admin:audiences_audience_changelist")
    redirect = client.post(url, {"action": "overlap", "_selected_action": [a.pk, b.pk]})
    page = client.get(redirect.url, HTTP_ACCEPT_LANGUAGE=language)
    result = page.context["result"]
    assert (result["both"], result["first_only"], result["second_only"]) == (under, 51, 51)
    assert under in page.content.decode()
