"""The simple-history pages are read-only: nobody reverts, another organization's version is
the same 404 as a missing one (docs/permissions.md)."""

import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import translation
from simple_history.admin import SimpleHistoryAdmin

from lbm.history_admin import ReadOnlyHistoryAdmin
from lbm.models import Organization
from tests import factories

pytestmark = pytest.mark.django_db


def test_every_history_admin_of_the_site_is_read_only():
    history_admins = [a for a in admin.site._registry.values() if isinstance(a, SimpleHistoryAdmin)]
    assert len(history_admins) > 10, "the history pages were not found"
    assert [
        type(a).__name__ for a in history_admins if not isinstance(a, ReadOnlyHistoryAdmin)
    ] == []


READ_ONLY = (
    "The history is read-only and cannot be reverted; change the object through its "
    "own page and actions."
)


def test_the_refusal_speaks_zh_hant():
    with translation.override("zh-hant"):
        refusal = translation.gettext(READ_ONLY)
    assert refusal == "歷史紀錄僅供查閱，無法還原；請透過該物件的頁面與動作變更。"


def _version_url(org):
    version = org.history.earliest()
    return reverse("admin:lbm_organization_simple_history", args=[org.pk, version.history_id])


@pytest.mark.parametrize("role", ["admin", "operator", "viewer"])
def test_a_post_on_a_version_is_refused_and_changes_nothing(client, role):
    org = factories.organization(state="approved", name="熊大餐飲")
    user = org.contact if role == "admin" else factories.member(org, role)
    client.force_login(user)
    url = _version_url(org)
    rows = org.history.count()
    response = client.post(url, {"name": "hijacked", "status": "draft"})
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:lbm_organization_history", args=[org.pk])
    assert [str(m) for m in get_messages(response.wsgi_request)] == [READ_ONLY]
    org.refresh_from_db()
    assert (org.name, org.status) == ("熊大餐飲", "approved")
    assert org.history.count() == rows


def test_a_version_page_reads_without_a_revert_button(client):
    org = factories.organization(state="approved", name="熊大餐飲")
    client.force_login(factories.member(org, "viewer"))
    page = client.get(_version_url(org))
    assert page.status_code == 200
    assert b'name="_save"' not in page.content and b"Revert" not in page.content


def test_another_organizations_version_is_the_same_404_as_a_missing_one(client):
    bear = factories.organization(state="approved", name="熊大餐飲")
    bunny = factories.organization(state="approved", name="兔兔服飾")
    client.force_login(bear.contact)
    foreign = _version_url(bunny)
    missing = reverse("admin:lbm_organization_simple_history", args=[bear.pk, 999999])
    no_object = reverse("admin:lbm_organization_simple_history", args=[999999, 1])
    for url in (foreign, missing, no_object):
        assert client.get(url).status_code == 404, url
        assert client.post(url, {"name": "x"}).status_code == 404, url
    assert Organization.objects.get(pk=bunny.pk).name == "兔兔服飾"
