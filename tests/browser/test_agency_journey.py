"""An agency's member at work (docs/organizations.md#agencies): the client's Admin grants the
agency Operator access to one of its two accounts and the agency's Admin assigns the member
(through lbm.agency: the admin has no grant form yet); the member uploads an audience in the
client's organization, sees the one account only, and the other account's page is a 404."""

import pytest

from audiences.models import Audience, AudienceUpload
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
    access = factories.agency_access(client, firm, role="operator", accounts=[shop],
                                     members=[worker])
    return {"client": client, "worker": worker, "shop": shop, "cafe": cafe, "access": access}


def test_agency_member_uploads_for_the_client_and_sees_only_the_granted_account(
        new_page, world, tmp_path):
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
