"""Delivery records: daily counts on Japan time, statistics, purge of personal data, the beat
schedule, ordinary pushes to non-friends, and the hashing helpers."""

from datetime import date, timedelta

import pytest
import time_machine
from django_celery_beat.models import PeriodicTask

from lbm import pii
from notifications import crypto, selectors, services
from notifications.exceptions import NotAFriend
from notifications.models import Notice
from tests import factories
from tests.notifications import factories as lon

pytestmark = pytest.mark.django_db


def test_daily_counts_use_the_japan_day_of_acceptance(live, send):
    with time_machine.travel("2025-03-10 14:30:00+00:00", tick=False):  # 23:30 Tokyo, 10 Mar
        _user, phone = lon.line_user()
        send(phone)
        send("0987000111")
    with time_machine.travel("2025-03-10 15:30:00+00:00", tick=False):  # 00:30 Tokyo, 11 Mar
        send(phone)
    counts = selectors.daily_counts(
        account_id=live["account"].pk, start=date(2025, 3, 10), end=date(2025, 3, 12)
    )
    assert [(c.day.day, c.delivered, c.failed, c.pending) for c in counts] == [
        (10, 1, 1, 0),
        (11, 1, 0, 0),
        (12, 0, 0, 0),
    ]


def test_delivery_statistics_like_the_messaging_api(live, send):
    with time_machine.travel("2025-03-10 03:00:00+00:00", tick=False):
        _user, phone = lon.line_user()
        for _ in range(20):
            send(phone)
        stats = selectors.delivery_statistics(account_id=live["account"].pk, day=date(2025, 3, 10))
        assert stats == {"status": "unready"}
    with time_machine.travel("2025-03-11 03:00:00+00:00", tick=False):
        assert selectors.delivery_statistics(
            account_id=live["account"].pk, day=date(2025, 3, 10)
        ) == {"status": "ready", "success": 20}
        assert selectors.delivery_statistics(
            account_id=live["account"].pk, day=date(2025, 3, 9)
        ) == {"status": "unavailable_for_privacy"}
    assert selectors.delivery_statistics(account_id=live["account"].pk, day=date(2018, 1, 1)) == {
        "status": "out_of_service"
    }


def test_purge_clears_the_encrypted_hash_after_retention(live, send):
    with time_machine.travel("2025-03-01 03:00:00+00:00", tick=False) as clock:
        failed = send("0987000111")
        _user, phone = lon.line_user(consent="unanswered")
        pending = send(phone)
        clock.shift(timedelta(days=29))
        assert services.notices_purge() == 0
        clock.shift(timedelta(days=1, minutes=1))
        assert services.notices_purge() == 1
        failed.refresh_from_db()
        assert failed.line_hash_secret == "" and failed.purged_at is not None
        assert failed.phone_hash  # the keyed hash stays for counting
        services.notices_settle()
        pending.refresh_from_db()
        assert pending.state == "failed" and pending.line_hash_secret
        assert services.notices_purge() == 0  # idempotent


def test_beat_schedule_is_installed():
    tasks = dict(PeriodicTask.objects.values_list("task", "interval__every"))
    assert tasks["notifications.settle_notices"] == 5
    assert "notifications.purge_personal_data" in tasks


def test_settle_task_is_idempotent(live, send):
    from notifications.tasks import settle_notices

    with time_machine.travel("2025-03-01 03:00:00+00:00", tick=False) as clock:
        _user, phone = lon.line_user(consent="off")
        send(phone)
        clock.shift(timedelta(hours=25))
        assert settle_notices() == {"delivered": 0, "failed": 1, "still_pending": 0}
        assert settle_notices() == {"delivered": 0, "failed": 0, "still_pending": 0}
    assert Notice.objects.get().reason == "consent_off"


@pytest.mark.parametrize(
    "friendship,allowed",
    [
        ("friend", True),
        ("hidden", True),
        ("blocked", False),
        ("blocked_unlisted", False),
        ("blocked_chat_deleted", False),
        ("hidden_unlisted", False),
        (None, False),
    ],
)
def test_ordinary_push_only_to_friends(live, friendship, allowed):
    user, _phone = lon.line_user(account=live["account"], friendship=friendship)
    if allowed:
        services.push_check(account=live["account"], user_id=user.user_id)
    else:
        with pytest.raises(NotAFriend) as info:
            services.push_check(account=live["account"], user_id=user.user_id)
        assert ("blocks this Official Account" if friendship else "is not a friend") in str(
            info.value
        )
    refused = services.push_refusals(
        account_id=live["account"].pk, user_ids=[user.user_id, "U" + "0" * 32]
    )
    assert refused == ([] if allowed else [user.user_id]) + ["U" + "0" * 32]


def test_push_check_for_a_friend_of_another_account(live):
    other = factories.AccountFactory()
    user, _phone = lon.line_user(account=other, friendship="friend")
    with pytest.raises(NotAFriend):
        services.push_check(account=live["account"], user_id=user.user_id)


@pytest.mark.parametrize(
    "raw",
    [
        "0912345678",
        "0912-345-678",
        "+886 912 345 678",
        "+886912345678",
        "0987654321",
        "+81 90-1234-5678",
        "02-2720-1234",
        "(02) 2720 1234",
    ],
)
def test_fast_normalisation_agrees_with_libphonenumber(raw):
    assert services.e164_of(raw) == pii.normalise_phone(raw)


def test_batch_keyed_hash_agrees_with_the_directory():
    line_hash = pii.sha256_hex("+886912345678")
    assert services._keyed_hasher()(line_hash) == pii.keyed_hash(line_hash)


def test_encryption_key_follows_pii_hash_key(settings):
    token = crypto.encrypt("secret")
    assert crypto.decrypt(token) == "secret" and "secret" not in token
    settings.PII_HASH_KEY = "another-key"
    assert crypto.decrypt(token) == ""


def test_event_ids_are_ulids():
    ids = {services.new_event_id() for _ in range(100)}
    assert len(ids) == 100 and all(len(i) == 26 for i in ids)
