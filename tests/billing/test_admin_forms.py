"""The account manager's forms: a subscription is added from its page, a refused form keeps what
was typed and shows the service's refusal next to its field, money reads like money."""

from datetime import date
from decimal import Decimal

import pytest
from django.urls import reverse

from billing import services
from billing.models import (
    BillingCustomer,
    CreditNote,
    GovernmentContract,
    Invoice,
    Plan,
    PlanChange,
    Subscription,
)
from tests import factories

from .factories import customer, send, subscription, taipei

pytestmark = pytest.mark.django_db

ADD = "admin:billing_subscription_add"


def _add_form(account, customer_obj, **overrides):
    data = {
        "account": account.pk,
        "customer": customer_obj.pk,
        "plan_code": "medium",
        "contract": "",
        "started_on": "2025-03-01",
        "target_friends": "",
        "premium_id_since": "",
        "monthly_limit": "",
    }
    data.update(overrides)
    return data


def test_the_add_page_opens_and_puts_an_official_account_on_a_plan(client, manager):
    client.force_login(manager)
    assert client.get(reverse(ADD)).status_code == 200  # was a 500 (__str__ without a plan)
    account, buyer = factories.AccountFactory(), customer()
    response = client.post(reverse(ADD), _add_form(account, buyer, monthly_limit="2500"))
    assert response.status_code == 302, response.content.decode()[:3000]
    sub = Subscription.objects.get(account=account)
    assert (sub.plan.code, sub.customer, sub.started_on) == ("medium", buyer, date(2025, 3, 1))
    assert sub.monthly_limit == 2500  # typed on the add form, kept
    assert PlanChange.objects.get(subscription=sub).created_by == manager
    assert sub.history.filter(history_user=manager).exists()


def test_a_refused_add_keeps_the_input_and_shows_the_error_by_its_field(client, manager):
    """A paid plan needs the customer's payment method and e-invoice details: the service
    refuses, naming the customer field; nothing is saved and the typed values stay."""
    client.force_login(manager)
    account = factories.AccountFactory()
    bare = BillingCustomer.objects.create(name="尚未登記的客戶")
    response = client.post(
        reverse(ADD), _add_form(account, bare, monthly_limit="12345", plan_code="high")
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "customer" in form.errors
    assert "This plan cannot be bought yet." in form.errors["customer"][0]
    assert any("payment method" in m for m in form.errors["customer"])
    assert form["monthly_limit"].value() == "12345" and form["plan_code"].value() == "high"
    assert 'value="12345"' in response.content.decode()
    assert not Subscription.objects.filter(account=account).exists()


def test_a_government_plan_without_its_contract_is_refused_on_the_contract_field(client, manager):
    client.force_login(manager)
    account = factories.AccountFactory()
    response = client.post(reverse(ADD), _add_form(account, customer(), plan_code="gov_a"))
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["contract"] == [
        "A government plan needs its government contract."
    ]


def test_an_invalid_promotion_code_on_a_plan_change_stays_on_its_field(client, manager):
    sub = subscription(plan="light", actor=manager)
    client.force_login(manager)
    url = reverse("admin:billing_subscription_change", args=[sub.pk])
    response = client.post(
        url,
        {
            "new_plan": "high",
            "promotion_code": "NOSUCHCODE",
            "reason": "旺季",
            "premium_id_since": "",
            "monthly_limit": "",
        },
    )
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["promotion_code"] == ["This promotion code does not exist."]
    assert form["reason"].value() == "旺季"
    sub.refresh_from_db()
    assert sub.plan.code == "light"  # the refused change rolled back
    assert not PlanChange.objects.filter(kind="upgrade").exists()


def test_e_invoice_details_are_checked_once_by_the_service_and_shown_per_field(client, manager):
    client.force_login(manager)
    response = client.post(
        reverse("admin:billing_billingcustomer_add"),
        {
            "name": "熊大",
            "organization": "",
            "business_number": "12345678",
            "country": "TW",
            "payment_method": "credit_card",
            "invoice_title": "",
            "invoice_carrier": "",
            "donation_code": "",
            "invoice_email": "",
        },
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "business_number" in errors and "invoice_title" in errors
    assert not BillingCustomer.objects.filter(name="熊大").exists()


def test_a_government_contract_is_added_from_its_page(client, manager):
    client.force_login(manager)
    main = factories.AccountFactory(name="臺北市政府")
    buyer = customer(name="臺北市政府資訊局")
    url = reverse("admin:billing_governmentcontract_add")
    page = client.get(url)
    assert page.status_code == 200
    prefix = page.context["inline_admin_formsets"][0].formset.prefix
    management = {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0"}
    plan = Plan.objects.get(code="gov_a")
    data = {
        "customer": buyer.pk,
        "plan": plan.pk,
        "main_account": main.pk,
        "starts_on": "2025-01-01",
        "ends_on": "2025-12-31",
        **management,
    }  # A: from July
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["starts_on"] == [
        "This plan is for contracts starting from 2025-07-01 to 2026-12-31."
    ]
    assert refused.context["adminform"].form["ends_on"].value() == "2025-12-31"
    data.update(starts_on="2025-07-01", ends_on="2026-06-30")
    assert client.post(url, data).status_code == 302
    contract = GovernmentContract.objects.get(customer=buyer)
    # Proposed: nothing takes effect until a second account manager approves it.
    assert contract.approval.status == "pending"
    assert not Subscription.objects.filter(account=main).exists()
    client.force_login(factories.account_manager(username="second_manager"))
    decide = reverse("admin:billing_secondapproval_decide", args=[contract.approval_id, "approve"])
    assert client.post(decide, {"confirm": "yes", "reason": ""}).status_code == 302
    assert Subscription.objects.get(account=main).contract == contract


def test_money_and_counts_read_with_separators_in_lists(client, manager):
    sub = subscription(plan="light", actor=manager)
    services.subscription_change_plan(subscription_id=sub.pk, plan_code="high", actor=manager)
    client.force_login(manager)
    body = client.get(reverse("admin:billing_planchange_changelist")).content.decode()
    assert "NT$1,200" in body and ".0000" not in body  # the upgrade's charge
    plans = client.get(reverse("admin:billing_plan_changelist")).content.decode()
    assert "NT$300,000" in plans and "6,000" in plans and ".0000" not in plans


def test_money_and_count_helpers():
    from lbm.formatting import count, money

    assert money(Decimal("1200.0000")) == "NT$1,200"
    assert money(Decimal("0.2000")) == "NT$0.2"
    assert money(Decimal("-400")) == "-NT$400"
    assert count(1234567) == "1,234,567"


def test_a_duplicate_promotion_code_is_refused_on_the_code_field(client, manager):
    services.promotion_code_create(
        code="TAKEN1", valid_from=date(2025, 1, 1), valid_until=date(2025, 12, 31), actor=manager
    )
    client.force_login(manager)
    url = reverse("admin:billing_promotioncode_add")
    data = {"code": "taken1", "valid_from": "2025-01-01", "valid_until": "2025-12-31"}
    refused = client.post(url, data)
    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors["code"] == [
        "This promotion code already exists."
    ]
    data["code"] = "FRESH1"
    assert client.post(url, data).status_code == 302


def test_a_credit_note_larger_than_the_invoice_is_refused_on_the_amount(client, manager):
    sub = subscription(plan="high", actor=manager)
    send(sub.account_id, 10, taipei(2025, 2, 10, 12))
    services.bill_month(period=date(2025, 2, 1), actor=manager)
    invoice = Invoice.objects.get(customer=sub.customer, period=date(2025, 2, 1))
    client.force_login(manager)
    url = reverse("admin:billing_creditnote_add")
    data = {
        "invoice": invoice.pk,
        "kind": "credit",
        "einvoice_action": "",
        "amount": str(invoice.total + 1),
        "reason": "補償",
    }
    refused = client.post(url, data)
    assert refused.status_code == 200
    errors = refused.context["adminform"].form.errors["amount"]
    assert errors == [
        f"A credit of NT${invoice.total + 1:,} is more than the "
        f"NT${invoice.total:,} this invoice still bills."
    ]
    assert not CreditNote.objects.exists()
