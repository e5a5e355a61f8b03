"""Two people for high-value decisions (docs/billing.md#two-person-approvals): a credit or debit
note above the threshold, a government contract and a batch of promotion codes take effect only
when a second LINE staff member approves them; the proposer cannot approve their own."""

from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from django.urls import reverse
from django.utils import timezone

from billing import einvoice, selectors, services
from billing.exceptions import BillingError, PromotionCodeRefused
from billing.models import CreditNote, InvoiceLine, PromotionCode, SecondApproval, Subscription
from billing.services.approvals import SecondApprovalRefused
from lbm.exceptions import NotAllowed
from lbm.selectors import review_backlog
from tests import factories

from .factories import customer, send, subscription, taipei

pytestmark = pytest.mark.django_db
MARCH = date(2025, 3, 1)
JULY = date(2025, 7, 1)


@pytest.fixture
def second(db):
    """Another LINE account manager: the second person."""
    return factories.account_manager(username="second_manager")


@pytest.fixture
def invoice(manager):
    """March's invoice of a High account with 100,000 messages: NT$16,454."""
    sub = subscription(plan="high", actor=manager)
    send(sub.account_id, 100_000, taipei(2025, 3, 3, 10))
    services.bill_month(period=MARCH)
    invoice = sub.customer.invoices.get()
    assert invoice.total == D("16454")
    return invoice


def note(invoice, actor, amount, kind="credit", **kwargs):
    return services.credit_note_create(
        invoice_id=invoice.pk,
        kind=kind,
        amount=D(amount),
        reason="服務中斷補償",
        actor=actor,
        **kwargs,
    )


def balance(invoice):
    return selectors.invoice_balance(invoice=invoice)["balance"]


# --- Threshold edges --------------------------------------------------------------------------


def test_exactly_the_threshold_takes_effect_at_once(invoice, manager):
    at_threshold = note(invoice, manager, "10000")
    assert at_threshold.approval is None
    assert balance(invoice) == D("6454")


def test_one_above_the_threshold_waits_and_counts_nowhere(invoice, manager):
    above = note(invoice, manager, "10001", kind="debit")
    assert above.approval.status == SecondApproval.Status.PENDING
    assert above.approval.proposed_by == manager and above.approval.amount == D("10001")
    assert balance(invoice) == D("16454")  # not part of the invoice's figures yet


def test_amounts_between_are_not_whole_twd_and_refused(invoice, manager):
    with pytest.raises(BillingError, match="whole number"):
        note(invoice, manager, "9999.99")
    with pytest.raises(BillingError, match="whole number"):
        note(invoice, manager, "10000.01")
    assert not CreditNote.objects.exists() and not SecondApproval.objects.exists()


def test_the_threshold_is_a_setting(invoice, manager, settings):
    settings.BILLING_TWO_PERSON_THRESHOLD = D("500")
    assert note(invoice, manager, "500").approval is None
    assert note(invoice, manager, "501").approval is not None


# --- Who may approve --------------------------------------------------------------------------


def test_the_proposer_cannot_approve_their_own(invoice, manager):
    proposed = note(invoice, manager, "12000")
    with pytest.raises(SecondApprovalRefused, match="You proposed this"):
        services.second_approval_approve(approval_id=proposed.approval_id, actor=manager)
    proposed.approval.refresh_from_db()
    assert proposed.approval.status == SecondApproval.Status.PENDING
    assert balance(invoice) == D("16454")


def test_a_second_staff_member_approves_and_it_takes_effect(invoice, manager, second):
    proposed = note(invoice, manager, "12000")
    approval = services.second_approval_approve(
        approval_id=proposed.approval_id, actor=second, note="已核對"
    )
    assert (approval.status, approval.decided_by, approval.decision_reason) == (
        SecondApproval.Status.APPROVED,
        second,
        "已核對",
    )
    assert balance(invoice) == D("4454")
    with pytest.raises(SecondApprovalRefused, match="already decided"):
        services.second_approval_approve(approval_id=approval.pk, actor=second)


def test_customers_and_reviewers_cannot_approve(invoice, manager, reviewer):
    proposed = note(invoice, manager, "12000")
    customer_user = factories.member(factories.organization(state="approved"), "admin")
    for actor in (customer_user, reviewer):
        with pytest.raises(NotAllowed):
            services.second_approval_approve(approval_id=proposed.approval_id, actor=actor)
        with pytest.raises(NotAllowed):
            services.second_approval_reject(
                approval_id=proposed.approval_id, actor=actor, reason="不同意"
            )
    proposed.approval.refresh_from_db()
    assert proposed.approval.status == SecondApproval.Status.PENDING


def test_approval_checks_the_note_again_against_notes_that_took_effect(invoice, manager, second):
    first, other = note(invoice, manager, "10001"), note(invoice, manager, "10001")
    services.second_approval_approve(approval_id=first.approval_id, actor=second)
    with pytest.raises(BillingError, match="more than"):
        services.second_approval_approve(approval_id=other.approval_id, actor=second)
    other.approval.refresh_from_db()
    assert other.approval.status == SecondApproval.Status.PENDING
    assert balance(invoice) == D("6453")


# --- Nothing applied before approval ----------------------------------------------------------


def test_a_pending_note_is_not_in_the_einvoice_export(invoice, manager, second):
    proposed = note(invoice, manager, "12000")
    bimonth = einvoice.bimonth_of_moment(timezone.now())

    def allowances():
        return [
            row["number"]
            for row in einvoice.export_rows(bimonth=bimonth, seller_id="24549210")
            if row["document"] == "allowance"
        ]

    assert allowances() == []
    services.second_approval_approve(approval_id=proposed.approval_id, actor=second)
    assert allowances() == [proposed.number]


def _contract(manager, **kwargs):
    main = factories.AccountFactory(name="熊大市政府")
    cust = customer(name="熊大市政府", payment_method="transfer")
    contract = services.government_contract_propose(
        customer_id=cust.pk,
        plan_code="gov_a",
        main_account_id=main.pk,
        starts_on=JULY,
        ends_on=date(2026, 6, 30),
        actor=manager,
        **kwargs,
    )
    return contract, main, cust


def test_a_pending_government_contract_is_not_billed_nor_used(manager, second):
    contract, main, cust = _contract(manager)
    assert contract.approval.kind == SecondApproval.Kind.GOVERNMENT_CONTRACT
    assert not Subscription.objects.filter(account=main).exists()  # not on the plan yet
    with pytest.raises(BillingError, match="second approval"):
        services.government_block_add(
            contract_id=contract.pk,
            kind="sub_accounts",
            accounts=10,
            purchased_on=JULY,
            actor=manager,
        )
    with pytest.raises(BillingError, match="second approval"):
        subscription(
            plan="gov_sub",
            actor=manager,
            customer_obj=cust,
            contract_id=contract.pk,
            started_on=JULY,
            account=factories.AccountFactory(name="熊大市政府 觀光局"),
        )
    services.bill_month(period=JULY)
    assert not cust.invoices.exists()
    assert not InvoiceLine.objects.filter(contract=contract).exists()


def test_an_approved_government_contract_is_billed(manager, second):
    contract, main, cust = _contract(manager)
    services.second_approval_approve(approval_id=contract.approval_id, actor=second)
    assert Subscription.objects.get(account=main).contract == contract
    services.bill_month(period=JULY)
    line = InvoiceLine.objects.get(contract=contract)
    assert (line.kind, line.amount) == ("government_plan", D("300000"))  # plan A, one year


def _batch(manager, count=3):
    return services.promotion_code_batch_propose(
        count=count,
        prefix="tw",
        actor=manager,
        valid_from=date(2025, 1, 1),
        valid_until=date(2025, 12, 31),
    )


def test_a_pending_batchs_codes_cannot_be_redeemed(manager, second):
    codes = _batch(manager)
    sub = subscription(plan="medium", actor=manager)
    for use in (
        lambda: services.promotion_code_register(
            code=codes[0].code, subscription_id=sub.pk, actor=manager, on=date(2025, 3, 10)
        ),
        lambda: services.subscription_change_plan(
            subscription_id=sub.pk,
            plan_code="high",
            actor=manager,
            promotion_code=codes[0].code,
            at=taipei(2025, 3, 10, 10),
        ),
    ):
        with pytest.raises(PromotionCodeRefused, match="second approval"):
            use()
    assert PromotionCode.objects.get(pk=codes[0].pk).status == "available"
    services.second_approval_approve(approval_id=codes[0].approval_id, actor=second)
    registered = services.promotion_code_register(
        code=codes[0].code, subscription_id=sub.pk, actor=manager, on=date(2025, 3, 10)
    )
    assert registered.status == "registered"


# --- Rejection --------------------------------------------------------------------------------


def test_a_rejected_proposal_never_takes_effect(invoice, manager, second):
    proposed = note(invoice, manager, "12000")
    with pytest.raises(BillingError, match="reason"):
        services.second_approval_reject(approval_id=proposed.approval_id, actor=second, reason=" ")
    rejected = services.second_approval_reject(
        approval_id=proposed.approval_id, actor=second, reason="金額有誤"
    )
    assert (rejected.status, rejected.decided_by, rejected.decision_reason) == (
        SecondApproval.Status.REJECTED,
        second,
        "金額有誤",
    )
    assert balance(invoice) == D("16454")
    with pytest.raises(SecondApprovalRefused, match="already decided"):
        services.second_approval_approve(approval_id=rejected.pk, actor=second)
    codes = _batch(manager, count=1)
    services.second_approval_reject(
        approval_id=codes[0].approval_id, actor=manager, reason="活動取消"
    )  # the proposer may withdraw it
    sub = subscription(plan="medium", actor=manager)
    with pytest.raises(PromotionCodeRefused, match="rejected"):
        services.promotion_code_register(
            code=codes[0].code, subscription_id=sub.pk, actor=manager, on=date(2025, 3, 10)
        )


# --- History, backlog and admin ---------------------------------------------------------------


def test_history_shows_the_proposer_and_the_approver(client, invoice, manager, second):
    proposed = note(invoice, manager, "12000")
    services.second_approval_approve(approval_id=proposed.approval_id, actor=second)
    users = list(
        SecondApproval.history.filter(id=proposed.approval_id)
        .order_by("history_date")
        .values_list("history_user__username", flat=True)
    )
    assert users == [manager.username, second.username]
    client.force_login(manager)
    page = client.get(reverse("admin:billing_secondapproval_history", args=[proposed.approval_id]))
    assert page.status_code == 200
    body = page.content.decode()
    assert manager.username in body and second.username in body
    change = client.get(
        reverse("admin:billing_secondapproval_change", args=[proposed.approval_id])
    ).content.decode()
    assert manager.username in change and second.username in change and proposed.number in change


def test_backlog_counts_what_waits_for_a_second_approval(invoice, manager, reviewer, second):
    note(invoice, manager, "12000")
    old = note(invoice, manager, "11000")
    done = note(invoice, manager, "10500")
    services.second_approval_approve(approval_id=done.approval_id, actor=second)
    SecondApproval.objects.filter(pk=old.approval_id).update(
        review_due_on=date.today() - timedelta(days=30)
    )
    queues = {q.key: q for q in review_backlog(manager).queues}
    waiting = queues["second_approvals"]
    assert (waiting.pending, waiting.overdue) == (2, 1)
    assert waiting.next_due == date.today() - timedelta(days=30)
    assert "second_approvals" not in {q.key for q in review_backlog(reviewer).queues}


def test_admin_buttons_refuse_the_proposer_and_let_the_second_approve(
    client, invoice, manager, second
):
    proposed = note(invoice, manager, "12000")
    approval_id = proposed.approval_id
    decide = reverse("admin:billing_secondapproval_decide", args=[approval_id, "approve"])
    client.force_login(manager)
    index = client.get(reverse("admin:index")).content.decode()
    assert "lbm-queue-second_approvals" in index
    listing = client.get(reverse("admin:billing_creditnote_changelist"), {"approval": "pending"})
    assert proposed.number in listing.content.decode()
    assert (
        proposed.number
        in client.get(reverse("admin:billing_secondapproval_changelist")).content.decode()
    )
    refused = client.post(decide, {"confirm": "yes", "reason": ""}, follow=True)
    assert "You proposed this" in refused.content.decode()
    assert SecondApproval.objects.get(pk=approval_id).status == "pending"
    client.force_login(second)
    page = client.get(reverse("admin:billing_secondapproval_change", args=[approval_id]))
    assert 'id="lbm-approve"' in page.content.decode()
    assert client.post(decide, {"confirm": "yes", "reason": "OK"}).status_code == 302
    assert SecondApproval.objects.get(pk=approval_id).status == "approved"
    page = client.get(reverse("admin:billing_secondapproval_change", args=[approval_id]))
    assert 'id="lbm-approve"' not in page.content.decode()  # decided: no buttons
