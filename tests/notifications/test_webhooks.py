"""The ``delivery`` webhook: body, X-Line-Signature checked independently, retries, records."""

import base64
import hashlib
import hmac
import json

import pytest
from celery.exceptions import Retry

from lbm import pii
from notifications import services
from notifications.models import WebhookAttempt, WebhookDelivery
from notifications.tasks import deliver_webhook
from tests.notifications import factories as lon
from tests.notifications.receiver import Receiver

pytestmark = pytest.mark.django_db


def expected_signature(body: bytes, secret: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _point(live, url):
    channel = live["channel"]
    channel.webhook_url = url
    channel.save(update_fields=["webhook_url"])


def test_delivered_notice_posts_a_signed_delivery_event(
    live, send, django_capture_on_commit_callbacks
):
    _user, phone = lon.line_user("+886912345678")
    with Receiver() as receiver:
        _point(live, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            notice = send(phone)
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Line-Signature"] == expected_signature(body, live["channel"].channel_secret)
    payload = json.loads(body)
    assert payload["destination"] == live["channel"].bot_user_id
    (event,) = payload["events"]
    assert event["type"] == "delivery" and event["mode"] == "active"
    assert event["delivery"] == {"data": pii.sha256_hex("+886912345678")}
    assert event["deliveryContext"] == {"isRedelivery": False}
    assert event["timestamp"] == int(notice.delivered_at.timestamp() * 1000)
    assert len(event["webhookEventId"]) == 26
    delivery = WebhookDelivery.objects.get(notice=notice)
    assert delivery.state == "sent" and delivery.attempts == 1
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert (attempt.status_code, attempt.url, attempt.response_excerpt) == (200, receiver.url, "ok")


def test_delivery_tag_replaces_the_hash(live, send, django_capture_on_commit_callbacks):
    _user, phone = lon.line_user()
    with Receiver() as receiver:
        _point(live, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            send(phone, delivery_tag="order-A123456-0001")
    assert json.loads(receiver.requests[0][1])["events"][0]["delivery"] == {
        "data": "order-A123456-0001"
    }


def test_no_webhook_for_failures_or_pending(live, send, django_capture_on_commit_callbacks):
    _user, phone = lon.line_user(consent="unanswered")
    with Receiver() as receiver:
        _point(live, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            send(phone)
            send("0987000111")
    assert receiver.requests == [] and not WebhookDelivery.objects.exists()


def test_server_errors_are_retried_then_sent(live, send, django_capture_on_commit_callbacks):
    _user, phone = lon.line_user()
    with Receiver(statuses=[500, 503]) as receiver:
        _point(live, receiver.url)
        # The first attempt runs eagerly and asks Celery for a retry (with backoff).
        with pytest.raises(Retry), django_capture_on_commit_callbacks(execute=True):
            notice = send(phone)
        delivery = WebhookDelivery.objects.get(notice=notice)
        assert (delivery.state, delivery.attempts) == ("retrying", 1)
        # What the retries do, run here without waiting for the backoff.
        with pytest.raises(services.WebhookTemporaryError):
            deliver_webhook.run(delivery_id=delivery.pk)
        assert deliver_webhook.run(delivery_id=delivery.pk) == "sent"
    delivery.refresh_from_db()
    assert delivery.state == "sent" and delivery.attempts == 3
    codes = list(delivery.attempt_rows.values_list("status_code", flat=True))
    assert codes == [500, 503, 200]
    assert [
        json.loads(b)["events"][0]["deliveryContext"]["isRedelivery"] for _h, b in receiver.requests
    ] == [False, True, True]


def test_client_error_is_not_retried(live, send, django_capture_on_commit_callbacks):
    _user, phone = lon.line_user()
    with Receiver(statuses=[404]) as receiver:
        _point(live, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            notice = send(phone)
    delivery = WebhookDelivery.objects.get(notice=notice)
    assert (delivery.state, delivery.attempts) == ("failed", 1)


def test_connection_refused_gives_up_after_the_last_retry(live, send):
    _user, phone = lon.line_user()
    with Receiver() as receiver:
        url = receiver.url
    _point(live, url)  # nobody listens there any more
    notice = send(phone)
    delivery = WebhookDelivery.objects.get(notice=notice)
    with pytest.raises(services.WebhookTemporaryError):
        services.webhook_attempt(delivery_id=delivery.pk)
    services.webhook_attempt(delivery_id=delivery.pk, final=True)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("failed", 2)
    assert all(a.error for a in delivery.attempt_rows.all())


def test_late_delivery_sends_its_webhook(live, send, django_capture_on_commit_callbacks):
    from audiences.models import LineUser

    user, phone = lon.line_user(consent="unanswered")
    notice = send(phone)
    LineUser.objects.filter(pk=user.pk).update(notification_consent="on")
    with Receiver() as receiver:
        _point(live, receiver.url)
        with django_capture_on_commit_callbacks(execute=True):
            services.notices_settle()
    assert len(receiver.requests) == 1
    assert WebhookDelivery.objects.get(notice=notice).state == "sent"


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_real_worker_delivers_a_signed_webhook(celery_worker):
    import time

    live = lon.live_setup()
    _user, phone = lon.line_user("+886911222333")
    with Receiver() as receiver:
        _point(live, receiver.url)
        notice = services.notice_send(
            account_id=live["account"].pk,
            to=phone,
            template_version_id=live["version"].pk,
            values=lon.VALUES,
            delivery_tag="integration-tag-0001",
        )
        deadline = time.monotonic() + 30
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.2)
        while (
            time.monotonic() < deadline
            and WebhookDelivery.objects.get(notice=notice).state != "sent"
        ):
            time.sleep(0.2)
    assert len(receiver.requests) == 1, celery_worker.log_path.read_text()[-2000:]
    headers, body = receiver.requests[0]
    assert headers["X-Line-Signature"] == expected_signature(body, live["channel"].channel_secret)
    assert json.loads(body)["events"][0]["delivery"]["data"] == "integration-tag-0001"
    assert WebhookDelivery.objects.get(notice=notice).state == "sent"
