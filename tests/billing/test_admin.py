"""Billing admin: account managers can, reviewers and customers cannot."""

from datetime import date

import pytest
from django.urls import reverse

from billing import services
from billing.models import Invoice, PlanChange, PromotionCode
from tests import factories

from .factories import government_contract, send, subscription, taipei

pytestmark = pytest.mark.django_db

PAGES = [
    "plan",
    "pricetier",
    "billingcustomer",
    "subscription",
    "planchange",
    "usagerecord",
    "promotioncode",
    "governmentcontract",
    "invoice",
    "creditnote",
    "billingrun",
    "addonprice",
    "governmentaccount",
    "governmentrenewal",
]


@pytest.fixture
def customer_admin(db):
    org = factories.organization(verified=False)  # a customer Admin (draft org)
    return org.memberships.get().user


@pytest.mark.parametrize("page", PAGES)
def test_account_manager_sees_every_billing_page(client, manager, page):
    client.force_login(manager)
    assert client.get(reverse(f"admin:billing_{page}_changelist")).status_code == 200


@pytest.mark.parametrize("page", PAGES)
def test_reviewer_and_customer_see_no_billing_page(client, reviewer, customer_admin, page):
    for user in (reviewer, customer_admin):
        client.force_login(user)
        assert client.get(reverse(f"admin:billing_{page}_changelist")).status_code == 403


def test_billing_is_not_on_the_index_for_reviewers_or_customers(
    client, manager, reviewer, customer_admin
):
    client.force_login(manager)
    assert b"/admin/billing/invoice/" in client.get(reverse("admin:index")).content
    for user in (reviewer, customer_admin):
        client.force_login(user)
        assert b"/admin/billing/" not in client.get(reverse("admin:index")).content


def test_subscription_page_charts_the_months_usage_against_the_quota(client, manager):
    sub = subscription(plan="medium", actor=manager)
    send(sub.account_id, 1234, taipei(2025, 3, 31, 23, 30))  # counts on 1 April (Japan)
    client.force_login(manager)
    url = reverse("admin:billing_subscription_change", args=[sub.pk])
    response = client.get(url, {"month": "2025-04"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "billing/chart.umd.js" in body and 'id="billing-usage-chart"' in body
    chart = response.context["usage_chart"]
    assert chart["quota"] == 3000
    assert chart["labels"][0] == "2025-04-01" and chart["daily"][0] == 1234
    assert chart["cumulative"][-1] == 1234
    assert response.context["usage_month"].messages == 1234


def test_account_manager_upgrades_through_the_admin_with_who_and_why(client, manager):
    sub = subscription(plan="light", actor=manager)
    client.force_login(manager)
    url = reverse("admin:billing_subscription_change", args=[sub.pk])
    response = client.post(
        url,
        {
            "new_plan": "high",
            "promotion_code": "",
            "reason": "旺季",
            "chat_advanced": "on",
            "premium_id_since": "",
            "monthly_limit": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    change = PlanChange.objects.get(kind="upgrade")
    assert (change.to_plan.code, change.created_by, change.reason) == ("high", manager, "旺季")
    sub.refresh_from_db()
    assert sub.chat_advanced and sub.plan.code == "high"
    assert sub.history.filter(history_user=manager).exists()


def test_reviewer_cannot_post_a_plan_change(client, manager, reviewer):
    sub = subscription(plan="light", actor=manager)
    client.force_login(reviewer)
    url = reverse("admin:billing_subscription_change", args=[sub.pk])
    response = client.post(url, {"new_plan": "high", "chat_advanced": "", "monthly_limit": ""})
    assert response.status_code == 404  # reviewers do not see subscriptions: no id confirmed
    assert not PlanChange.objects.filter(kind="upgrade").exists()


def test_invoice_is_read_only_in_the_admin_and_shows_the_rounding_rule(client, manager):
    subscription(plan="high", actor=manager)
    services.bill_month(period=date(2025, 3, 1))
    invoice = Invoice.objects.get()
    client.force_login(manager)
    url = reverse("admin:billing_invoice_change", args=[invoice.pk])
    body = client.get(url).content.decode()
    assert "ROUND_HALF_UP" in body and 'name="total"' not in body
    assert client.post(url, {"total": "1"}).status_code == 403
    invoice.refresh_from_db()
    assert invoice.total == 1260


def test_run_billing_page_for_account_managers_only(client, manager, reviewer):
    subscription(plan="medium", actor=manager)
    url = reverse("admin:billing_invoice_run")
    client.force_login(reviewer)
    assert client.post(url, {"period": "2025-03"}).status_code == 403
    client.force_login(manager)
    assert client.get(url).status_code == 200
    response = client.post(url, {"period": "2025-03"})
    assert response.status_code == 302
    assert Invoice.objects.count() == 1
    client.post(url, {"period": "2025-03"})
    assert Invoice.objects.count() == 1


def test_account_manager_adds_a_promotion_code_reviewer_cannot(client, manager, reviewer):
    url = reverse("admin:billing_promotioncode_add")
    data = {"code": "tw2025", "valid_from": "2025-01-01", "valid_until": "2025-12-31"}
    client.force_login(reviewer)
    assert client.post(url, data).status_code == 403
    client.force_login(manager)
    assert client.post(url, data).status_code == 302
    code = PromotionCode.objects.get()
    assert code.code == "TW2025" and code.history.get().history_user == manager


def test_plan_change_action_shows_the_charge_and_quota_then_confirms(client, manager):
    light = subscription(plan="light", actor=manager)
    medium = subscription(plan="medium", actor=manager)
    client.force_login(manager)
    url = reverse("admin:billing_subscription_changelist")
    data = {
        "action": "change_plan",
        "_selected_action": [light.pk, medium.pk],
        "plan_code": "high",
        "reason": "旺季",
    }
    preview = client.post(url, data)
    assert preview.status_code == 200
    rows = {p.subscription.pk: p for p in preview.context["previews"]}
    assert (rows[light.pk].charge, rows[light.pk].quota) == (1200, 6000)
    assert (rows[medium.pk].charge, rows[medium.pk].quota) == (400, 6000)
    assert not PlanChange.objects.filter(kind="upgrade").exists()  # nothing until confirmed
    response = client.post(url, {**data, "confirm": "yes"})
    assert response.status_code == 302
    assert sorted(PlanChange.objects.filter(kind="upgrade").values_list("charge", flat=True)) == [
        400,
        1200,
    ]


def test_plan_change_action_is_not_offered_to_reviewers(client, manager, reviewer):
    sub = subscription(plan="light", actor=manager)
    client.force_login(reviewer)
    response = client.post(
        reverse("admin:billing_subscription_changelist"),
        {
            "action": "change_plan",
            "_selected_action": [sub.pk],
            "plan_code": "high",
            "confirm": "yes",
        },
    )
    assert response.status_code == 403
    assert not PlanChange.objects.filter(kind="upgrade").exists()


def test_codes_batch_page_and_export_for_account_managers(client, manager, reviewer):
    client.force_login(manager)
    response = client.post(
        reverse("admin:billing_promotioncode_batch"),
        {"count": 3, "prefix": "x", "valid_from": "2025-01-01", "valid_until": "2025-12-31"},
    )
    assert response.status_code == 302 and PromotionCode.objects.count() == 3
    export = client.post(
        reverse("admin:billing_promotioncode_export"),
        {
            "format": "0",
            **{
                f"promotioncoderesource_{f}": "on"
                for f in ("code", "face_value", "valid_from", "valid_until", "status")
            },
        },
    )
    assert export.status_code == 200
    assert PromotionCode.objects.first().code in export.content.decode()
    client.force_login(reviewer)
    assert client.get(reverse("admin:billing_promotioncode_batch")).status_code == 403


def test_invoice_export_for_account_managers_only(client, manager, reviewer):
    subscription(plan="medium", actor=manager)
    services.bill_month(period=date(2025, 3, 1))
    client.force_login(manager)
    assert client.get(reverse("admin:billing_invoice_export")).status_code == 200
    client.force_login(reviewer)
    assert client.get(reverse("admin:billing_invoice_export")).status_code == 403


def test_invoice_list_links_to_the_billing_run_for_account_managers(client, manager):
    client.force_login(manager)
    body = client.get(reverse("admin:billing_invoice_changelist")).content.decode()
    assert reverse("admin:billing_invoice_run") in body
    assert reverse("admin:billing_invoice_export") in body


def _gov_with_sub_accounts(manager):
    from billing.models import BillingCustomer, GovernmentAccount

    from .factories import customer

    main = factories.AccountFactory(name="熊大市政府")
    cust = customer(name="熊大市政府", payment_method=BillingCustomer.PaymentMethod.TRANSFER)
    contract = government_contract(
        customer_id=cust.pk,
        plan_code="gov_a",
        main_account_id=main.pk,
        starts_on=date(2025, 7, 1),
        ends_on=date(2025, 12, 31),
        actor=manager,
    )
    listed = []
    for name in ("環保局", "煙火節"):
        account = factories.AccountFactory(name=f"熊大市政府 {name}")
        subscription(
            plan="gov_sub",
            actor=manager,
            account=account,
            customer_obj=cust,
            contract_id=contract.pk,
            target_friends=100,
            started_on=date(2025, 7, 1),
        )
        listed.append(GovernmentAccount.objects.get(account=account))
    return contract, listed


def test_account_manager_submits_a_renewal_list_and_sees_the_deletion_window(client, manager):
    contract, (kept, dropped) = _gov_with_sub_accounts(manager)
    client.force_login(manager)
    response = client.post(
        reverse("admin:billing_governmentrenewal_add"),
        {
            "contract": contract.pk,
            "submitted_on": "2025-12-01",
            "next_contract": "",
            "kept": [kept.pk],
            "reason": "續約清單",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    dropped.refresh_from_db()
    assert dropped.kept_on_renewal is False
    assert dropped.history.first().history_user == manager
    assert (
        reverse("admin:billing_governmentcontract_deletion_windows")
        in client.get(reverse("admin:billing_governmentcontract_changelist")).content.decode()
    )
    page = client.get(reverse("admin:billing_governmentcontract_deletion_windows"), {"all": 1})
    body = page.content.decode()
    assert page.status_code == 200
    assert "2025-12-19" in body and "熊大市政府 煙火節" in body
    assert "熊大市政府 環保局" not in body


def test_deletion_windows_page_is_for_account_managers_only(client, reviewer):
    client.force_login(reviewer)
    url = reverse("admin:billing_governmentcontract_deletion_windows")
    assert client.get(url).status_code == 403


def test_close_term_action_moves_accounts_not_deleted_to_a_normal_plan(client, manager, reviewer):
    contract, (first, second) = _gov_with_sub_accounts(manager)
    url = reverse("admin:billing_governmentcontract_changelist")
    data = {
        "action": "close_term",
        "_selected_action": [contract.pk],
        "plan_code": "medium",
        "suspend": "on",
        "reason": "未刪除",
    }
    client.force_login(reviewer)
    assert client.post(url, data).status_code == 403
    client.force_login(manager)
    assert (
        client.post(url, {"action": "close_term", "_selected_action": [contract.pk]}).status_code
        == 200
    )  # form
    assert client.post(url, data).status_code == 302
    first.account.subscription.refresh_from_db()
    sub = first.account.subscription
    assert (sub.plan.code, sub.contract_id, sub.suspended_at is not None) == ("medium", None, True)
    assert (
        PlanChange.objects.filter(
            to_plan__code="medium", period=date(2026, 1, 1), created_by=manager
        ).count()
        == 2
    )


def test_the_plan_ledger_list_runs_no_query_per_row(client, manager):
    """Each row shows its subscription, whose name holds its plan: selected with the rows, not
    read once per row (the admin-scale bench found 108 queries for a page of 100)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(manager)
    url = reverse("admin:billing_planchange_changelist")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    subscription(actor=manager)
    few = queries()
    for _ in range(5):
        subscription(actor=manager)
    assert PlanChange.objects.count() >= 6
    assert queries() == few


def test_the_plan_ledger_list_shows_the_newest_change_first(client, manager):
    """Newest first by key, not the model's ordering (subscription by account name, then
    period), which sorted the whole ledger on every page."""
    client.force_login(manager)
    first = subscription(actor=manager, account=factories.AccountFactory(name="A 最早的帳號"))
    last = subscription(actor=manager, account=factories.AccountFactory(name="Z 最新的帳號"))
    response = client.get(reverse("admin:billing_planchange_changelist"))
    rows = list(response.context["cl"].result_list)
    assert rows[0] == PlanChange.objects.filter(subscription=last).latest("pk")
    assert rows.index(PlanChange.objects.get(subscription=first)) > 0
