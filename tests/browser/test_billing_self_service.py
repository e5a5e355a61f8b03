"""An Official Account's administrator, in zh-Hant, registers e-invoice details and a card,
upgrades Medium → High with a promotion code, sees NT$400 deducted (NT$800 forfeited) before
confirming, and the quota at 6,000 after (docs/billing.md#official-account-administrators)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from billing import selfservice, services
from billing.models import BillingCustomer, PaymentMethod, PromotionCode, Subscription
from tests import factories
from tests.billing.factories import subscription
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_administrator_upgrades_medium_to_high_with_a_code(new_page):
    manager = factories.account_manager()
    sub = subscription(
        plan="medium", actor=manager, started_on=timezone.localdate() - timedelta(days=40)
    )
    BillingCustomer.objects.filter(pk=sub.customer_id).update(
        business_number="", invoice_title="", payment_method="none"
    )
    admin = factories.UserFactory(username="oa.admin")
    selfservice.administrator_grant(account_id=sub.account_id, user=admin, actor=manager)
    today = timezone.localdate()
    services.promotion_code_create(
        code="LINE1200",
        valid_from=today - timedelta(days=30),
        valid_until=today + timedelta(days=30),
        actor=manager,
    )

    page = new_page("zh-hant")
    sign_in(page, "oa.admin", factories.PASSWORD)
    page.goto(f"/admin/billing/accountadministrator/account/{sub.account_id}/")
    assert page.locator("#ss-quota").inner_text() == "3,000"
    page.fill("#id_einvoice-name", "王小明")
    page.fill("#id_einvoice-carrier", "/ABC1234")
    page.click("#ss-einvoice-save")
    assert "王小明" in page.locator("#ss-buyer").inner_text()
    page.select_option("#id_payment-kind", "credit_card")
    page.fill("#id_payment-gateway_token", "tok_visa_test")
    page.fill("#id_payment-last4", "4242")
    page.click("#ss-payment-add")
    assert page.locator("#ss-method").inner_text().endswith("•••• 4242")
    page.select_option("#id_plan-plan_code", "high")
    page.fill("#id_plan-promotion_code", "line1200")
    page.click("#ss-preview-button")
    assert page.locator("#ss-deducted").inner_text() == "NT$400"
    assert page.locator("#ss-forfeited").inner_text() == "NT$800"
    assert page.locator("#ss-preview-quota").inner_text() == "6,000"
    assert page.locator("#ss-total").inner_text() == "NT$0"
    page.check("#ss-terms")
    page.click("#ss-confirm")
    page.wait_for_selector("ul.messagelist")
    assert page.locator("#ss-quota").inner_text() == "6,000"
    assert page.locator("#ss-plan").inner_text() == "高用量"
    code = PromotionCode.objects.get()
    assert (code.status, code.deducted, code.forfeited) == ("redeemed", 400, 800)
    assert Subscription.objects.get(pk=sub.pk).plan.code == "high"
    assert PaymentMethod.objects.get().gateway_token == "tok_visa_test"
