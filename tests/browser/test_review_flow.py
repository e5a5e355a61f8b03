"""A reviewer rejects an organization with a reason; the customer Admin sees the reason, fixes
the information and resubmits; the reviewer approves it — all in headless Chromium."""

import pytest

from lbm.models import Organization
from tests import factories
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _run_action(page, row_text: str, action: str) -> None:
    row = page.locator("#result_list tbody tr", has_text=row_text)
    row.locator("input.action-select").check()
    page.select_option("select[name=action]", action)
    page.click("button[name=index]")


def test_reject_fix_resubmit_approve(new_page):
    admin = factories.UserFactory(username="wang.daming", email="wang@bear.example")
    org = factories.organization(
        admin=admin, state="pending", name="熊大餐飲集團", address="台北市信義區錯誤路 0 號"
    )
    factories.reviewer(username="lin.reviewer")

    reviewer_page = new_page()
    sign_in(reviewer_page, "lin.reviewer", factories.PASSWORD)
    backlog = reviewer_page.locator("#lbm-backlog .lbm-queue-organizations .lbm-pending")
    assert backlog.inner_text() == "1"
    reviewer_page.click("#lbm-backlog a:has-text('Organizations')")
    _run_action(reviewer_page, "熊大餐飲集團", "reject")
    reviewer_page.fill("textarea[name=reason]", "公司地址與商工登記不符，請更正。")
    reviewer_page.click("#lbm-confirm")
    assert "1 item(s) rejected" in reviewer_page.locator("ul.messagelist").inner_text()

    customer_page = new_page()
    sign_in(customer_page, "wang.daming", factories.PASSWORD)
    customer_page.click("a:has-text('Organizations')")
    customer_page.click("#result_list a:has-text('熊大餐飲集團')")
    assert "公司地址與商工登記不符" in customer_page.locator(".lbm-rejection").inner_text()
    customer_page.fill("#id_address", "台北市信義區松高路 11 號")
    customer_page.click("input[name=_save]")
    assert "changed successfully" in customer_page.locator("ul.messagelist").inner_text()
    _run_action(customer_page, "熊大餐飲集團", "submit_for_review")
    assert "submitted for review" in customer_page.locator("ul.messagelist").inner_text()

    reviewer_page.goto("/admin/lbm/organizationreview/")
    _run_action(reviewer_page, "熊大餐飲集團", "approve")
    assert "1 item(s) approved" in reviewer_page.locator("ul.messagelist").inner_text()

    org.refresh_from_db()
    assert org.status == Organization.Status.APPROVED
    assert org.address == "台北市信義區松高路 11 號"
    reasons = list(
        org.history.order_by("history_date").values_list("history_change_reason", flat=True)
    )
    assert reasons[-3:] == ["Edited: address", "Resubmitted for review", "Approved"]
