"""Rename and delete audiences, per-account unshare, web-traffic audiences from a LINE Tag."""

import pytest
from django.urls import reverse
from django.utils import timezone

from audiences import services
from audiences.exceptions import AudienceError
from audiences.models import Audience, AudienceMember, AudienceShare, TagEvent
from lbm.exceptions import NotAllowed
from lbm.models import Organization
from tests import factories
from tests.audiences import factories as af

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:audiences_audience_changelist"


@pytest.fixture
def audience(org, admin_user):
    Organization.objects.filter(pk=org.pk).update(share_mode="share_selected")
    return af.upload_audience(org, admin_user, af.phones(120), name="會員")


def _user(org, role):
    return (
        org.memberships.get(role="admin").user if role == "admin" else factories.member(org, role)
    )


@pytest.mark.parametrize("role", ["admin", "operator", "operator_data"])
def test_roles_that_create_may_rename_and_delete(org, audience, role):
    user = _user(org, role)
    services.audience_rename(actor=user, audience_id=audience.pk, name="VIP", reason="typo")
    audience.refresh_from_db()
    assert audience.name == "VIP"
    record = audience.history.first()
    assert (record.history_user, record.history_change_reason) == (user, "typo")
    services.audience_delete(actor=user, audience_id=audience.pk, reason="campaign over")
    assert not Audience.objects.filter(pk=audience.pk).exists()
    deleted = Audience.history.filter(id=audience.pk).first()
    assert deleted.history_type == "-"
    assert (deleted.history_user, deleted.history_change_reason) == (user, "campaign over")


def test_viewer_may_neither_rename_nor_delete(org, audience):
    viewer = factories.member(org, "viewer")
    with pytest.raises(NotAllowed):
        services.audience_rename(actor=viewer, audience_id=audience.pk, name="x")
    with pytest.raises(NotAllowed):
        services.audience_delete(actor=viewer, audience_id=audience.pk)
    assert Audience.objects.filter(pk=audience.pk, name="會員").exists()


def test_rename_follows_the_name_rules(org, admin_user, audience):
    af.upload_audience(org, admin_user, af.phones(3), name="Summer")
    with pytest.raises(AudienceError, match="already exists"):
        services.audience_rename(actor=admin_user, audience_id=audience.pk, name="SUMMER")
    with pytest.raises(AudienceError, match="120"):
        services.audience_rename(actor=admin_user, audience_id=audience.pk, name="x" * 121)
    before = audience.history.count()
    services.audience_rename(actor=admin_user, audience_id=audience.pk, name="會員")
    assert audience.history.count() == before  # same name: nothing to record


def test_delete_removes_members_and_shares_with_history(org, admin_user, oa, audience):
    services.audience_share(actor=admin_user, audience_id=audience.pk, account_ids=[oa.pk])
    other = af.upload_audience(org, admin_user, af.phones(5, start=900))
    services.audience_delete(actor=admin_user, audience_id=audience.pk)
    assert not AudienceMember.objects.filter(audience_id=audience.pk).exists()
    assert not AudienceShare.objects.filter(audience_id=audience.pk).exists()
    assert AudienceMember.objects.filter(audience=other).count() == 5
    ended = AudienceShare.history.filter(audience_id=audience.pk, history_type="-").get()
    assert (ended.history_user, ended.history_change_reason) == (admin_user, "Audience deleted")


def test_audience_used_by_a_combined_one_cannot_be_deleted(org, admin_user, audience):
    other = af.upload_audience(org, admin_user, af.phones(5))
    services.audience_combine(
        actor=admin_user,
        organization_id=org.pk,
        name="合併",
        operator="or",
        component_ids=[audience.pk, other.pk],
    )
    with pytest.raises(AudienceError, match="合併"):
        services.audience_delete(actor=admin_user, audience_id=audience.pk)


def test_an_accounts_own_audience_is_not_renamed_here(org, admin_user, oa):
    own = services.account_audience_upsert(
        account_id=oa.pk,
        external_id=7,
        name="OA 受眾",
        audience_type="upload_uid",
        ids=[af.user_id(1)],
    )
    with pytest.raises(AudienceError, match="changed in that account"):
        services.audience_rename(actor=admin_user, audience_id=own.pk, name="x")
    with pytest.raises(AudienceError, match="changed in that account"):
        services.audience_delete(actor=admin_user, audience_id=own.pk)


# --- Admin ------------------------------------------------------------------------------------


def test_rename_action(client, org, audience):
    client.force_login(factories.member(org, "operator_data"))
    response = client.post(
        reverse(CHANGELIST),
        {
            "action": "rename",
            "_selected_action": [audience.pk],
            "confirm": "yes",
            "name": "新名字",
            "reason": "清楚一點",
        },
    )
    assert response.status_code == 302
    audience.refresh_from_db()
    assert audience.name == "新名字"
    assert audience.history.first().history_change_reason == "清楚一點"


def test_delete_action_asks_then_deletes(client, org, audience):
    client.force_login(factories.member(org, "operator"))
    url = reverse(CHANGELIST)
    data = {"action": "delete_audiences", "_selected_action": [audience.pk]}
    response = client.post(url, data)
    assert response.status_code == 200 and Audience.objects.filter(pk=audience.pk).exists()
    response = client.post(url, {**data, "confirm": "yes", "reason": "不再使用"})
    assert response.status_code == 302
    assert not Audience.objects.filter(pk=audience.pk).exists()
    assert not AudienceMember.objects.filter(audience_id=audience.pk).exists()


def test_viewer_has_no_rename_or_delete_action(client, org, audience):
    client.force_login(factories.member(org, "viewer"))
    response = client.get(reverse(CHANGELIST))
    form = response.context["action_form"]  # None: no action at all for a viewer
    actions = dict(form.fields["action"].choices) if form else {}
    assert "rename" not in actions and "delete_audiences" not in actions
    client.post(
        reverse(CHANGELIST),
        {"action": "delete_audiences", "confirm": "yes", "_selected_action": [audience.pk]},
    )
    assert Audience.objects.filter(pk=audience.pk).exists()


def test_unshare_from_chosen_accounts_only(client, org, admin_user, audience):
    accounts = [
        factories.AccountFactory(
            kind="lap",
            basic_id=None,
            external_id=f"LAP-{i}",
            verified=True,
            business_number=org.business_number,
            name=f"廣告 {i}",
        )
        for i in range(2)
    ]
    for account in accounts:
        factories.linked(org, account)
    services.audience_share(
        actor=admin_user, audience_id=audience.pk, account_ids=[a.pk for a in accounts]
    )
    client.force_login(factories.member(org, "operator"))
    url = reverse(CHANGELIST)
    page = client.post(url, {"action": "unshare", "_selected_action": [audience.pk]})
    assert set(page.context["form"].fields["accounts"].queryset) == set(accounts)
    preview = client.post(
        url,
        {
            "action": "unshare",
            "_selected_action": [audience.pk],
            "stage": "preview",
            "accounts": [accounts[0].pk],
        },
    )
    assert [(r["audience"], r["account"]) for r in preview.context["rows"]] == [
        (audience, accounts[0])
    ]  # what will stop, before anything stops
    assert AudienceShare.objects.filter(audience=audience).count() == 2
    response = client.post(
        url,
        {
            "action": "unshare",
            "_selected_action": [audience.pk],
            "stage": "confirm",
            "accounts": [accounts[0].pk],
        },
    )
    assert response.status_code == 302
    assert list(
        AudienceShare.objects.filter(audience=audience).values_list("account_id", flat=True)
    ) == [accounts[1].pk]
    ended = AudienceShare.history.filter(history_type="-").get()
    assert ended.account_id == accounts[0].pk and ended.history_change_reason == "Unshared"


def test_web_traffic_audience_from_a_line_tag_in_the_admin(client, org, admin_user):
    tag = services.line_tag_create(actor=admin_user, organization_id=org.pk, name="官網")
    users = af.line_users(4)
    TagEvent.objects.bulk_create(
        TagEvent(tag=tag, line_user=u, event="PageView", occurred_at=timezone.now()) for u in users
    )
    client.force_login(factories.member(org, "operator_data"))
    url = reverse("admin:audiences_linetag_changelist")
    data = {"action": "create_web_traffic_audience", "_selected_action": [tag.pk]}
    assert client.post(url, data).status_code == 200  # the form
    response = client.post(
        url,
        {**data, "confirm": "yes", "name": "官網訪客", "event": "PageView", "retention_days": 30},
    )
    audience = Audience.objects.get(name="官網訪客")
    assert response.status_code == 302
    assert audience.type == "webtraffic" and audience.line_tag == tag and audience.size == 4
    bad = client.post(url, {**data, "confirm": "yes", "name": "官網訪客", "retention_days": 30})
    assert "already exists" in bad.content.decode()


def test_viewer_cannot_build_web_traffic_audiences(client, org, admin_user):
    tag = services.line_tag_create(actor=admin_user, organization_id=org.pk, name="官網")
    client.force_login(factories.member(org, "viewer"))
    client.post(
        reverse("admin:audiences_linetag_changelist"),
        {
            "action": "create_web_traffic_audience",
            "_selected_action": [tag.pk],
            "confirm": "yes",
            "name": "x",
            "retention_days": 30,
        },
    )
    assert not Audience.objects.filter(name="x").exists()
