"""The admin gate (docs/permissions.md#the-admin-gate) and the cases issue 11 reported: history
pages that reverted, answered 403 for another organization's object, listed every company's
providers, and change pages that failed with a 500 for view-only roles."""

import pytest
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.urls import path, reverse

from lbm import admin_gates, permissions
from lbm.admin_site import LBMAdminSite, undeclared_urls
from lbm.models import Account, Provider
from tests import factories

pytestmark = pytest.mark.django_db


def _linked_world():
    bear = factories.organization(state="approved", name="熊大餐飲")
    bunny = factories.organization(state="approved", name="兔兔服飾")
    bear_account = factories.account_for(bear, name="熊大官方帳號")
    factories.linked(bear, bear_account)
    bunny_account = factories.account_for(bunny, name="兔兔官方帳號")
    bunny_account.provider.name = "兔兔服飾：兔兔專櫃"
    bunny_account.provider.save()
    factories.linked(bunny, bunny_account)
    return bear, bunny, bear_account, bunny_account


def _version_url(obj):
    opts = obj._meta
    return reverse(
        f"admin:{opts.app_label}_{opts.model_name}_simple_history",
        args=[obj.pk, obj.history.earliest().history_id],
    )


def test_a_view_only_user_cannot_rename_a_linked_account_through_its_history(client):
    bear, _bunny, account, _other = _linked_world()
    client.force_login(factories.member(bear, "viewer"))
    response = client.post(_version_url(account), {"name": "改名", "badge": "none"})
    assert response.status_code == 302
    account.refresh_from_db()
    assert (account.name, account.badge) == ("熊大官方帳號", Account.Badge.BLUE)


def test_a_reviewer_cannot_edit_a_provider_through_its_history(client):
    provider = factories.ProviderFactory(name="熊大：本店")
    client.force_login(factories.reviewer())
    assert client.post(_version_url(provider), {"name": "改名"}).status_code == 302
    assert Provider.objects.get(pk=provider.pk).name == "熊大：本店"


def test_a_member_cannot_revert_an_audience_status_through_its_history(client):
    from audiences.models import Audience
    from tests.audiences import factories as aud

    bear = factories.organization(state="approved")
    audience = aud.upload_audience(bear, bear.contact, aud.phones(2))
    client.force_login(factories.member(bear, "operator"))
    assert client.post(_version_url(audience), {"status": "in_progress"}).status_code == 302
    assert Audience.objects.get(pk=audience.pk).status == audience.status


def test_another_organizations_history_is_the_same_404_as_a_missing_one(client):
    bear, _bunny, _account, other_account = _linked_world()
    client.force_login(bear.contact)
    for name, args in [
        ("lbm_account_history", [other_account.pk]),
        ("lbm_account_history", [987654]),
        (
            "lbm_account_simple_history",
            [other_account.pk, other_account.history.earliest().history_id],
        ),
        ("lbm_account_simple_history", [987654, 1]),
    ]:
        url = reverse(f"admin:{name}", args=args)
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"name": "x"}).status_code == 404, url


def test_a_history_page_does_not_list_other_companies_providers(client):
    bear, _bunny, account, _other = _linked_world()
    client.force_login(bear.contact)
    page = client.get(_version_url(account))
    assert page.status_code == 200
    assert "兔兔服飾：兔兔專櫃" not in page.content.decode()


def test_the_template_change_page_reads_for_a_view_only_user(client):
    from tests.notifications import factories as lon

    live = lon.live_setup()
    client.force_login(factories.member(live["org"], "viewer"))
    url = reverse("admin:notifications_template_change", args=[live["version"].template_id])
    page = client.get(url)
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert client.post(url, {"name": "x"}).status_code == 403


def test_a_url_nobody_declared_is_refused():
    site = LBMAdminSite(name="gate_test")

    class ExtraAdmin(admin.ModelAdmin):
        def get_urls(self):
            return [
                path("extra/", self.admin_site.admin_view(self.extra), name="lbm_provider_extra")
            ] + super().get_urls()

        def extra(self, request):
            raise AssertionError("the view ran")

    site.register(Provider, ExtraAdmin)
    assert undeclared_urls(site) == ["lbm/provider/extra/ (lbm_provider_extra)"]
    pattern = next(p for p in site.get_urls()[8].url_patterns if p.name == "lbm_provider_extra")
    request = RequestFactory().get("/admin/lbm/provider/extra/")
    request.user = factories.UserFactory(is_staff=True, is_superuser=True)
    with pytest.raises(PermissionDenied):
        pattern.callback(request)


def test_a_declared_url_passes_the_gate_before_its_view():
    site = LBMAdminSite(name="gate_test_2")
    ran = []

    class ExtraAdmin(admin.ModelAdmin):
        admin_gates = {"extra": admin_gates.Gate(permissions.Action.MANAGE_ACCOUNTS)}

        def get_urls(self):
            return [
                path("extra/", self.admin_site.admin_view(self.extra), name="lbm_provider_extra")
            ] + super().get_urls()

        def extra(self, request):
            ran.append(request.user)
            from django.http import HttpResponse

            return HttpResponse("ok")

    site.register(Provider, ExtraAdmin)
    assert undeclared_urls(site) == []
    pattern = next(p for p in site.get_urls()[8].url_patterns if p.name == "lbm_provider_extra")
    request = RequestFactory().get("/admin/lbm/provider/extra/")
    request.user = factories.organization().contact
    with pytest.raises(PermissionDenied):
        pattern.callback(request)
    assert ran == []
    request.user = factories.account_manager()
    assert pattern.callback(request).status_code == 200
    assert ran == [request.user]
