"""An agency's member at work (docs/organizations.md#agencies): the client's Admin grants the
agency Operator access to one of its two accounts on the grant page (zh-Hant), the agency's Admin
accepts on the access page assigning the member; the member uploads an audience in the client's
organization, sees the one account only, and the other account's page is a 404."""

from datetime import timedelta

import pytest
from django.utils import timezone

from audiences.models import Audience, AudienceUpload
from lbm.models import AgencyAccess, Membership
from tests import factories
from tests.audiences import factories as af
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.AUDIENCES_BACKGROUND_UPLOAD_BYTES = 10
    client = factories.organization(state="approved", name="熊大餐飲集團")
    firm = factories.organization(state="approved", name="莎莉數位行銷", kind="agency")
    worker = factories.member(firm, "viewer", username="agency_worker")
    shop = factories.linked(client).account
    cafe = factories.linked(client).account
    return {"client": client, "firm": firm, "worker": worker, "shop": shop, "cafe": cafe}


def _grant_and_accept(new_page, world):
    admin = new_page("zh-hant")
    sign_in(admin, world["client"].contact.username, factories.PASSWORD)
    admin.goto("/admin/lbm/agencyaccess/")
    admin.click("#lbm-agency-grant")
    admin.select_option("#id_client", str(world["client"].pk))
    admin.select_option("#id_agency", str(world["firm"].pk))
    admin.select_option("#id_role", "operator")
    admin.fill("#id_ends_on", (timezone.localdate() + timedelta(days=90)).isoformat())
    admin.check(f"input[name=accounts][value='{world['shop'].pk}']")
    admin.fill("#id_reason", "年度代操")
    admin.click("#lbm-agency-submit")
    admin.wait_for_url("**/agencyaccess/*/change/")
    assert "代理商的管理員接受後生效" in admin.locator(".messagelist").inner_text()
    access = AgencyAccess.objects.get()
    assert access.status == "pending" and list(access.accounts.all()) == [world["shop"]]

    firm_admin = new_page("zh-hant")
    sign_in(firm_admin, world["firm"].contact.username, factories.PASSWORD)
    firm_admin.goto(f"/admin/lbm/agencyaccess/{access.pk}/change/")
    firm_admin.click("#lbm-agency-accept")
    membership = Membership.objects.get(user=world["worker"], organization=world["firm"])
    firm_admin.check(f"input[name=members][value='{membership.pk}']")
    firm_admin.click("#lbm-agency-submit")
    firm_admin.wait_for_url(f"**/agencyaccess/{access.pk}/change/")
    assert "已接受授權" in firm_admin.locator(".messagelist").inner_text()
    access.refresh_from_db()
    assert access.status == "active" and access.assignments.get().membership == membership


def test_agency_member_uploads_for_the_client_and_sees_only_the_granted_account(
    new_page, world, tmp_path
):
    _grant_and_accept(new_page, world)
    path = tmp_path / "members.csv"
    path.write_bytes("".join(f"{p}\r\n" for p in af.phones(50)).encode())
    page = new_page()
    sign_in(page, world["worker"].username, factories.PASSWORD)
    page.goto("/admin/audiences/audience/import/")
    page.check("#id_mode_0")
    page.select_option("#id_organization", str(world["client"].pk))
    page.fill("#id_name", "代理商上傳名單")
    page.select_option("#id_id_type", "phone")
    page.set_input_files("#id_import_file", str(path))
    page.click("#lbm-upload-submit")
    page.wait_for_url("**/audienceupload/*/progress/")
    page.wait_for_selector("#upload-summary")
    page.click("#upload-confirm")
    page.wait_for_selector("#upload-status[data-status=done]")
    audience = Audience.objects.get(name="代理商上傳名單")
    assert audience.organization == world["client"] and audience.size == 50
    assert AudienceUpload.objects.get().created_by == world["worker"]

    page.goto("/admin/lbm/account/")
    listing = page.locator("#result_list").inner_text()
    assert world["shop"].name in listing
    assert world["cafe"].name not in listing
    response = page.goto(f"/admin/lbm/account/{world['cafe'].pk}/change/")
    assert response.status == 404
    response = page.goto(f"/admin/lbm/account/{world['shop'].pk}/change/")
    assert response.status == 200
