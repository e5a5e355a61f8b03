"""Where each audience type may be used (seed 000, 支援的廣告受眾種類說明)."""

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
        expected = ({"retargeting", "exclusion"} if audience_type in LAP_ONLY
                    else {"retargeting", "exclusion", "lookalike"})
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
        account = (factories.account_for(org) if kind == "oa" else factories.AccountFactory(
            kind=kind, basic_id=None, external_id=f"X-{i}", verified=True,
            business_number=org.business_number))
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
            services.audience_share(actor=admin_user, audience_id=audience.pk,
                                    account_ids=[account.pk])
        else:
            with pytest.raises(SharingRefused, match="cannot be used on"):
                services.audience_share(actor=admin_user, audience_id=audience.pk,
                                        account_ids=[account.pk])
    assert set(AudienceShare.objects.filter(audience=audience)
               .values_list("account__kind", flat=True)) == allowed


def test_share_page_shows_what_each_account_may_use_it_for(client, org, admin_user, accounts):
    audience = af.upload_audience(org, admin_user, af.phones(120))
    client.force_login(admin_user)
    page = client.post(reverse("admin:audiences_audience_changelist"),
                       {"action": "share", "_selected_action": [audience.pk]})
    rows = {account.name: used for _a, account, used in page.context["usage_rows"]}
    assert rows == {accounts["oa"].name: ["Retargeting", "Exclusion"],
                    accounts["lap"].name: ["Retargeting", "Exclusion", "Lookalike source"],
                    accounts["mvp"].name: []}
    assert "Cannot be used on this account" in page.content.decode()
