"""The permission matrix's world (tests/lbm/test_admin_matrix.py): two approved organizations,
each with a member of every role, a linked and subscribed Official Account and a row of every
model the admin shows; LINE staff of both groups; an Official Account administrator of the first
organization's account. Built through the services where a rule applies."""

from datetime import date, timedelta

from django.utils import timezone

from audiences import services as audience_services
from audiences.models import AudienceUpload
from billing import selfservice
from billing import services as billing_services
from billing.models import GovernmentAccount, Invoice, Subscription
from lbm import services
from lbm.channels import token_issue
from lbm.models import AccountLink
from notifications import services as lon_services
from notifications.models import Notice, WebhookDelivery
from tests import factories
from tests.audiences import factories as aud
from tests.billing import factories as bill
from tests.notifications import factories as lon

CUSTOMER_ROLES = ("viewer", "operator_data", "operator", "admin")
ROLES = CUSTOMER_ROLES + ("reviewer", "account_manager", "oa_admin")


def _organization(label, reviewer, manager):
    live = lon.live_setup()
    org, admin, account = live["org"], live["admin"], live["account"]
    users = {"admin": admin}
    for role in ("viewer", "operator_data", "operator"):
        users[role] = factories.member(org, role, username=f"{label}_{role}")
    audience = aud.upload_audience(org, admin, aud.phones(3, start=100 if label == "own" else 200))
    AudienceUpload.objects.create(
        organization=org,
        audience=audience,
        name="",
        id_type="phone",
        original_name="ids.txt",
        created_by=admin,
        status=AudienceUpload.Status.DONE,
    )
    audience_services.line_tag_create(actor=admin, organization_id=org.pk, name=f"{label} tag")
    line_user, phone = lon.line_user(account=account, friendship="friend")
    lon_services.notice_send(
        account_id=account.pk, to=phone, template_version_id=live["version"].pk, values=lon.VALUES
    )
    notice = Notice.objects.filter(account=account).latest("pk")
    WebhookDelivery.objects.create(
        notice=notice,
        account=account,
        created_at=timezone.now(),
        webhook_event_id=lon_services.new_event_id(),
    )
    token_issue(account=account, actor=manager)
    # Waiting for the reviewers: a link request, an application and a template version.
    extra = factories.account_for(org)
    services.link_request(organization_id=org.pk, actor=admin, account_identifier=extra.display_id)
    pending = lon.version(
        account, admin=admin, reviewer=reviewer, approve=False, name=f"{label} pending"
    )
    lon_services.template_submit(actor=admin, version_id=pending.pk)
    billing_services.usage_record(
        account_id=account.pk, kind="broadcast", recipients=10, sent_at=timezone.now()
    )
    subscription = Subscription.objects.get(account=account)
    link = AccountLink.objects.get(
        organization=org, account=account, status=AccountLink.Status.APPROVED
    )
    audience_services.link_sharing_set(actor=admin, link_id=link.pk, mode="share_selected")
    services.membership_invite(
        organization_id=org.pk, actor=admin, email=f"{label}-invitee@example.com", role="viewer"
    )
    return {
        "org": org,
        "users": users,
        "account": account,
        "subscription": subscription,
        "line_user": line_user,
    }


def build():
    reviewer = factories.reviewer(username="staff_reviewer")
    manager = factories.account_manager(username="staff_manager")
    own = _organization("own", reviewer, manager)
    other = _organization("other", reviewer, manager)
    # An application waiting for review (the organization's own one is live already).
    waiting = factories.account_for(own["org"])
    factories.linked(own["org"], waiting)
    application = lon_services.application_create(
        actor=own["users"]["admin"], account_id=waiting.pk, scenarios=["delivery"]
    )
    lon_services.application_update(
        actor=own["users"]["admin"],
        application_id=application.pk,
        files={
            "purchase_agreement": lon.upload("a.pdf"),
            "nda": lon.upload("n.pdf"),
            "test_recording": lon.upload("t.mp4", b"v"),
        },
    )
    lon_services.application_submit(actor=own["users"]["admin"], application_id=application.pk)
    factories.organization(state="pending", name="待審組織")
    # An agency with (viewer) access to both organizations (docs/organizations.md#agencies).
    firm = factories.organization(state="approved", name="矩陣代理商", kind="agency")
    for world in (own, other):
        factories.agency_access(world["org"], firm, role="viewer")
    # The Official Account administrator of the first organization's account.
    oa_admin = factories.UserFactory(username="oa_admin")
    selfservice.administrator_grant(account_id=own["account"].pk, user=oa_admin, actor=manager)
    lon_services.failed_notices_export(actor=own["users"]["admin"])
    lon_services.failed_notices_export(actor=other["users"]["admin"])
    _billing(own, other, manager)
    users = dict(own["users"], reviewer=reviewer, account_manager=manager, oa_admin=oa_admin)
    return {"own": own, "other": other, "users": users}


def _billing(own, other, manager):
    today = timezone.localdate()
    # The second person of two-person approvals (docs/billing.md#two-person-approvals).
    second = factories.account_manager(username="staff_manager_second")
    for world in (own, other):
        billing_services.promotion_code_create(
            code=f"PROMO{world['account'].pk}",
            valid_from=today,
            valid_until=today + timedelta(days=90),
            actor=manager,
        )
    contract = billing_services.government_contract_propose(
        customer_id=own["subscription"].customer_id,
        plan_code="gov_a",
        main_account_id=factories.account_for(own["org"]).pk,
        starts_on=date(2025, 7, 1),
        ends_on=date(2026, 6, 30),
        actor=manager,
    )
    billing_services.second_approval_approve(approval_id=contract.approval_id, actor=second)
    billing_services.government_block_add(
        contract_id=contract.pk,
        kind="sub_accounts",
        accounts=2,
        purchased_on=date(2025, 7, 1),
        actor=manager,
    )
    GovernmentAccount.objects.create(
        contract=contract, account=other["account"], kind="sub_accounts"
    )
    following = billing_services.government_contract_propose(
        customer_id=own["subscription"].customer_id,
        plan_code="gov_a",
        main_account_id=contract.main_account_id,
        starts_on=date(2026, 7, 1),
        ends_on=date(2027, 6, 30),
        actor=manager,
    )
    billing_services.second_approval_approve(approval_id=following.approval_id, actor=second)
    billing_services.government_renewal_submit(
        contract_id=contract.pk,
        kept_account_ids=[],
        submitted_on=date(2026, 5, 1),
        actor=manager,
        next_contract_id=following.pk,
    )
    bimonth = date(today.year, today.month - (today.month - 1) % 2, 1)
    billing_services.einvoice_track_create(
        period=bimonth, prefix="ZZ", first_number=10_000_000, last_number=10_009_999, actor=manager
    )
    bill.subscription(plan="high", actor=manager, account=factories.account_for(own["org"]))
    billing_services.bill_month(period=date(2025, 1, 1), actor=manager)
    invoice = Invoice.objects.order_by("pk").first()
    billing_services.credit_note_create(
        invoice_id=invoice.pk,
        kind="credit",
        amount=1,
        reason="折讓",
        actor=manager,
        einvoice_action="allowance",
    )
    # Waiting for a second approval: a batch of promotion codes (the second manager proposed it).
    billing_services.promotion_code_batch_propose(
        count=2, actor=second, valid_from=today, valid_until=today + timedelta(days=90)
    )
