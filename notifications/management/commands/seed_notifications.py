"""Idempotent notification-message (LON) demo data on top of ``seed_demo``, ``seed_billing`` and
``seed_audiences`` (docs/notifications.md#demo-data), all through the services:

- 熊大餐廳 (@bea1234a) is live, with two approved templates (到貨通知, and 帳單繳費提醒 which is
  phone-verification exempt), one waiting for review and one rejected with the reviewer's
  reason;
- six more Official Accounts of 熊大餐飲集團, each with an application at another stage (draft,
  scenario review, contract, testing, rejected with a reason, suspended with a reason);
- notices delivered, pending (consent page, SMS verification) and failed (no LINE user has the
  number), and delivery webhooks that were sent at once, sent after a retry, and failed. The
  webhooks go to a receiver this command runs on 127.0.0.1 for the moment it needs one; the
  channel's webhook URL is cleared again afterwards.

Running it again changes nothing.
"""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from celery.exceptions import Retry
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from audiences.management.commands.seed_audiences import demo_phone, demo_user_id
from audiences.models import LineUser
from billing.management.commands.seed_billing import BRANCHES
from billing.models import Subscription
from lbm.channels import channel_ensure
from lbm.models import Account, Membership, Organization
from notifications import services
from notifications.models import (
    SMS_VERIFICATION_MONTHS,
    Application,
    Notice,
    Stage,
    Template,
    TemplateVersion,
    WebhookDelivery,
)

LIVE_ACCOUNT = "@bea1234a"  # 熊大餐廳, Medium (seed_billing)

DELIVERY = {
    "scenario": "delivery",
    "title": "到貨通知",
    "body": "{{name}} 您好，您的訂單 {{order_no}} 已送達門市，請於 7 日內取貨。",
    "placeholders": ["name", "order_no"],
    "fields": [{"label": "訂單編號", "value": "{{order_no}}", "kind": "order_number"}],
    "cta_label": "查看訂單",
    "cta_kind": "link",
    "cta_url": "https://shop.bearfood.example/orders/{{order_no}}",
}
BILL = {
    "scenario": "bill",
    "title": "帳單繳費提醒",
    "body": "{{name}} 您好，您本期帳單 {{amount}} 元將於 {{due}} 到期。",
    "placeholders": ["name", "amount", "due"],
    "fields": [{"label": "姓名", "value": "{{name}}", "kind": "name", "masked": True}],
    "cta_label": "",
    "cta_kind": "",
    "cta_url": "",
    "exempt": True,
}
REVIEWED = {
    **DELIVERY,
    "title": "取貨提醒",
    "body": "{{name}} 您好，您的訂單 {{order_no}} 明天截止取貨。",
}
REJECTED = {**DELIVERY, "title": "會員好禮", "body": "{{name}} 您好，本週會員限定好禮等您來拿！"}
REJECTION_REASON = (
    "此內容屬於行銷訊息，不符合通知型訊息的使用情境；請改為交易或服務相關的通知後再送審。"
)

# name, basic ID (accounts of seed_billing's BRANCHES), stage the application is brought to
STAGES = [
    Stage.DRAFT,
    Stage.SCENARIO_REVIEW,
    Stage.CONTRACT,
    Stage.TESTING,
    Stage.REJECTED,
    Stage.SUSPENDED,
]
APPLICATIONS = [
    (name, basic_id, stage) for (name, basic_id), stage in zip(BRANCHES, STAGES, strict=True)
]
APPLICATION_REJECTED = "使用情境說明未載明通知內容與觸發時機，請補充後重新送出。"
APPLICATION_SUSPENDED = "近 7 日內收到多起用戶檢舉，暫停發送以待釐清。"


def _file(name: str, content: bytes = b"%PDF-1.4 demo") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, content)


class _Receiver(BaseHTTPRequestHandler):
    """The demo's webhook receiver: /ok answers 200, /flaky 500 once then 200, /gone 404."""

    seen: dict[str, int] = {}

    def do_POST(self):  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        count = self.seen[self.path] = self.seen.get(self.path, 0) + 1
        status = {"/ok": 200, "/gone": 404}.get(self.path, 500 if count == 1 else 200)
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok" if status == 200 else b"no")

    def log_message(self, *args):
        pass


class Command(BaseCommand):
    help = "Load idempotent notification-message demo data (run after seed_billing)."

    def handle(self, *args, **options):
        User = get_user_model()
        bear = Organization.objects.filter(business_number="53212539").first()
        live_account = Account.objects.filter(basic_id=LIVE_ACCOUNT).first()
        if (
            bear is None
            or live_account is None
            or not Subscription.objects.filter(account=live_account).exists()
        ):
            raise CommandError(
                "Run `manage.py seed_demo`, `seed_billing` and `seed_audiences` first."
            )
        self.admin = Membership.objects.filter(organization=bear, role="admin").first().user
        self.reviewer = User.objects.get(username="reviewer")
        self.manager = User.objects.get(username="accountmanager")
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            self._live(live_account)
            versions = self._templates(live_account)
            self._applications(bear)
            self._notices(live_account, versions)
        self.stdout.write(
            self.style.SUCCESS(
                f"Notification demo data ready: {Application.objects.count()} applications, "
                f"{TemplateVersion.objects.count()} template versions, "
                f"{Notice.objects.count():,} notices, {WebhookDelivery.objects.count()} webhooks. "
                f"Token for a push: manage.py create_channel_token {LIVE_ACCOUNT}"
            )
        )

    # --- Applications ------------------------------------------------------------------------

    def _live(self, account):
        if Application.objects.filter(account=account).exists():
            return
        app = self._apply(account, ["delivery", "bill"])
        self._to_stage(app, Stage.LIVE)

    def _apply(self, account, scenarios):
        app = services.application_create(
            actor=self.admin,
            account_id=account.pk,
            scenarios=scenarios,
            use_description="訂單到店與帳單到期時，以手機號碼通知會員。",
        )
        return services.application_update(
            actor=self.admin,
            application_id=app.pk,
            files={
                "purchase_agreement": _file("purchase-agreement.pdf"),
                "nda": _file("nda.pdf"),
                "test_recording": _file("test-recording.mp4", b"demo video"),
            },
        )

    def _to_stage(self, app, stage):
        if stage == Stage.DRAFT:
            return app
        app = services.application_submit(actor=self.admin, application_id=app.pk)
        if stage == Stage.REJECTED:
            return services.application_reject(
                actor=self.reviewer, application_id=app.pk, reason=APPLICATION_REJECTED
            )
        path = [Stage.SCENARIO_REVIEW, Stage.CONTRACT, Stage.TESTING, Stage.LIVE]
        target = Stage.LIVE if stage == Stage.SUSPENDED else stage
        while app.stage != target:
            app = services.application_advance(
                actor=self.reviewer,
                application_id=app.pk,
                reason="文件齊全，進入下一階段。" if path.index(app.stage) == 0 else "",
            )
        if stage == Stage.SUSPENDED:
            app = services.application_suspend(
                actor=self.reviewer, application_id=app.pk, reason=APPLICATION_SUSPENDED
            )
        return app

    def _applications(self, bear):
        # The branches' accounts, links and Light plans come from seed_billing (before
        # seed_audiences, which gives every Official Account its friends).
        for _name, basic_id, stage in APPLICATIONS:
            account = Account.objects.filter(basic_id=basic_id).first()
            if account is None:
                raise CommandError("Run `manage.py seed_billing` first.")
            if not Application.objects.filter(account=account).exists():
                self._to_stage(self._apply(account, ["delivery"]), stage)

    # --- Templates ---------------------------------------------------------------------------

    def _template(self, account, name, content, *, decision=None, reason=""):
        template = Template.objects.filter(account=account, name=name).first()
        if template is not None:
            return template.versions.order_by("-number").first()
        version = services.template_create(
            actor=self.admin, account_id=account.pk, name=name, content=content
        )
        if decision is None:
            return version
        version = services.template_submit(actor=self.admin, version_id=version.pk)
        if decision == "pending":
            return version
        return services.template_review(
            actor=self.reviewer, version_id=version.pk, decision=decision, reason=reason
        )

    def _templates(self, account):
        delivery = self._template(
            account, "到貨通知", DELIVERY, decision="approved", reason="內容符合到貨通知情境。"
        )
        bill = self._template(account, "帳單繳費提醒（免簡訊驗證）", BILL, decision="approved")
        self._template(account, "取貨提醒", REVIEWED, decision="pending")
        self._template(account, "會員好禮", REJECTED, decision="rejected", reason=REJECTION_REASON)
        self._template(account, "問卷邀請（草稿）", {**DELIVERY, "title": "問卷邀請"})
        return {"delivery": delivery, "bill": bill}

    # --- Notices and webhooks ----------------------------------------------------------------

    def _phones(self):
        """Demo phone numbers by what the LINE user directory says of them."""
        now = timezone.now()
        recent = services.months_before(now, SMS_VERIFICATION_MONTHS)
        ids = {demo_user_id(n): n for n in range(400)}
        found = {"verified": [], "unverified": [], "unanswered": [], "unknown": []}
        users = LineUser.objects.filter(user_id__in=ids).values_list(
            "user_id", "phone_hash", "notification_consent", "sms_verified_at"
        )
        for user_id, phone_hash, consent, verified in users:
            n = ids[user_id]
            if phone_hash is None:
                found["unknown"].append(demo_phone(n))  # nobody registered this number
            elif consent == "on" and verified and verified >= recent:
                found["verified"].append(demo_phone(n))
            elif consent == "on":
                found["unverified"].append(demo_phone(n))
            elif consent == "unanswered":
                found["unanswered"].append(demo_phone(n))
        return found

    def _notices(self, account, versions):
        if Notice.objects.filter(account=account, state=Notice.State.FAILED).exists():
            return  # the failed notices are sent last: everything before them is there
        phones = self._phones()
        delivery, bill = versions["delivery"], versions["bill"]

        def send(version, phone, n):
            values = (
                {"name": "王小明", "order_no": f"BF{20260000 + n}"}
                if version == delivery
                else {"name": "陳美麗", "amount": "1,280", "due": "12 月 15 日"}
            )
            return services.notice_send(
                account_id=account.pk, to=phone, template_version_id=version.pk, values=values
            )

        channel = channel_ensure(account=account)
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            # Delivered, each with its webhook: sent at once, sent on the retry, failed.
            for path, phone in zip(
                ["/ok", "/flaky", "/gone"], phones["verified"][:3], strict=False
            ):
                self._set_webhook(channel, base + path)
                try:
                    send(delivery, phone, len(path))
                except Retry:
                    pass  # eager Celery: the 500 asks for a retry, made just below
                services.notices_finish()  # charges the notice and queues its webhook
                self._attempt_webhooks(account)
            self._set_webhook(channel, "")
            for n, phone in enumerate(phones["verified"][3:12]):
                send(delivery, phone, n)  # delivered (no webhook URL any more)
            for n, phone in enumerate(phones["unverified"][:4]):
                send(bill, phone, n)  # delivered: the template is exempt from SMS verification
                send(delivery, phone, n)  # pending: SMS verification first
            for n, phone in enumerate(phones["unanswered"][:3]):
                send(delivery, phone, n)  # pending: the consent page first
            for n, phone in enumerate(phones["unknown"][:2]):
                send(delivery, phone, n)  # failed: no LINE user has this number
            services.notices_finish()
        finally:
            server.shutdown()
            server.server_close()

    def _attempt_webhooks(self, account):
        """Where no worker ran the webhook task at once (no eager Celery), attempt here."""
        for delivery in WebhookDelivery.objects.filter(
            account=account,
            state__in=(WebhookDelivery.State.QUEUED, WebhookDelivery.State.RETRYING),
        ):
            for attempt in range(3):
                try:
                    services.webhook_attempt(delivery_id=delivery.pk, final=attempt == 2)
                    break
                except services.WebhookTemporaryError:
                    continue

    @transaction.atomic
    def _set_webhook(self, channel, url):
        from lbm.audit import record_change

        channel.refresh_from_db()
        if channel.webhook_url == url:
            return
        channel.webhook_url = url
        record_change(
            channel,
            actor=self.manager,
            reason="示範資料：webhook 接收端" if url else "示範資料：清除 webhook URL",
        )
        channel.save(update_fields=["webhook_url"])
