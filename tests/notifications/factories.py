"""Notification-message test data, built through the services where a rule applies."""

import itertools
from datetime import date, timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audiences.models import Friendship, LineUser
from billing import services as billing
from billing.models import BillingCustomer
from lbm import pii
from lbm.channels import channel_ensure
from lbm.models import Membership
from notifications import services
from tests import factories

_user_ids = itertools.count(1)
_phones = itertools.count(10_000_000)

CONTENT = {
    "scenario": "delivery",
    "title": "到貨通知",
    "body": "{{name}} 您好，您的訂單 {{order_no}} 已送達門市。",
    "placeholders": ["name", "order_no"],
    "fields": [{"label": "訂單編號", "value": "{{order_no}}", "kind": "order_number"}],
    "cta_label": "查看訂單",
    "cta_kind": "link",
    "cta_url": "https://shop.example.com/orders/{{order_no}}",
}
VALUES = {"name": "王小明", "order_no": "A123456"}


def admin_of(org):
    return Membership.objects.get(organization=org, role="admin").user


def upload(name="file.pdf", content=b"%PDF-1.4 test"):
    return SimpleUploadedFile(name, content)


def application_live(account, *, admin, reviewer):
    app = services.application_create(
        actor=admin, account_id=account.pk, scenarios=["delivery", "bill"]
    )
    services.application_update(
        actor=admin,
        application_id=app.pk,
        files={
            "purchase_agreement": upload("agreement.pdf"),
            "nda": upload("nda.pdf"),
            "test_recording": upload("test.mp4", b"video"),
        },
    )
    services.application_submit(actor=admin, application_id=app.pk)
    for _ in range(3):
        app = services.application_advance(actor=reviewer, application_id=app.pk)
    return app


def subscribe(account, manager=None):
    manager = manager or factories.shared_account_manager()
    customer = BillingCustomer.objects.create(
        name=f"客戶 {account.pk}",
        country="TW",
        payment_method=BillingCustomer.PaymentMethod.CREDIT_CARD,
        invoice_title="熊大股份有限公司",
        invoice_email="bill@company.example",
    )
    return billing.subscription_create(
        account_id=account.pk,
        customer_id=customer.pk,
        plan_code="light",
        actor=manager,
        started_on=date(2020, 1, 1),
    )


def version(account, *, admin, reviewer, name=None, approve=True, **content):
    data = {**CONTENT, **content}
    v = services.template_create(
        actor=admin, account_id=account.pk, name=name or f"template {next(_user_ids)}", content=data
    )
    if approve:
        services.template_submit(actor=admin, version_id=v.pk)
        v = services.template_review(actor=reviewer, version_id=v.pk, decision="approved")
    return v


def line_user(
    phone: str | None = None,
    *,
    consent="on",
    verified_days_ago: int | None = 10,
    account=None,
    friendship: str | None = None,
) -> tuple[LineUser, str]:
    """A LINE user registered with ``phone`` (returned with the E.164 number)."""
    phone = phone or f"+8869{next(_phones):08d}"
    e164 = pii.normalise_phone(phone)
    user = LineUser.objects.create(
        user_id="U" + f"{next(_user_ids):032x}",
        phone_hash=pii.keyed_hash(pii.sha256_hex(e164)),
        notification_consent=consent,
        sms_verified_at=None
        if verified_days_ago is None
        else timezone.now() - timedelta(days=verified_days_ago),
    )
    if friendship is not None:
        Friendship.objects.create(
            line_user=user,
            account=account,
            state=friendship,
            since=timezone.now() - timedelta(days=100),
        )
    return user, e164


def live_setup(*, webhook_url: str = ""):
    """An approved organization with a linked, subscribed Official Account whose application is
    live, an approved template version, and its channel."""
    org = factories.organization(state="approved")
    admin = admin_of(org)
    reviewer = factories.shared_reviewer()
    account = factories.account_for(org)
    factories.linked(org, account)
    subscribe(account)
    application = application_live(account, admin=admin, reviewer=reviewer)
    channel = channel_ensure(account=account)
    if webhook_url:
        channel.webhook_url = webhook_url
        channel.save(update_fields=["webhook_url"])
    v = version(account, admin=admin, reviewer=reviewer)
    return {
        "org": org,
        "admin": admin,
        "reviewer": reviewer,
        "account": account,
        "application": application,
        "channel": channel,
        "version": v,
    }
