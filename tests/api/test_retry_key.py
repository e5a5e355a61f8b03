"""``X-Line-Retry-Key`` (docs/api.md#retry-keys): a send retried with the key of an accepted one
is answered 409 with ``X-Line-Accepted-Request-Id``, and nothing is recorded a second time."""

import hashlib
import threading
import uuid
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from rest_framework.test import APIClient

from billing.models import Subscription, UsageRecord
from lbm import channels
from notifications import retry_keys
from notifications.models import Notice, RetryKey
from tests.audiences import factories as af
from tests.notifications import factories as lonf

TEXT = "到貨通知\n王小明 您好，您的訂單 A123456 已送達門市。"
ACCEPTED = {"message": "The retry key is already accepted"}


def client_for(account) -> APIClient:
    _row, token = channels.token_issue(account=account)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.fixture
def live(db):
    data = lonf.live_setup()
    data["client"] = client_for(data["account"])
    return data


def push(client, phone, key=None):
    headers = {"HTTP_X_LINE_RETRY_KEY": key} if key is not None else {}
    return client.post(
        "/bot/pnp/push",
        {
            "to": hashlib.sha256(phone.encode()).hexdigest(),
            "messages": [{"type": "text", "text": TEXT}],
        },
        format="json",
        **headers,
    )


@pytest.mark.django_db
def test_a_retried_push_is_409_with_the_accepted_request_id_and_recorded_once(live):
    _user, phone = lonf.line_user()
    key = str(uuid.uuid4())
    first = push(live["client"], phone, key)
    assert first.status_code == 200
    again = push(live["client"], phone, key)
    assert again.status_code == 409
    assert again.json() == ACCEPTED
    assert again["X-Line-Accepted-Request-Id"] == first["X-Line-Request-Id"]
    assert again["X-Line-Request-Id"] != first["X-Line-Request-Id"]
    assert Notice.objects.count() == 1
    # Another key, or none, is another send.
    assert push(live["client"], phone, str(uuid.uuid4())).status_code == 200
    assert push(live["client"], phone).status_code == 200
    assert Notice.objects.count() == 3


@pytest.mark.django_db
def test_keys_are_per_channel(live):
    other = lonf.live_setup()
    _user, phone = lonf.line_user()
    key = str(uuid.uuid4())
    assert push(live["client"], phone, key).status_code == 200
    assert push(client_for(other["account"]), phone, key).status_code == 200
    assert Notice.objects.count() == 2
    assert RetryKey.objects.filter(key=key).count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "key",
    [
        "not-a-uuid",
        "123e4567e89b12d3a456426614174000",
        "{123e4567-e89b-12d3-a456-426614174000}",
        "123e4567-e89b-12d3-a456-4266141740001",
        "x" * 5000,
    ],
)
def test_a_malformed_key_is_400_and_nothing_is_sent(live, key):
    _user, phone = lonf.line_user()
    response = push(live["client"], phone, key)
    assert response.status_code == 400
    assert response.json()["details"][0]["property"] == "X-Line-Retry-Key"
    assert not Notice.objects.exists() and not RetryKey.objects.exists()


@pytest.mark.django_db
def test_a_refused_send_releases_its_key(live):
    """Only an accepted request holds its key: after a refusal the same key may be retried."""
    _user, phone = lonf.line_user()
    key = str(uuid.uuid4())
    subscription = Subscription.objects.get(account=live["account"])
    subscription.suspended_at = timezone.now()
    subscription.save()
    assert push(live["client"], phone, key).status_code == 400
    assert not RetryKey.objects.exists()
    subscription.suspended_at = None
    subscription.save()
    assert push(live["client"], phone, key).status_code == 200
    assert Notice.objects.count() == 1


@pytest.mark.django_db
def test_a_key_is_free_again_after_24_hours_and_purged(live):
    _user, phone = lonf.line_user()
    key = str(uuid.uuid4())
    assert push(live["client"], phone, key).status_code == 200
    with time_machine.travel(timezone.now() + timedelta(hours=23, minutes=59)):
        assert push(live["client"], phone, key).status_code == 409
        assert retry_keys.retry_keys_purge() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=24, minutes=1)):
        assert push(live["client"], phone, key).status_code == 200
    assert Notice.objects.count() == 2
    assert retry_keys.retry_keys_purge(now=timezone.now() + timedelta(hours=49)) == 1
    assert not RetryKey.objects.exists()


@pytest.mark.django_db
def test_the_hourly_purge_task_forgets_old_keys(live):
    from notifications.tasks import purge_personal_data

    _user, phone = lonf.line_user()
    assert push(live["client"], phone, str(uuid.uuid4())).status_code == 200
    purge_personal_data()
    assert RetryKey.objects.count() == 1
    with time_machine.travel(timezone.now() + timedelta(hours=25)):
        purge_personal_data()
    assert not RetryKey.objects.exists()


@pytest.mark.django_db
def test_a_retried_narrowcast_is_409_and_counted_once(live, django_capture_on_commit_callbacks):
    org, account = live["org"], live["account"]
    org.share_mode = "share_all"
    org.save(update_fields=["share_mode"])
    phones = [lonf.line_user(account=account, friendship="friend")[1] for _ in range(50)]
    phones += af.phones(100, start=7000)  # shared to an Official Account from 100 members
    with django_capture_on_commit_callbacks(execute=True):  # the import and the sharing
        audience = af.upload_audience(org, live["admin"], phones, name="重試名單")
    body = {
        "messages": [{"type": "text", "text": "會員日"}],
        "recipient": {"type": "audience", "audienceGroupId": audience.pk},
    }
    key = str(uuid.uuid4())
    first = live["client"].post(
        "/v2/bot/message/narrowcast", body, format="json", HTTP_X_LINE_RETRY_KEY=key
    )
    assert first.status_code == 202
    again = live["client"].post(
        "/v2/bot/message/narrowcast", body, format="json", HTTP_X_LINE_RETRY_KEY=key
    )
    assert again.status_code == 409 and again.json() == ACCEPTED
    assert again["X-Line-Accepted-Request-Id"] == first["X-Line-Request-Id"]
    assert UsageRecord.objects.filter(kind="narrowcast").count() == 1
    bad = live["client"].post(
        "/v2/bot/message/narrowcast", body, format="json", HTTP_X_LINE_RETRY_KEY="retry-1"
    )
    assert bad.status_code == 400
    assert UsageRecord.objects.filter(kind="narrowcast").count() == 1


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_retries_on_postgresql_send_once():
    """Eight requests with one key at once, each on its own connection: one is accepted, the
    others meet the unique constraint and answer 409 naming it."""
    from django.db import connection

    assert connection.vendor == "postgresql"
    data = lonf.live_setup()
    _row, token = channels.token_issue(account=data["account"])
    _user, phone = lonf.line_user()
    key = str(uuid.uuid4())
    barrier = threading.Barrier(8)
    answers = []

    def send():
        from django.db import connection as own

        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        try:
            barrier.wait()
            response = push(client, phone, key)
            answers.append(
                (
                    response.status_code,
                    response.get("X-Line-Request-Id"),
                    response.get("X-Line-Accepted-Request-Id"),
                )
            )
        finally:
            own.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    codes = sorted(code for code, _id, _accepted in answers)
    assert codes == [200] + [409] * 7, answers
    accepted_id = next(request_id for code, request_id, _a in answers if code == 200)
    assert {a for code, _id, a in answers if code == 409} == {accepted_id}
    assert Notice.objects.filter(account=data["account"]).count() == 1
    assert RetryKey.objects.get(key=key).request_id == accepted_id
