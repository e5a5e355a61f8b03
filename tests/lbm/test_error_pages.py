"""The admin's 403, 404 and 500 pages (docs/language.md#error-pages): the admin's look, zh-Hant by
default and English on request, with a link back."""

import pytest
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.urls import path, reverse

from tests import factories

pytestmark = pytest.mark.django_db


def _refuse(request):
    raise PermissionDenied


def _break(request):
    raise RuntimeError("boom")


urlpatterns = [
    path("admin/refused/", admin.site.admin_view(_refuse)),
    path("broken/", _break),
    path("admin/", admin.site.urls),
    path("i18n/", __import__("django").urls.include("django.conf.urls.i18n")),
]
handler403 = "lbm.error_views.permission_denied"
handler404 = "lbm.error_views.page_not_found"
handler500 = "lbm.error_views.server_error"


@pytest.fixture
def customer(client, settings):
    settings.LANGUAGE_CODE = "zh-hant"
    org = factories.organization(state="approved", name="熊大餐飲")
    client.force_login(org.contact)
    return org.contact


def test_a_missing_object_is_a_zh_hant_404_page_with_links_back(client, customer):
    response = client.get(reverse("admin:lbm_organization_change", args=[999999]))
    assert response.status_code == 404
    page = response.content.decode()
    assert '<html lang="zh-hant"' in page and 'id="site-name"' in page  # the admin's look
    assert "找不到頁面" in page and "此頁面不存在，或您無權查看。" in page
    assert f'href="{reverse("admin:lbm_organization_changelist")}"' in page
    assert "返回組織列表" in page
    assert f'href="{reverse("admin:index")}"' in page and "返回管理首頁" in page
    assert "Not Found" not in page and "Page not found" not in page


def test_another_organizations_object_is_the_same_404_page(client, customer):
    other = factories.organization(state="approved", name="兔兔服飾")
    response = client.get(reverse("admin:lbm_organization_change", args=[other.pk]))
    assert response.status_code == 404
    assert "找不到頁面" in response.content.decode()
    assert "兔兔服飾" not in response.content.decode()


def test_the_404_page_in_english_on_request(client, customer):
    client.cookies["django_language"] = "en"
    response = client.get(reverse("admin:lbm_organization_change", args=[999999]))
    page = response.content.decode()
    assert response.status_code == 404 and '<html lang="en"' in page
    assert "Page not found" in page and "Back to the admin home page" in page


def test_the_referring_page_is_offered_when_it_is_on_this_site(client, customer):
    url = reverse("admin:lbm_organization_change", args=[999999])
    came = "http://testserver" + reverse("admin:lbm_organization_changelist") + "?q=x"
    page = client.get(url, HTTP_REFERER=came).content.decode()
    assert "返回上一頁" in page and "?q=x" in page
    page = client.get(url, HTTP_REFERER="https://evil.example/").content.decode()
    assert "evil.example" not in page and "返回上一頁" not in page


def test_an_unknown_admin_url_is_the_styled_404(client, customer):
    response = client.get("/admin/no-such-page/")
    assert response.status_code == 404 and "返回管理首頁" in response.content.decode()


@pytest.mark.urls("tests.lbm.test_error_pages")
def test_permission_denied_in_an_admin_view_is_the_styled_403(client, customer):
    response = client.get("/admin/refused/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "您無權開啟此頁面" in page and "請洽貴組織的管理員" in page
    assert 'id="site-name"' in page and "返回管理首頁" in page


@pytest.mark.urls("tests.lbm.test_error_pages")
def test_an_unexpected_error_is_the_styled_500(client, settings):
    settings.LANGUAGE_CODE = "zh-hant"
    client.raise_request_exception = False
    response = client.get("/broken/")
    assert response.status_code == 500
    page = response.content.decode()
    assert "系統發生錯誤" in page and "請稍後再試" in page and "返回管理首頁" in page


def test_an_unknown_tag_intake_path_answers_json_not_a_page(client):
    response = client.get("/tag/v1/nothing-here")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json" and response.json() == {
        "message": "Not found"
    }


def test_a_404_page_leaves_the_next_pages_messages_alone(client):
    """A browser asks for /favicon.ico beside every page; its 404 must not use up the message
    that a save left for the page after the redirect."""
    from django.utils import timezone

    from tests.billing import factories as bill

    manager = factories.account_manager(username="flash_manager")
    account = factories.account_for(factories.organization(state="approved"))
    client.force_login(manager)
    response = client.post(
        reverse("admin:billing_subscription_add"),
        {
            "account": account.pk,
            "customer": bill.customer().pk,
            "plan_code": "light",
            "started_on": timezone.localdate().isoformat(),
            "monthly_limit": "",
        },
    )
    assert response.status_code == 302
    assert client.get("/favicon.ico").status_code == 404
    page = client.get(response["Location"]).content.decode()
    assert "was added successfully" in page
