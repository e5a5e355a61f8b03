"""Notification messages, statistics and narrowcast through the official line-bot-sdk 3.27.0,
and the SDK's WebhookParser accepting our signed ``delivery`` events."""

import hashlib
import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from linebot.v3 import WebhookParser
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    AudienceRecipient,
    Configuration,
    MessagingApi,
    NarrowcastRequest,
    PnpMessagesRequest,
    TextMessage,
)
from linebot.v3.webhooks import PnpDeliveryCompletionEvent

from audiences.models import Friendship
from billing.models import UsageRecord
from lbm import channels
from notifications.models import Notice
from tests.audiences import factories as af
from tests.notifications import factories as lon
from tests.notifications.receiver import Receiver

pytestmark = pytest.mark.django_db(transaction=True)
TEXT = "到貨通知\n王小明 您好，您的訂單 A123456 已送達門市。"


@pytest.fixture
def receiver():
    r = Receiver()
    r.thread.start()
    yield r
    r.server.shutdown()


@pytest.fixture
def setup(receiver):
    data = lon.live_setup(webhook_url=receiver.url)
    _row, data["token"] = channels.token_issue(account=data["account"])
    return data


def api_for(live_server, token) -> MessagingApi:
    return MessagingApi(ApiClient(Configuration(host=live_server.url, access_token=token)))


def sha(e164: str) -> str:
    return hashlib.sha256(e164.encode()).hexdigest()


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_push_by_phone_delivers_and_the_sdk_parses_our_signed_webhook(live_server, setup, receiver):
    _user, phone = lon.line_user(consent="on", verified_days_ago=10)
    tag = "order-A123456-2026-11"
    api_for(live_server, setup["token"]).push_messages_by_phone(
        PnpMessagesRequest(to=sha(phone), messages=[TextMessage(text=TEXT)]),
        x_line_delivery_tag=tag,
    )
    notice = Notice.objects.get()
    assert notice.state == Notice.State.DELIVERED
    assert notice.template_version_id == setup["version"].pk
    assert wait_for(lambda: receiver.requests)
    headers, body = receiver.requests[0]
    parser = WebhookParser(setup["channel"].channel_secret)
    events = parser.parse(body.decode(), headers["X-Line-Signature"])
    assert isinstance(events[0], PnpDeliveryCompletionEvent)
    assert events[0].delivery.data == tag
    assert UsageRecord.objects.get(kind="notification").recipients == 1


def test_webhook_carries_the_hash_when_no_tag_was_given(live_server, setup, receiver):
    _user, phone = lon.line_user()
    api_for(live_server, setup["token"]).push_messages_by_phone(
        PnpMessagesRequest(to=sha(phone), messages=[TextMessage(text=TEXT)])
    )
    assert wait_for(lambda: receiver.requests)
    headers, body = receiver.requests[0]
    events = WebhookParser(setup["channel"].channel_secret).parse(
        body.decode(), headers["X-Line-Signature"]
    )
    assert events[0].delivery.data == sha(phone)


def test_unknown_number_is_422_at_once_and_not_charged(live_server, setup):
    with pytest.raises(ApiException) as error:
        api_for(live_server, setup["token"]).push_messages_by_phone(
            PnpMessagesRequest(to=sha("+886987654321"), messages=[TextMessage(text=TEXT)])
        )
    assert error.value.status == 422
    assert Notice.objects.get().state == Notice.State.FAILED
    assert not UsageRecord.objects.filter(kind="notification").exists()


def test_text_outside_an_approved_template_is_refused(live_server, setup):
    _user, phone = lon.line_user()
    with pytest.raises(ApiException) as error:
        api_for(live_server, setup["token"]).push_messages_by_phone(
            PnpMessagesRequest(to=sha(phone), messages=[TextMessage(text="限時優惠！全館五折")])
        )
    assert error.value.status == 400
    assert "approved notification template" in error.value.body
    assert not Notice.objects.exists()


def test_a_channel_without_a_live_application_gets_403(live_server, setup):
    from notifications import services as lon_services

    lon_services.application_suspend(
        actor=setup["reviewer"], application_id=setup["application"].pk, reason="違規廣告"
    )
    _user, phone = lon.line_user()
    with pytest.raises(ApiException) as error:
        api_for(live_server, setup["token"]).push_messages_by_phone(
            PnpMessagesRequest(to=sha(phone), messages=[TextMessage(text=TEXT)])
        )
    assert error.value.status == 403


def test_statistics_of_a_japan_day(live_server, setup):
    for _ in range(20):
        _user, phone = lon.line_user()
        api_for(live_server, setup["token"]).push_messages_by_phone(
            PnpMessagesRequest(to=sha(phone), messages=[TextMessage(text=TEXT)])
        )
    day = Notice.objects.first().line_day
    api = api_for(live_server, setup["token"])
    assert api.get_pnp_message_statistics(day.strftime("%Y%m%d")).status == "unready"
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        stats = api.get_pnp_message_statistics(day.strftime("%Y%m%d"))
    assert (stats.status, stats.success) == ("ready", 20)


def _audience_with_friends(setup, *, friends: int, blocked: int = 0):
    org, account = setup["org"], setup["account"]
    org.share_mode = "share_all"
    org.save(update_fields=["share_mode"])
    phones = []
    for n in range(friends + blocked):
        _user, phone = lon.line_user(
            account=account, friendship="friend" if n < friends else "blocked"
        )
        phones.append(phone)
    phones += af.phones(100, start=900)  # members who are nobody's friends
    return af.upload_audience(org, setup["admin"], phones, name=f"名單 {friends}")


def test_narrowcast_reaches_only_unblocked_friends_and_counts_them(live_server, setup):
    audience = _audience_with_friends(setup, friends=60, blocked=7)
    assert Friendship.objects.filter(state="blocked").count() == 7
    api_for(live_server, setup["token"]).narrowcast(
        NarrowcastRequest(
            messages=[TextMessage(text="會員日提醒")],
            recipient=AudienceRecipient(audience_group_id=audience.pk),
        )
    )
    usage = UsageRecord.objects.get(kind="narrowcast")
    assert usage.recipients == 60


def test_narrowcast_needs_50_reachable(live_server, setup):
    audience = _audience_with_friends(setup, friends=49)
    with pytest.raises(ApiException) as error:
        api_for(live_server, setup["token"]).narrowcast(
            NarrowcastRequest(
                messages=[TextMessage(text="會員日提醒")],
                recipient=AudienceRecipient(audience_group_id=audience.pk),
            )
        )
    assert error.value.status == 400
    assert "AUDIENCE_GROUP_AUDIENCE_INSUFFICIENT" in error.value.body
    assert not UsageRecord.objects.filter(kind="narrowcast").exists()


def test_narrowcast_over_the_light_quota_is_refused(live_server, setup):
    audience = _audience_with_friends(setup, friends=60)
    from billing import services as billing

    billing.usage_record(
        account_id=setup["account"].pk, kind="broadcast", recipients=180, sent_at=timezone.now()
    )
    with pytest.raises(ApiException) as error:
        api_for(live_server, setup["token"]).narrowcast(
            NarrowcastRequest(
                messages=[TextMessage(text="會員日提醒")],
                recipient=AudienceRecipient(audience_group_id=audience.pk),
            )
        )
    assert error.value.status == 429
    assert "monthly limit" in error.value.body
    assert not UsageRecord.objects.filter(kind="narrowcast").exists()
