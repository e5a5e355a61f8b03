"""The LINE staff's journeys in zh-Hant on the demo data (``seed_demo``, ``seed_billing``,
``seed_notifications``), in headless Chromium, a screenshot per step under var/browser/:

- the reviewer sees every queue on the dashboard, approves an organization with a note,
  rejects a LON application with a reason (after being told the reason is required) and
  approves another with a note; the applicants see the note and the reason;
- the account manager puts an Official Account on a plan: the first try is refused (the
  customer has no payment method) and the form keeps what was typed, with the refusal next to
  the customer field; with the right customer it is saved.
"""

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from billing.models import BillingCustomer, Subscription
from lbm.management.commands.seed_demo import DEMO_PASSWORD
from lbm.models import Account, Organization
from notifications.models import Application
from tests.browser.artefacts import Steps
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NOTE = "資料齊全，歡迎使用 LINE 企業管理平台。"


@pytest.fixture
def demo(transactional_db):
    for name in ("seed_demo", "seed_billing", "seed_notifications"):
        call_command(name, stdout=io.StringIO())


def _confirm(page, text: str) -> None:
    page.fill("textarea[name=reason]", text)
    page.click("#lbm-confirm")


def test_reviewer_approves_and_rejects_from_the_review_pages(demo, new_page):
    steps = Steps("reviewer")
    page = new_page("zh-TW")
    sign_in(page, "reviewer", DEMO_PASSWORD)
    backlog = page.locator("#lbm-backlog")
    assert "待審核項目" in backlog.inner_text()
    for key in ("organizations", "account_links", "lon_applications", "lon_templates"):
        assert backlog.locator(f".lbm-queue-{key}").count() == 1
    assert "通知型訊息申請" in backlog.inner_text()
    assert backlog.locator(".lbm-queue-organizations .lbm-overdue").inner_text() == "⚠ 1"
    steps.shot(page, "dashboard backlog")
    for language, probe in (("zh-TW", page), ("en", new_page("en"))):
        if probe is not page:
            sign_in(probe, "reviewer", DEMO_PASSWORD)
        probe.set_viewport_size({"width": 1366, "height": 900})
        table = probe.locator("#lbm-backlog table")
        fits = table.evaluate(
            "t => t.scrollWidth <= t.clientWidth && [...t.querySelectorAll("
            "'th, td')].every(c => c.scrollWidth <= c.clientWidth)"
        )
        assert fits and probe.evaluate("document.documentElement.scrollWidth") <= 1366, language
        header = probe.locator("#lbm-backlog thead th")
        assert header.count() == 4
    steps.shot(probe, "dashboard backlog in english at 1366 px")

    # An organization: approve with a note.
    page.click("#lbm-backlog .lbm-queue-organizations a")
    page.click("#result_list a:has-text('兔兔流行服飾')")
    assert page.locator("#lbm-approve").inner_text() == "核准…"
    steps.shot(page, "organization review page")
    page.click("#lbm-approve")
    assert "給申請者的備註（選填）" in page.locator("#content form").inner_text()
    _confirm(page, NOTE)
    assert "已核准 1 個項目。" in page.locator("ul.messagelist").inner_text()
    steps.shot(page, "organization approved")
    bunny = Organization.objects.get(name="兔兔流行服飾")
    assert (bunny.status, bunny.review_reason) == ("approved", NOTE)

    # A LON application: reject, first without a reason, then with one.
    page.goto("/admin/notifications/applicationreview/")
    page.click("#result_list a:has-text('熊大餐廳 板橋店')")
    steps.shot(page, "lon application review page")
    page.click("#lbm-reject")
    _confirm(page, "")
    assert "必須填寫原因" in page.locator(".errorlist").inner_text()
    steps.shot(page, "reject needs a reason")
    _confirm(page, "使用情境說明不足，請補充通知的觸發時機。")
    assert "已拒絕 1 個項目。" in page.locator("ul.messagelist").inner_text()
    steps.shot(page, "lon application rejected")

    # Another: approve (contract → testing) with a note.
    page.click("#result_list a:has-text('熊大餐廳 台中店')")
    assert page.locator("#lbm-approve").inner_text() == "核准：進入下一階段…"
    page.click("#lbm-approve")
    _confirm(page, "合約與保密協議已收到。")
    assert "已核准 1 個項目。" in page.locator("ul.messagelist").inner_text()
    steps.shot(page, "lon application approved")
    rejected = Application.objects.get(account__basic_id="@bxy1002b")
    assert (rejected.stage, rejected.review_reason) == (
        "rejected",
        "使用情境說明不足，請補充通知的觸發時機。",
    )
    moved = Application.objects.get(account__basic_id="@bxy1003c")
    assert (moved.stage, moved.review_reason) == ("testing", "合約與保密協議已收到。")

    # The applicants see the note and the reason.
    applicant = new_page("zh-TW")
    sign_in(applicant, "bunny_admin", DEMO_PASSWORD)
    applicant.goto(f"/admin/lbm/organization/{bunny.pk}/change/")
    assert "資料齊全，歡迎使用" in applicant.locator("#content").inner_text()
    steps.shot(applicant, "applicant sees the note")
    bear = new_page("zh-TW")
    sign_in(bear, "bear_admin", DEMO_PASSWORD)
    bear.goto(f"/admin/notifications/application/{rejected.pk}/change/")
    assert "請補充通知的觸發時機" in bear.locator("#content").inner_text()
    steps.shot(bear, "applicant sees the reason")


def test_account_manager_puts_an_official_account_on_a_plan(demo, new_page):
    steps = Steps("account-manager")
    coffee = Account.objects.get(basic_id="@cof7788q")  # 熊大咖啡: no plan yet
    bare = BillingCustomer.objects.get(name="熊大外送（個人帳務）")  # nothing registered
    paid = BillingCustomer.objects.get(name="熊大餐飲股份有限公司")
    page = new_page("zh-TW")
    sign_in(page, "accountmanager", DEMO_PASSWORD)
    page.goto("/admin/billing/subscription/")
    steps.shot(page, "subscriptions")
    page.goto("/admin/billing/subscription/add/")
    page.fill("#id_account", str(coffee.pk))
    page.fill("#id_customer", str(bare.pk))
    page.select_option("#id_plan_code", "high")
    page.fill("#id_started_on", timezone.localdate().isoformat())
    page.fill("#id_monthly_limit", "20000")
    steps.shot(page, "add form filled in")
    page.click("input[name=_save]")

    # Refused by the service: the error is next to the customer field, the input is kept.
    error = page.locator(".field-customer .errorlist")
    assert "此方案尚無法購買。" in error.inner_text()
    assert "請先登錄信用卡或LINE Pay作為付款方式。" in error.inner_text()
    assert page.input_value("#id_monthly_limit") == "20000"
    assert page.input_value("#id_account") == str(coffee.pk)
    assert page.locator("#id_plan_code").input_value() == "high"
    assert not Subscription.objects.filter(account=coffee).exists()
    steps.shot(page, "refused form keeps the input")

    page.fill("#id_customer", str(paid.pk))
    page.click("input[name=_save]")
    page.locator("ul.messagelist .success").wait_for()  # the page after the redirect
    assert page.locator("ul.messagelist .success").count() == 1
    steps.shot(page, "subscription added")
    sub = Subscription.objects.get(account=coffee)
    assert (sub.plan.code, sub.customer, sub.monthly_limit) == ("high", paid, 20000)

    # Money reads like money on the invoices.
    page.goto("/admin/billing/invoice/")
    listing = page.locator("#result_list").inner_text()
    assert "NT$" in listing and ".0000" not in listing
    steps.shot(page, "invoices in NT$")
