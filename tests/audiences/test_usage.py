"""Where each audience type may be used (docs/audiences.md#where-each-audience-may-be-used,
支援的廣告受眾種類說明)."""

import pytest
from django.urls import reverse

from audiences import services
from audiences.exceptions import SharingRefused
from audiences.models import Audience, AudienceShare, AudienceType, usages
from lbm.models import Account, Organization
from tests import factories

from . import factories as af

LAP_ONLY = {AudienceType.FRIENDS_BLOCKED, AudienceType.LOOKALIKE}


@pytest.mark.parametrize("audience_type", AudienceType.values)
@pytest.mark.parametrize("kind", Account.Kind.values)
def test_every_type_on_every_account_kind(audience_type, kind):
    used = set(usages(audience_type, kind))
    if kind == "lap":
        expected = (
            {"retargeting", "exclusion"}
            if audience_type in LAP_ONLY
            else {"retargeting", "exclusion", "lookalike"}
        )
    elif kind == "oa":
        expected = set() if audience_type in LAP_ONLY else {"retargeting", "exclusion"}
    else:
        expected = set()
    assert used == expected


@pytest.fixture
def accounts(org):
    Organization.objects.filter(pk=org.pk).update(share_mode="share_selected")
    org.refresh_from_db()
    out = {}
    for i, kind in enumerate(("oa", "lap", "mvp")):
        account = (
            factories.account_for(org)
            if kind == "oa"
            else factories.AccountFactory(
                kind=kind,
                basic_id=None,
                external_id=f"X-{i}",
                verified=True,
                business_number=org.business_number,
            )
        )
        factories.linked(org, account)
        out[kind] = account
    return out


@pytest.mark.parametrize("audience_type", ["upload_phone", "friends_blocked", "lookalike"])
def test_sharing_follows_the_usage_table(org, admin_user, accounts, audience_type):
    audience = af.upload_audience(org, admin_user, af.phones(120))
    Audience.objects.filter(pk=audience.pk).update(type=audience_type)
    allowed = {"upload_phone": {"oa", "lap"}}.get(audience_type, {"lap"})
    for kind, account in accounts.items():
        if kind in allowed:
            services.audience_share(
                actor=admin_user, audience_id=audience.pk, account_ids=[account.pk]
            )
        else:
            with pytest.raises(SharingRefused, match="cannot be used on"):
                services.audience_share(
                    actor=admin_user, audience_id=audience.pk, account_ids=[account.pk]
                )
    assert (
        set(AudienceShare.objects.filter(audience=audience).values_list("account__kind", flat=True))
        == allowed
    )


def test_share_page_shows_what_each_account_may_use_it_for(client, org, admin_user, accounts):
    audience = af.upload_audience(org, admin_user, af.phones(120))
    client.force_login(admin_user)
    page = client.post(
        reverse("admin:audiences_audience_changelist"),
        {"action": "share", "_selected_action": [audience.pk]},
    )
    rows = {account.name: used for _a, account, used in page.context["usage_rows"]}
    assert rows == {
        accounts["oa"].name: ["Retargeting", "Exclusion"],
        accounts["lap"].name: ["Retargeting", "Exclusion", "Lookalike source"],
        accounts["mvp"].name: [],
    }
    assert "Cannot be used on this account" in page.content.decode()


@pytest.mark.parametrize(
    "audience_type, kind, reason",
    [
        ("friends_blocked", "oa", "for LAP ad accounts only"),
        ("lookalike", "oa", "for LAP ad accounts only"),
        ("upload_phone", "mvp", "only on LAP ad accounts and Official Accounts"),
        ("webtraffic", "points_ads", "only on LAP ad accounts and Official Accounts"),
    ],
)
def test_a_refusal_says_why(org, admin_user, audience_type, kind, reason):
    from audiences.services import share_problems

    audience = Audience(organization=org, type=audience_type, status="ready", size=500)
    account = Account(kind=kind, name="帳號")
    (problem,) = share_problems(audience, account)
    assert "cannot be used on" in problem and reason in problem


def test_a_combined_audience_is_used_only_where_all_its_parts_are(org, admin_user, accounts):
    from audiences import selectors

    lap_only = services.account_audience_upsert(
        account_id=accounts["lap"].pk,
        external_id=5,
        name="好友與封鎖",
        audience_type="friends_blocked",
        ids=[af.user_id(i) for i in range(150)],
    )
    web = services.account_audience_upsert(
        account_id=accounts["lap"].pk,
        external_id=6,
        name="網站訪客",
        audience_type="webtraffic",
        ids=[af.user_id(i) for i in range(100, 300)],
    )
    both = services.audience_combine(
        actor=admin_user,
        organization_id=org.pk,
        name="組合",
        operator="or",
        component_ids=[lap_only.pk, web.pk],
    )
    assert selectors.audience_usages(both, "oa") == ()
    assert selectors.audience_usages(both, "lap") == ("retargeting", "exclusion")
    with pytest.raises(SharingRefused, match="every audience it is built from"):
        services.audience_share(
            actor=admin_user, audience_id=both.pk, account_ids=[accounts["oa"].pk]
        )
    plain = services.audience_combine(
        actor=admin_user,
        organization_id=org.pk,
        name="組合 2",
        operator="and",
        component_ids=[web.pk, both.pk],
    )
    assert selectors.audience_usages(plain, "oa") == ()  # nested: still carries the LAP-only
