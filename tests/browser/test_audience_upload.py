"""An Operator uploads a file of phone numbers in the admin, confirms the summary and watches
the progress bar."""

import pytest

from audiences.models import Audience, AudienceUpload
from tests import factories
from tests.audiences import factories as af
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def operator(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    org = factories.organization(state="approved", name="熊大餐飲集團")
    return org, factories.member(org, "operator")


def test_upload_shows_progress_until_done(new_page, operator, tmp_path):
    org, user = operator
    path = tmp_path / "members.csv"
    path.write_bytes(b"\xef\xbb\xbf" + "".join(f"{p}\r\n" for p in af.phones(500)).encode())
    page = new_page()
    sign_in(page, user.username, factories.PASSWORD)
    page.goto("/admin/audiences/audience/")
    page.click("a.import_link")
    page.check("#id_mode_0")
    page.select_option("#id_organization", str(org.pk))
    page.fill("#id_name", "門市會員")
    page.select_option("#id_id_type", "phone")
    page.set_input_files("#id_import_file", str(path))
    page.click("#lbm-upload-submit")
    page.wait_for_url("**/audienceupload/*/progress/")
    page.wait_for_selector("#upload-summary")
    assert page.inner_text("#summary-count") == "500"
    assert not Audience.objects.filter(name="門市會員").exists()  # not before the confirmation
    page.click("#upload-confirm")
    page.wait_for_selector("#upload-status[data-status=done]")
    assert page.locator("#upload-result").inner_text().startswith("500")
    page.click("#upload-audience-link")
    page.wait_for_selector("text=門市會員")
    assert Audience.objects.get(name="門市會員").size == 500
    assert AudienceUpload.objects.get().status == "done"


def test_bad_file_shows_the_failing_line(new_page, operator, tmp_path):
    org, user = operator
    path = tmp_path / "bad.txt"
    path.write_bytes(b"0912345678\n0912345678\n")
    page = new_page()
    sign_in(page, user.username, factories.PASSWORD)
    page.goto("/admin/audiences/audience/import/")
    page.select_option("#id_organization", str(org.pk))
    page.fill("#id_name", "壞檔")
    page.select_option("#id_id_type", "phone")
    page.set_input_files("#id_import_file", str(path))
    page.click("#lbm-upload-submit")
    page.wait_for_selector("#upload-status[data-status=failed]")
    assert "Line 2: duplicate of line 1" in page.locator("#upload-error").inner_text()
    assert page.locator("#upload-again-link").is_visible()
    assert not Audience.objects.filter(name="壞檔").exists()
