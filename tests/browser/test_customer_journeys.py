"""The customer's journeys in zh-Hant on the demo data (``seed_demo``), one per kind of
customer: the Admin invites a member (who creates a sign-in and accepts) and uploads an
audience through its summary; the Operator uploads e-mail addresses; the view-only User sees
the audiences and is told why there is no upload. A screenshot per step goes to
``var/screenshots/customer/``."""

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.core import mail
from django.core.management import call_command

from audiences.models import Audience, AudienceUpload
from lbm.models import Membership, Organization
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DEMO_PASSWORD = "lbm-demo-2026!"
SHOTS = Path(settings.BASE_DIR) / "var" / "screenshots" / "customer"


class Shots:
    def __init__(self, page, journey: str):
        self.page, self.dir, self.n = page, SHOTS / journey, 0
        self.dir.mkdir(parents=True, exist_ok=True)

    def __call__(self, step: str) -> None:
        self.n += 1
        self.page.screenshot(path=str(self.dir / f"{self.n:02d}-{step}.png"), full_page=True)


@pytest.fixture
def demo(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    call_command("seed_demo", stdout=open("/dev/null", "w"))
    return Organization.objects.get(name="熊大餐飲集團")


def _upload(page, shot, path, *, name, expected_type, sample):
    page.click("#lbm-upload-link")
    page.wait_for_selector("#lbm-upload-form")
    assert page.locator("#id_organization option:checked").inner_text() == "熊大餐飲集團"
    assert page.locator(".field-audience").is_hidden()  # only the chosen mode's fields
    page.fill("#id_name", name)
    page.set_input_files("#id_import_file", str(path))
    page.wait_for_selector("#lbm-id-type-guess:has-text('依檔案前幾行判斷為')")
    assert page.locator("#id_id_type").input_value() == expected_type
    shot("form-with-guessed-type")
    page.click("#lbm-upload-submit")
    page.wait_for_selector("#upload-summary")
    assert "匯入前請確認" in page.inner_text("#upload-summary")
    assert sample in page.inner_text("#summary-samples")
    shot("summary")
    return page


def test_admin_invites_a_member_and_uploads_an_audience(new_page, demo, tmp_path):
    page = new_page("zh-hant")
    shot = Shots(page, "admin")
    sign_in(page, "bear_admin", DEMO_PASSWORD)
    # Invite a member by e-mail.
    page.goto("/admin/lbm/membership/")
    # No "add by username" button, only the invitation.
    assert page.locator(".object-tools a.addlink:not(#lbm-invite-link)").count() == 0
    page.click("#lbm-invite-link")
    assert page.locator("#id_organization option:checked").inner_text() == "熊大餐飲集團"
    page.fill("#id_email", "amy.lin@bearfood.example")
    page.select_option("#id_role", "operator")
    shot("invite-form")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    assert "a***@bearfood.example" in page.inner_text(".messagelist")
    assert "等待對方接受" in page.inner_text("#result_list")
    shot("invitation-sent")
    # The invited person opens the link, creates a sign-in and accepts.
    link = re.search(r"https?://\S+/lbm/invitation/\S+/", mail.outbox[-1].body).group(0)
    path = "/" + link.split("/", 3)[3]
    guest = new_page("zh-hant")
    guest_shot = Shots(guest, "invitee")
    guest.goto(path)
    assert "熊大餐飲集團" in guest.inner_text("#lbm-invitation")
    guest_shot("invitation")
    guest.click("#lbm-invitation-register")
    guest.fill("#id_email", "amy.lin@bearfood.example")
    guest.fill("#id_username", "amy_lin")
    guest.fill("#id_password1", "Bear-food-2026!")
    guest.fill("#id_password2", "Bear-food-2026!")
    guest_shot("register")
    guest.click("#lbm-register-submit")
    guest.wait_for_selector("#lbm-invitation-accept")
    assert not Membership.objects.filter(user__username="amy_lin").exists()  # not yet
    guest_shot("accept")
    guest.click("#lbm-invitation-accept")
    guest.wait_for_selector(".messagelist")
    assert "您已成為「熊大餐飲集團」的成員" in guest.inner_text(".messagelist")
    guest_shot("member")
    assert Membership.objects.get(user__username="amy_lin").role == "operator"
    # Upload an audience: summary, confirm, done.
    ids = tmp_path / "門市會員.csv"
    ids.write_bytes(
        b"\xef\xbb\xbf" + "".join(f"09{n:08d}\r\n" for n in range(12345678, 12345978)).encode()
    )
    page.goto("/admin/audiences/audience/")
    _upload(page, shot, ids, name="門市會員", expected_type="phone", sample="0912***678")
    assert page.inner_text("#summary-count") == "300"
    assert page.inner_text("#summary-new") == "300"
    page.click("#upload-confirm")
    page.wait_for_selector("#upload-done")
    assert "已新增 300 個至受眾" in page.inner_text("#upload-result")
    shot("done")
    page.click("#upload-audience-link")
    page.wait_for_selector("text=門市會員")
    shot("audience")
    assert Audience.objects.get(name="門市會員").size == 300
    assert not AudienceUpload.objects.get().file  # the raw file is gone


def test_operator_uploads_e_mail_addresses_and_a_refused_file(new_page, demo, tmp_path):
    page = new_page("zh-hant")
    shot = Shots(page, "operator")
    sign_in(page, "bear_operator", DEMO_PASSWORD)
    bad = tmp_path / "bad.txt"
    bad.write_text("amy@example.com\nnot-an-address\namy@example.com\n", encoding="utf-8")
    page.goto("/admin/audiences/audience/")
    page.click("#lbm-upload-link")
    page.fill("#id_name", "電子報訂戶")
    page.set_input_files("#id_import_file", str(bad))
    page.wait_for_selector("#lbm-id-type-guess:has-text('依檔案前幾行判斷為')")
    page.click("#lbm-upload-submit")
    page.wait_for_selector("#upload-failed")
    error = page.inner_text("#upload-error")
    assert "2" in error and "3" in error and "檔案" in page.inner_text("#upload-failed")
    shot("refused-file")
    page.click("#upload-again-link")
    assert page.locator("#id_name").input_value() == "電子報訂戶"  # the form again, filled
    good = tmp_path / "ok.txt"
    good.write_text("".join(f"member{n}@example.com\n" for n in range(120)), encoding="utf-8")
    page.set_input_files("#id_import_file", str(good))
    page.wait_for_selector("#lbm-id-type-guess:has-text('依檔案前幾行判斷為')")
    assert page.locator("#id_id_type").input_value() == "email"
    page.click("#lbm-upload-submit")
    page.wait_for_selector("#upload-summary")
    assert "m***@example.com" in page.inner_text("#summary-samples")
    assert "@example.com" not in page.inner_text("#summary-samples").replace("m***@example.com", "")
    shot("summary")
    page.click("#upload-confirm")
    page.wait_for_selector("#upload-done")
    shot("done")
    assert Audience.objects.get(name="電子報訂戶").size == 120


def test_viewer_sees_the_audiences_and_why_there_is_no_upload(new_page, demo, monkeypatch):
    from audiences.management.commands import seed_audiences

    monkeypatch.setattr(seed_audiences, "USERS", 6_000)  # the demo's audiences, fewer users
    call_command("seed_audiences", stdout=open("/dev/null", "w"))
    names = list(Audience.objects.filter(organization=demo).values_list("name", flat=True))
    assert names
    page = new_page("zh-hant")
    shot = Shots(page, "viewer")
    sign_in(page, "bear_viewer", DEMO_PASSWORD)
    page.goto("/admin/audiences/audience/")
    assert page.locator("#lbm-upload-link").count() == 0
    assert names[0] in page.inner_text("#result_list")
    refusal = page.inner_text("#lbm-upload-refusal")
    assert "使用者（僅檢閱）" in refusal and "管理員" in refusal
    shot("audiences")
    page.goto("/admin/audiences/audience/import/")
    assert "不能上傳" in page.inner_text("#lbm-upload-refusal")
    shot("upload-refused")
