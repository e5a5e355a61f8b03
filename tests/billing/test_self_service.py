"""Official Account administrators serve themselves
(docs/billing.md#official-account-administrators): rights per role, e-invoice details, payment
method, preview equals charge, the promotion-code table through their path."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.utils import timezone

from billing import selectors, selfservice, services
from billing.exceptions import BillingError, PromotionCodeRefused
from billing.models import (
    AccountAdministrator,
    AccountAdministratorInvitation,
    BillingCustomer,
    Invoice,
    InvoicePayment,
    PaymentMethod,
    PlanChange,
    PromotionCode,
    Subscription,
)
from lbm.exceptions import NotAllowed
from tests import factories

from .factories import subscription, taipei

pytestmark = pytest.mark.django_db
AT = taipei(2025, 3, 10, 10)


@pytest.fixture
def setup(manager):
    """A Medium account of an approved organization, with an administrator, and the people
    who must be refused: another account's administrator, the organization's Admin, a
    viewer."""
    org = factories.organization(state="approved")
    link = factories.linked(org)
    sub = subscription(plan="medium", actor=manager, account=link.account)
    admin = factories.UserFactory()
    selfservice.administrator_grant(account_id=sub.account_id, user=admin, actor=manager)
    other_sub = subscription(plan="medium", actor=manager)
    other_admin = factories.UserFactory()
    selfservice.administrator_grant(
        account_id=other_sub.account_id, user=other_admin, actor=manager
    )
    org_admin = org.memberships.get(role="admin").user
    viewer = factories.member(org, "viewer")
    services.promotion_code_create(
        code="CODE1200", valid_from=date(2025, 1, 1), valid_until=date(2025, 12, 31), actor=manager
    )
    return dict(sub=sub, admin=admin, refused=[other_admin, org_admin, viewer])


ACTIONS = {
    "einvoice": lambda sub, user: selfservice.einvoice_details_set(
        account_id=sub.account_id, actor=user, name="王小明", carrier="/ABC1234"
    ),
    "payment": lambda sub, user: selfservice.payment_method_register(
        account_id=sub.account_id,
        actor=user,
        kind="credit_card",
        gateway_token="tok_visa",
        last4="4242",
    ),
    "preview": lambda sub, user: selfservice.plan_change_preview(
        account_id=sub.account_id, plan_code="high", actor=user, at=AT
    ),
    "change": lambda sub, user: selfservice.plan_change(
        account_id=sub.account_id, plan_code="high", actor=user, at=AT
    ),
    "register_code": lambda sub, user: selfservice.promotion_code_register(
        account_id=sub.account_id, code="CODE1200", actor=user, on=date(2025, 3, 10)
    ),
    "invite": lambda sub, user: selfservice.invitation_create(
        account_id=sub.account_id, actor=user, email="new.admin@company.example"
    ),
    "grant": lambda sub, user: selfservice.administrator_grant(
        account_id=sub.account_id, user=factories.UserFactory(), actor=user
    ),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_action_is_refused_to_other_roles_and_allowed_to_the_administrator(setup, action):
    sub = setup["sub"]
    for user in setup["refused"]:
        with pytest.raises(NotAllowed):
            ACTIONS[action](sub, user)
    assert not PlanChange.objects.filter(subscription=sub, kind="upgrade").exists()
    assert ACTIONS[action](sub, setup["admin"]) is not None


def test_invitation_is_single_use_and_lasts_seven_days(
    setup, mailoutbox, django_capture_on_commit_callbacks
):
    sub, admin = setup["sub"], setup["admin"]
    now = timezone.now()
    newcomer, late = factories.UserFactory(), factories.UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        token = selfservice.invitation_create(
            account_id=sub.account_id, actor=admin, email=f"  {newcomer.email.upper()} ", now=now
        )
    assert len(mailoutbox) == 1 and mailoutbox[0].to == [newcomer.email.upper()]
    assert f"/invitation/{token}/" in mailoutbox[0].body
    assert token not in str(list(AccountAdministratorInvitation.objects.values()))
    selfservice.invitation_accept(token=token, user=newcomer, now=now + timedelta(days=6))
    assert AccountAdministrator.objects.filter(account=sub.account, user=newcomer).exists()
    with pytest.raises(BillingError, match="already been used"):
        selfservice.invitation_accept(token=token, user=newcomer, now=now + timedelta(days=6))
    expired = selfservice.invitation_create(
        account_id=sub.account_id, actor=admin, email=late.email, now=now
    )
    with pytest.raises(BillingError, match="expired"):
        selfservice.invitation_accept(token=expired, user=late, now=now + timedelta(days=7))
    assert not AccountAdministrator.objects.filter(user=late).exists()


def test_an_invitation_works_only_for_the_address_it_was_sent_to(setup):
    sub, admin = setup["sub"], setup["admin"]
    invited, other = factories.UserFactory(), factories.UserFactory()
    token = selfservice.invitation_create(
        account_id=sub.account_id, actor=admin, email=invited.email
    )
    with pytest.raises(BillingError, match="another e-mail address"):
        selfservice.invitation_accept(token=token, user=other)
    assert not AccountAdministrator.objects.filter(user=other).exists()
    selfservice.invitation_accept(token=token, user=invited)  # still unused, so it works
    assert AccountAdministrator.objects.filter(account=sub.account, user=invited).exists()
    with pytest.raises(BillingError, match="does not exist"):
        selfservice.invitation_accept(token="not-a-token", user=invited)
    with pytest.raises(BillingError, match="e-mail address of the person"):
        selfservice.invitation_create(account_id=sub.account_id, actor=admin, email="nobody")


def test_invitation_pages_invite_by_e_mail_and_accept_once(
    setup, client, mailoutbox, django_capture_on_commit_callbacks
):
    sub, admin = setup["sub"], setup["admin"]
    invited, other = factories.UserFactory(), factories.UserFactory()
    page = f"/admin/billing/accountadministrator/account/{sub.account_id}/"
    client.force_login(admin)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            page, {"action": "invite", "invite-email": invited.email}, follow=True
        )
    assert "An invitation was sent to" in response.content.decode()
    assert invited.email not in response.content.decode()  # shown masked
    link = next(line for line in mailoutbox[0].body.splitlines() if "/invitation/" in line)
    path = link[link.index("/admin/") :]
    bad = client.post(page, {"action": "invite", "invite-email": "not an address"})
    assert bad.status_code == 200 and "not an address" in bad.content.decode()  # kept, shown again
    client.force_login(other)
    assert client.get(path).status_code == 200
    refused = client.post(path, follow=True)
    assert "another e-mail address" in refused.content.decode()
    client.force_login(invited)
    accepted = client.post(path, follow=True)
    assert accepted.redirect_chain[-1][0] == page
    assert AccountAdministrator.objects.filter(account=sub.account, user=invited).exists()
    again = client.post(path, follow=True)
    assert "already been used" in again.content.decode()
    assert not AccountAdministrator.objects.filter(user=other).exists()


def test_payment_method_keeps_a_token_and_a_masked_label_never_a_card_number(setup):
    sub, admin = setup["sub"], setup["admin"]
    with pytest.raises(BillingError, match="never a card number"):
        selfservice.payment_method_register(
            account_id=sub.account_id,
            actor=admin,
            kind="credit_card",
            gateway_token="4242 4242 4242 4242",
            last4="4242",
        )
    method = selfservice.payment_method_register(
        account_id=sub.account_id,
        actor=admin,
        kind="credit_card",
        gateway_token="tok_1",
        last4="4242",
    )
    assert (method.label, method.gateway_token, method.gateway) == ("•••• 4242", "tok_1", "manual")
    selfservice.payment_method_register(
        account_id=sub.account_id, actor=admin, kind="line_pay", gateway_token="lp_1"
    )
    assert list(PaymentMethod.objects.filter(active=True).values_list("kind", flat=True)) == [
        "line_pay"
    ]
    assert BillingCustomer.objects.get(pk=sub.customer_id).payment_method == "line_pay"


def test_einvoice_details_are_validated(setup):
    sub, admin = setup["sub"], setup["admin"]
    with pytest.raises(BillingError, match="checksum|not a valid business number"):
        selfservice.einvoice_details_set(
            account_id=sub.account_id, actor=admin, business_number="12345678", name="熊大"
        )
    customer_obj = selfservice.einvoice_details_set(
        account_id=sub.account_id, actor=admin, business_number="04595257", name="熊大股份有限公司"
    )
    assert (customer_obj.business_number, customer_obj.invoice_title) == (
        "04595257",
        "熊大股份有限公司",
    )


@pytest.mark.parametrize(
    "start, target, deducted, forfeited, quota",
    [
        ("light", "medium", "800", "400", 3000),
        ("light", "high", "1200", "0", 6000),
        ("medium", "high", "400", "800", 6000),
    ],
)
def test_code_table_through_the_administrators_path_and_preview_equals_charge(
    manager, start, target, deducted, forfeited, quota
):
    sub = subscription(plan=start, actor=manager)
    # As in the seed, the administrator has never registered e-invoice details nor a payment
    # method (a Medium account bought by a reseller, say).
    BillingCustomer.objects.filter(pk=sub.customer_id).update(
        business_number="", invoice_title="", payment_method="none"
    )
    admin = factories.UserFactory()
    selfservice.administrator_grant(account_id=sub.account_id, user=admin, actor=manager)
    services.promotion_code_create(
        code="TABLE", valid_from=date(2025, 1, 1), valid_until=date(2025, 12, 31), actor=manager
    )
    # The seed's order: e-invoice details, then a payment method, then the code.
    with pytest.raises(BillingError, match="e-invoice|payment"):
        selfservice.plan_change(
            account_id=sub.account_id, plan_code=target, actor=admin, at=AT, promotion_code="TABLE"
        )
    selfservice.einvoice_details_set(
        account_id=sub.account_id, actor=admin, name="王小明", carrier="/ABC1234"
    )
    selfservice.payment_method_register(
        account_id=sub.account_id, actor=admin, kind="line_pay", gateway_token="lp_tok"
    )
    preview = selfservice.plan_change_preview(
        account_id=sub.account_id, plan_code=target, actor=admin, promotion_code="TABLE", at=AT
    )
    assert (preview.deducted, preview.forfeited, preview.quota) == (
        D(deducted),
        D(forfeited),
        quota,
    )
    change = selfservice.plan_change(
        account_id=sub.account_id, plan_code=target, actor=admin, at=AT, promotion_code="TABLE"
    )
    assert (change.charge, change.deducted) == (preview.charge, preview.deducted)
    code = PromotionCode.objects.get(code="TABLE")
    assert (code.deducted, code.forfeited) == (D(deducted), D(forfeited))
    services.bill_month(period=date(2025, 3, 1))
    invoice = Invoice.objects.get(customer_id=sub.customer_id)
    upgrade_lines = sum(
        line.amount for line in invoice.lines.filter(kind__in=["upgrade", "promotion"])
    )
    assert upgrade_lines == preview.untaxed
    assert selectors.quota(account_id=sub.account_id, at=AT).plan.free_messages == quota


def test_downgrade_preview_and_no_code_on_a_downgrade(setup):
    sub, admin = setup["sub"], setup["admin"]
    preview = selfservice.plan_change_preview(
        account_id=sub.account_id, plan_code="light", actor=admin, at=AT
    )
    assert (preview.effect, preview.total, preview.starts) == ("downgrade", 0, date(2025, 4, 1))
    with pytest.raises(PromotionCodeRefused):
        selfservice.plan_change_preview(
            account_id=sub.account_id,
            plan_code="light",
            actor=admin,
            promotion_code="CODE1200",
            at=AT,
        )


def test_registering_a_code_for_the_next_renewal(setup):
    sub, admin = setup["sub"], setup["admin"]
    code = selfservice.promotion_code_register(
        account_id=sub.account_id, code="CODE1200", actor=admin, on=date(2025, 3, 10)
    )
    assert (code.status, code.subscription_id) == ("registered", sub.pk)


def test_invoice_payment_state_is_set_by_account_managers_only(setup, manager):
    services.bill_month(period=date(2025, 3, 1))
    invoice = Invoice.objects.get(customer_id=setup["sub"].customer_id)
    with pytest.raises(NotAllowed):
        selfservice.invoice_payment_set(invoice_id=invoice.pk, status="paid", actor=setup["admin"])
    selfservice.invoice_payment_set(invoice_id=invoice.pk, status="paid", actor=manager)
    assert InvoicePayment.objects.get(invoice=invoice).status == "paid"


def test_the_pages_show_an_account_to_its_administrators_only(setup, client, manager):
    sub = setup["sub"]
    services.bill_month(period=date(2025, 3, 1))
    invoice = Invoice.objects.get(customer_id=sub.customer_id)
    page = f"/admin/billing/accountadministrator/account/{sub.account_id}/"
    printed = f"/admin/billing/accountadministrator/invoice/{invoice.pk}/print/"
    for user in setup["refused"]:
        client.force_login(user)
        # Not theirs: the same 404 as an account or invoice that does not exist.
        assert client.get(page).status_code == 404
        assert client.get(printed).status_code == 404
        assert client.post(page, {"action": "plan", "plan-plan_code": "high"}).status_code == 404
    client.force_login(setup["admin"])
    response = client.get(page)
    assert response.status_code == 200 and invoice.number in response.content.decode()
    response = client.get(printed, HTTP_ACCEPT_LANGUAGE="en")
    body = response.content.decode()
    assert response.status_code == 200 and 'lang="zh-Hant"' in body and "營業稅" in body
    assert "NT$840" in body
    listing = client.get("/admin/billing/accountadministrator/").content.decode()
    assert sub.account.name in listing


def test_account_managers_filter_invoices_by_payment_state(setup, client, manager):
    services.bill_month(period=date(2025, 3, 1))
    paid, unpaid = Invoice.objects.order_by("pk")[:2]
    client.force_login(manager)
    client.post("/admin/billing/invoice/", {"action": "mark_paid", "_selected_action": [paid.pk]})
    assert InvoicePayment.objects.get(invoice=paid).status == "paid"
    shown = client.get("/admin/billing/invoice/?payment=unpaid").content.decode()
    assert unpaid.number in shown and paid.number not in shown
    shown = client.get("/admin/billing/invoice/?payment=paid").content.decode()
    assert paid.number in shown and unpaid.number not in shown


def test_seed_billing_is_idempotent():
    from django.core.management import call_command

    from billing.models import EInvoiceTrack

    call_command("seed_demo", verbosity=0)
    call_command("seed_billing", verbosity=0)
    counts = (
        Subscription.objects.count(),
        AccountAdministrator.objects.count(),
        EInvoiceTrack.objects.count(),
        PromotionCode.objects.count(),
    )
    call_command("seed_billing", verbosity=0)
    assert counts == (
        Subscription.objects.count(),
        AccountAdministrator.objects.count(),
        EInvoiceTrack.objects.count(),
        PromotionCode.objects.count(),
    )
    assert AccountAdministrator.objects.filter(user__username="oa_admin").count() == 2
