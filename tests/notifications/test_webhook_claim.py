"""A webhook attempt is claimed before its POST (docs/notifications.md#webhooks): two
executions of one delivery POST once, an attempt cut off by a killed process makes the next one
a redelivery, and the task has an overall deadline."""

import json
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from notifications import services
from notifications.models import WebhookDelivery
from notifications.tasks import deliver_webhook
from tests.notifications import factories as lon
from tests.notifications.receiver import Receiver


def _point(live, url):
    live["channel"].webhook_url = url
    live["channel"].save(update_fields=["webhook_url"])


def _redelivery_flags(receiver):
    return [
        json.loads(body)["events"][0]["deliveryContext"]["isRedelivery"]
        for _headers, body in receiver.requests
    ]


@pytest.mark.django_db
def test_a_claimed_attempt_is_not_posted_twice_and_a_lost_one_makes_a_redelivery(live, send):
    _user, phone = lon.line_user()
    with Receiver() as receiver:
        _point(live, receiver.url)
        notice = send(phone)  # eager: the notice's delivery event is sent by finish_notices
        delivery = WebhookDelivery.objects.get(notice=notice)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state="queued", attempts=0, finished_at=None
        )
        receiver.requests.clear()
        # Another execution claimed the attempt and was then killed during its POST.
        assert services._claim(delivery.pk, timezone.now()) == 0
        with pytest.raises(services.WebhookTemporaryError, match="another execution"):
            services.webhook_attempt(delivery_id=delivery.pk)
        assert receiver.requests == []
        # Once the claim has lapsed the next execution POSTs, as a redelivery.
        with time_machine.travel(timezone.now() + services.WEBHOOK_CLAIM + timedelta(seconds=1)):
            assert services.webhook_attempt(delivery_id=delivery.pk).state == "sent"
            assert services.webhook_attempt(delivery_id=delivery.pk).state == "sent"  # no-op
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.claimed_until) == (2, None)
    assert _redelivery_flags(receiver) == [True]


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_two_executions_of_one_delivery_at_once_post_once():
    """PostgreSQL: both executions start together against a receiver that takes a second to
    answer; the conditional claim lets exactly one POST."""
    with Receiver() as receiver:
        handler = receiver.server.RequestHandlerClass
        original = handler.do_POST

        def slow_post(self):
            time.sleep(1.0)
            original(self)

        handler.do_POST = slow_post
        data = lon.live_setup(webhook_url=receiver.url)
        _user, phone = lon.line_user()
        notice = services.notice_send(
            account_id=data["account"].pk,
            to=phone,
            template_version_id=data["version"].pk,
            values=lon.VALUES,
        )
        services.notices_finish()
        delivery = WebhookDelivery.objects.get(notice=notice)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            state="queued", attempts=0, finished_at=None
        )
        receiver.requests.clear()
        outcomes = []
        barrier = threading.Barrier(2)

        def run():
            from django.db import connection

            barrier.wait()
            try:
                outcomes.append(services.webhook_attempt(delivery_id=delivery.pk).state)
            except services.WebhookTemporaryError:
                outcomes.append("claimed elsewhere")
            finally:
                connection.close()

        threads = [threading.Thread(target=run) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert sorted(outcomes) == ["claimed elsewhere", "sent"]
    assert len(receiver.requests) == 1 and _redelivery_flags(receiver) == [False]
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == ("sent", 1)


def test_an_attempt_has_an_overall_deadline():
    assert deliver_webhook.time_limit == services.WEBHOOK_TIME_LIMIT
    assert deliver_webhook.soft_time_limit < deliver_webhook.time_limit
    assert services.WEBHOOK_CLAIM.total_seconds() > services.WEBHOOK_TIME_LIMIT
    from celery.exceptions import SoftTimeLimitExceeded

    assert SoftTimeLimitExceeded in deliver_webhook.autoretry_for  # never left with no task
