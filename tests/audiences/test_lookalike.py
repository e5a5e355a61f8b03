"""Lookalike audiences: made on a LAP ad account from a source audience, 1–15% of the
account's reachable users, LAP-only (docs/audiences.md#lookalike-audiences)."""

import pytest
from django.urls import reverse

from audiences import services
from audiences.exceptions import AudienceError, SharingRefused
from audiences.models import Audience, AudienceMember, Friendship
from lbm.exceptions import NotAllowed
from tests import factories

from . import factories as af


@pytest.fixture
def lap(org):
    from lbm.models import Organization

    Organization.objects.filter(pk=org.pk).update(share_mode="share_selected")
    org.refresh_from_db()
    account = factories.AccountFactory(
        kind="lap",
        basic_id=None,
        external_id="LAP-LOOK",
        verified=True,
        business_number=org.business_number,
        name="C 品牌 LAP",
    )
    factories.linked(org, account)
    return account


@pytest.fixture
def population(lap):
    """1,000 reachable friends of the LAP account (the first 100 came through friend ads,
    the rest by QR code) and 40 who blocked it."""
    users = af.line_users(1040)
    af.friends(lap, users[:100], path=Friendship.Path.AD)
    af.friends(lap, users[100:1000], path=Friendship.Path.QR_CODE)
    af.friends(lap, users[1000:], state=Friendship.State.BLOCKED, path=Friendship.Path.AD)
    return users


@pytest.fixture
def source(org, admin_user, lap, population):
    """Phone audience of 60 of the friend-ad friends, shared to the LAP account."""
    audience = af.upload_audience(org, admin_user, af.phones(60), name="來源")
    services.audience_share(actor=admin_user, audience_id=audience.pk, account_ids=[lap.pk])
    return audience


@pytest.mark.parametrize("percent, size", [(1, 10), (10, 100), (15, 150)])
def test_size_is_the_percent_of_the_accounts_reachable_users(
    admin_user, lap, source, percent, size
):
    audience = services.audience_lookalike_create(
        actor=admin_user,
        account_id=lap.pk,
        source_id=source.pk,
        name=f"類似 {percent}",
        percent=percent,
    )
    assert audience.type == Audience.Type.LOOKALIKE and audience.status == "ready"
    assert audience.size == size  # blocked users do not count
    assert audience.source_account_id == lap.pk and audience.lookalike_source_id == source.pk


@pytest.mark.parametrize("percent", [0, 16, -1, 100])
def test_size_outside_1_to_15_percent_is_refused(admin_user, lap, source, percent):
    with pytest.raises(AudienceError, match="1% to 15%"):
        services.audience_lookalike_create(
            actor=admin_user, account_id=lap.pk, source_id=source.pk, name="太大", percent=percent
        )
    assert not Audience.objects.filter(type="lookalike").exists()


def test_members_are_alike_and_never_the_source(admin_user, lap, source, population):
    audience = services.audience_lookalike_create(
        actor=admin_user, account_id=lap.pk, source_id=source.pk, name="類似", percent=4
    )
    members = set(
        AudienceMember.objects.filter(audience=audience).values_list("identifier", flat=True)
    )
    source_ids = {u.user_id for u in population[:60]}
    assert len(members) == 40 and not members & source_ids
    # The source came by friend ads: the other 40 friend-ad friends are the most alike.
    assert members == {u.user_id for u in population[60:100]}


def test_made_only_on_a_lap_account(org, admin_user, oa, source):
    with pytest.raises(AudienceError, match="LAP ad account"):
        services.audience_lookalike_create(
            actor=admin_user, account_id=oa.pk, source_id=source.pk, name="類似", percent=5
        )


def test_source_must_be_usable_on_the_account(org, admin_user, lap, population):
    unshared = af.upload_audience(org, admin_user, af.phones(60), name="未分享")
    with pytest.raises(AudienceError, match="first"):
        services.audience_lookalike_create(
            actor=admin_user, account_id=lap.pk, source_id=unshared.pk, name="類似", percent=5
        )
    friends = services.account_audience_upsert(
        account_id=lap.pk,
        external_id=77,
        name="好友與封鎖",
        audience_type="friends_blocked",
        ids=[u.user_id for u in population[:60]],
    )
    with pytest.raises(AudienceError, match="cannot be the source"):
        services.audience_lookalike_create(
            actor=admin_user, account_id=lap.pk, source_id=friends.pk, name="類似", percent=5
        )


def test_the_accounts_own_audience_may_be_the_source(admin_user, lap, population):
    own = services.account_audience_upsert(
        account_id=lap.pk,
        external_id=78,
        name="網站訪客",
        audience_type="webtraffic",
        ids=[u.user_id for u in population[:60]],
    )
    audience = services.audience_lookalike_create(
        actor=admin_user, account_id=lap.pk, source_id=own.pk, name="類似", percent=2
    )
    assert audience.size == 20


def test_a_lookalike_is_used_on_lap_only(org, admin_user, lap, source, oa):
    audience = services.audience_lookalike_create(
        actor=admin_user, account_id=lap.pk, source_id=source.pk, name="類似", percent=15
    )
    other = factories.AccountFactory(
        kind="lap",
        basic_id=None,
        external_id="LAP-2",
        verified=True,
        business_number=org.business_number,
    )
    factories.linked(org, other)
    services.audience_share(actor=admin_user, audience_id=audience.pk, account_ids=[other.pk])
    with pytest.raises(SharingRefused, match="for LAP ad accounts only"):
        services.audience_share(actor=admin_user, audience_id=audience.pk, account_ids=[oa.pk])


@pytest.mark.parametrize("role", ["viewer"])
def test_a_viewer_cannot_make_one(org, lap, source, role):
    with pytest.raises(NotAllowed):
        services.audience_lookalike_create(
            actor=factories.member(org, role),
            account_id=lap.pk,
            source_id=source.pk,
            name="類似",
            percent=5,
        )


def test_recomputed_while_the_source_is_shared_kept_after(admin_user, lap, source, population):
    audience = services.audience_lookalike_create(
        actor=admin_user, account_id=lap.pk, source_id=source.pk, name="類似", percent=10
    )
    Friendship.objects.filter(account=lap, line_user__in=population[900:1000]).update(
        state=Friendship.State.BLOCKED
    )
    assert services.audience_refresh(audience_id=audience.pk).size == 90
    services.audience_unshare(actor=admin_user, audience_id=source.pk, account_id=lap.pk)
    Friendship.objects.filter(account=lap, line_user__in=population[800:900]).update(
        state=Friendship.State.BLOCKED
    )
    assert services.audience_refresh(audience_id=audience.pk).size == 90  # not recomputed
    with pytest.raises(AudienceError, match="lookalike"):
        services.audience_delete(actor=admin_user, audience_id=source.pk)


def test_lookalike_admin_action(client, org, admin_user, lap, source):
    client.force_login(factories.member(org, "operator_data"))
    url = reverse("admin:audiences_audience_changelist")
    data = {"action": "make_lookalike", "_selected_action": [source.pk]}
    page = client.post(url, data)
    assert list(page.context["form"].fields["account"].queryset) == [lap]
    response = client.post(
        url, {**data, "stage": "confirm", "account": lap.pk, "percent": 3, "name": "類似來源"}
    )
    assert response.status_code == 302
    made = Audience.objects.get(type="lookalike")
    assert (made.name, made.size, made.lookalike_percent) == ("類似來源", 30, 3)
    bad = client.post(
        url, {**data, "stage": "confirm", "account": lap.pk, "percent": 16, "name": "太大"}
    )
    assert bad.status_code == 200 and "percent" in bad.context["form"].errors
