"""Notifications and the outbox (docs/reliability.md): a push refused with nothing recorded
when the broker is out of reach, webhooks queued through the outbox, the webhook sweep, and the
webhook client's overall deadline."""

import hashlib
import socket
import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from lbm import channels, outbox
from lbm.models import OutboxMessage
from notifications import services
from notifications.models import Notice, WebhookAttempt, WebhookDelivery
from notifications.services import webhooks
from tests.notifications import factories as lon
from tests.notifications.receiver import Receiver

pytestmark = pytest.mark.django_db

TEXT = "到貨通知\n王小明 您好，您的訂單 A123456 已送達門市。"


def _client(account):
    _row, token = channels.token_issue(account=account)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _push(client, phone):
    return client.post(
        "/bot/pnp/push",
        {
            "to": hashlib.sha256(phone.encode()).hexdigest(),
            "messages": [{"type": "text", "text": TEXT}],
        },
        format="json",
    )


def test_a_push_with_the_broker_unreachable_is_refused_with_nothing_recorded(live, broker):
    client = _client(live["account"])
    _user, phone = lon.line_user()
    broker.down()
    response = _push(client, phone)
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert int(response["Retry-After"]) > 0
    assert not Notice.objects.exists()  # the client's retry records it once
    broker.up()
    assert _push(client, phone).status_code == 200
    assert Notice.objects.count() == 1
    assert Notice.objects.get().charged_at is None  # finish_notices charges it (published)


def test_webhooks_of_a_batch_are_outbox_rows_published_after_commit(
    live, send, broker, django_capture_on_commit_callbacks
):
    live["channel"].webhook_url = "http://127.0.0.1:9/hook"
    live["channel"].save(update_fields=["webhook_url"])
    OutboxMessage.objects.all().delete()  # the setup's own (link sync, e-mails)
    broker.down()
    _user, phone = lon.line_user()
    with django_capture_on_commit_callbacks(execute=True):
        notice = send(phone)
    delivery = WebhookDelivery.objects.get(notice=notice)
    entry = OutboxMessage.objects.get(task="notifications.deliver_webhook")
    assert entry.kwargs == {"delivery_id": delivery.pk} and entry.published_at is None
    broker.up()
    assert outbox.sweep(now=timezone.now() + outbox.SWEEP_AFTER + timedelta(seconds=1)) == 1
    entry.refresh_from_db()
    assert entry.published_at is not None


def _delivery(live, *, age, attempts=0, state="queued", claimed_until=None, last_attempt=None):
    _user, phone = lon.line_user()
    notice = services.notice_send(
        account_id=live["account"].pk,
        to=phone,
        template_version_id=live["version"].pk,
        values=lon.VALUES,
    )
    delivery = WebhookDelivery.objects.create(
        notice=notice,
        account=live["account"],
        webhook_event_id=services.new_event_id(),
        state=state,
        attempts=attempts,
        created_at=timezone.now() - age,
        claimed_until=claimed_until,
    )
    if last_attempt is not None:
        WebhookAttempt.objects.create(
            delivery=delivery,
            attempted_at=timezone.now() - last_attempt,
            url="http://127.0.0.1:9/hook",
            error="refused",
        )
    return delivery


def test_the_webhook_sweep_requeues_a_lost_one_once_and_gives_up_an_exhausted_one(live, broker):
    stuck = services.WEBHOOK_STUCK_AFTER + timedelta(minutes=1)
    lost = _delivery(live, age=stuck)
    retrying = _delivery(live, age=stuck * 2, attempts=2, state="retrying", last_attempt=stuck)
    exhausted = _delivery(
        live,
        age=stuck * 3,
        attempts=services.WEBHOOK_MAX_ATTEMPTS,
        state="retrying",
        last_attempt=stuck,
    )
    claimed = _delivery(
        live, age=stuck, attempts=1, claimed_until=timezone.now() + timedelta(seconds=30)
    )
    recent_attempt = _delivery(
        live, age=stuck, attempts=1, state="retrying", last_attempt=timedelta(minutes=1)
    )
    fresh = _delivery(live, age=timedelta(minutes=1))
    OutboxMessage.objects.all().delete()
    broker.up()
    assert services.webhooks_sweep() == {"requeued": 2, "failed": 1}
    requeued = sorted(
        OutboxMessage.objects.filter(task="notifications.deliver_webhook").values_list(
            "kwargs__delivery_id", flat=True
        )
    )
    assert requeued == sorted([lost.pk, retrying.pk])
    assert all(
        r.startswith("sweep:") for r in OutboxMessage.objects.values_list("reason", flat=True)
    )
    exhausted.refresh_from_db()
    assert exhausted.state == "failed" and exhausted.finished_at is not None
    assert "Given up by the sweep" in exhausted.attempt_rows.order_by("-pk").first().error
    for untouched in (claimed, recent_attempt, fresh):
        untouched.refresh_from_db()
        assert not untouched.done
    assert services.webhooks_sweep() == {"requeued": 0, "failed": 0}  # once per 15 minutes


def test_a_requeued_webhook_does_not_start_a_new_series_of_attempts(live):
    """The sweep's task has retries == 0, but the attempt count decides the last attempt."""
    delivery = _delivery(
        live, age=timedelta(hours=1), attempts=services.WEBHOOK_MAX_ATTEMPTS - 1, state="retrying"
    )
    live["channel"].webhook_url = "http://127.0.0.1:9/hook"  # refused
    live["channel"].save(update_fields=["webhook_url"])
    result = services.webhook_attempt(delivery_id=delivery.pk)
    assert result.state == "failed" and result.attempts == services.WEBHOOK_MAX_ATTEMPTS


class _Dripper:
    """A receiver that accepts the POST and then drips its status line a byte at a time."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.getsockname()[1]}/callback"

    def _serve(self):
        conn, _addr = self.server.accept()
        conn.recv(65536)
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"x" * 200:
            if self.stop.is_set():
                break
            try:
                conn.sendall(bytes([byte]))
            except OSError:
                break
            time.sleep(0.1)
        conn.close()

    def close(self):
        self.stop.set()
        self.server.close()


def test_a_receiver_that_drips_its_headers_is_cut_off_at_the_deadline(live, monkeypatch):
    monkeypatch.setattr(webhooks, "WEBHOOK_DEADLINE", 1.0)  # read inside services.webhooks
    dripper = _Dripper()
    try:
        delivery = _delivery(live, age=timedelta(seconds=1))
        live["channel"].webhook_url = dripper.url
        live["channel"].save(update_fields=["webhook_url"])
        started = time.monotonic()
        with pytest.raises(services.WebhookTemporaryError, match="deadline"):
            services.webhook_attempt(delivery_id=delivery.pk)
        # Each byte came well within the 10 s per-read timeout; the 1 s deadline ended it.
        assert time.monotonic() - started < 5
    finally:
        dripper.close()
    delivery.refresh_from_db()
    assert delivery.state == "retrying"
    assert "deadline" in delivery.attempt_rows.get().error


def test_the_webhook_client_is_pooled_and_posts_the_signed_body(
    live, send, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        live["channel"].webhook_url = receiver.url
        live["channel"].save(update_fields=["webhook_url"])
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                send(lon.line_user()[1])  # eager: each notice's webhook is POSTed
    assert len(receiver.requests) == 2
    for headers, body in receiver.requests:
        assert headers["X-Line-Signature"] == services.signature(
            body, live["channel"].channel_secret
        )
        assert headers["User-Agent"] == "LineBotWebhook/2.0"
    assert services.webhook_client() is services.webhook_client()  # one per process
