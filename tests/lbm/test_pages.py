"""Pages outside the changelists: the verification link, account forms, demo data, languages."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from lbm import services
from lbm.exceptions import IncompleteBusinessInfo
from lbm.models import Account, AccountLink, Membership, Organization
from lbm.validators import business_number_is_valid
from tests import factories

pytestmark = pytest.mark.django_db


def test_verification_page_verifies_without_signing_in(client):
    org = factories.organization(verified=False)
    token = services.contact_verification_token(org)
    response = client.get(reverse("lbm:verify-contact", args=[token]))
    assert response.status_code == 200
    org.refresh_from_db()
    assert services.contact_email_is_verified(org)


def test_tampered_verification_link_is_a_clear_400(client):
    org = factories.organization(verified=False)
    token = services.contact_verification_token(org)
    response = client.get(reverse("lbm:verify-contact", args=[token.replace(":", ":x", 1)]))
    assert response.status_code == 400
    assert "not valid" in response.content.decode()
    org.refresh_from_db()
    assert not services.contact_email_is_verified(org)


def test_account_manager_gets_form_errors_for_bad_ids(client):
    taken = factories.AccountFactory(premium_id="@bearfood")
    client.force_login(factories.account_manager())
    response = client.post(
        reverse("admin:lbm_account_add"),
        {
            "kind": "oa",
            "name": "熊大",
            "basic_id": "@bad",
            "premium_id": "@bearfood",
            "badge": "blue",
            "business_number": taken.business_number,
        },
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "A basic ID is @, 3 letters" in page
    assert "already taken" in page
    assert Account.objects.count() == 1


def test_account_manager_changes_a_badge_and_the_history_records_it(client):
    account = factories.AccountFactory(badge="none")
    manager = factories.account_manager(username="chen.am")
    client.force_login(manager)
    response = client.post(
        reverse("admin:lbm_account_change", args=[account.pk]),
        {
            "kind": "oa",
            "name": account.name,
            "basic_id": account.basic_id,
            "premium_id": "",
            "external_id": "",
            "badge": "blue",
            "business_number": account.business_number,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    account.refresh_from_db()
    assert account.badge == "blue"
    assert account.history.latest().history_user == manager


def test_seed_demo_is_idempotent_and_covers_every_state_role_and_kind():
    call_command("seed_demo", verbosity=0)
    counts = (
        Organization.objects.count(),
        Membership.objects.count(),
        Account.objects.count(),
        AccountLink.objects.count(),
    )
    call_command("seed_demo", verbosity=0)
    assert (
        Organization.objects.count(),
        Membership.objects.count(),
        Account.objects.count(),
        AccountLink.objects.count(),
    ) == counts
    assert set(Organization.objects.values_list("status", flat=True)) == set(
        Organization.Status.values
    )
    assert set(Membership.objects.values_list("role", flat=True)) == set(Membership.Role.values)
    assert set(Account.objects.values_list("kind", flat=True)) == set(Account.Kind.values)
    assert set(Account.objects.filter(kind="oa").values_list("badge", flat=True)) == set(
        Account.Badge.values
    )
    assert AccountLink.objects.filter(status="pending").exists()
    for number in Organization.objects.values_list("business_number", flat=True):
        assert business_number_is_valid(number)
    for account in Account.objects.all():
        account.full_clean()


def test_admin_speaks_traditional_chinese_by_default_and_english_on_request(client, settings):
    settings.LANGUAGE_CODE = "zh-hant"
    org = factories.organization(state="approved")
    client.force_login(org.contact)
    zh = client.get(reverse("admin:lbm_organization_changelist")).content.decode()
    assert "組織" in zh and "統一編號" in zh
    client.post(reverse("set_language"), {"language": "en", "next": "/admin/"})
    en = client.get(reverse("admin:lbm_organization_changelist")).content.decode()
    assert "organizations" in en.lower() and "business number" in en.lower()
    assert "統一編號" in en  # the field's label keeps the Chinese term in brackets


def test_language_switch_is_on_every_admin_page(client):
    client.get(reverse("admin:login"))
    assert 'id="lbm-language"' in client.get(reverse("admin:login")).content.decode()


def test_domain_errors_are_translated(settings):
    from django.utils import translation

    org = factories.organization(verified=False)
    with translation.override("zh-hant"):
        with pytest.raises(IncompleteBusinessInfo, match="^此組織無法送審。") as error:
            services.organization_submit(organization_id=org.pk, actor=org.contact)
    assert "聯絡人電子郵件地址尚未認證" in str(error.value)
