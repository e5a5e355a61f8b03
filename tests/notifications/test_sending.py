"""Sending by phone number: the four conditions, the user-state table, the 24-hour rule,
billing only on delivery, and bad input refused with nothing recorded."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from audiences.models import Friendship, LineUser
from billing.models import UsageRecord
from lbm import pii
from notifications import crypto, services
from notifications.exceptions import SendRefused
from notifications.models import Notice
from tests.notifications import factories as lon

pytestmark = pytest.mark.django_db

NOW = "2025-03-10 02:00:00+00:00"


def charged(account) -> int:
    return sum(
        UsageRecord.objects.filter(account=account, kind="notification").values_list(
            "recipients", flat=True
        )
    )


# --- The user-state table (docs/notifications.md#sending) -------------------------------------


@pytest.mark.parametrize(
    "consent,verified_days_ago,state,reason,flow",
    [
        # consented
        ("on", 10, "delivered", "", ""),
        ("on", 200, "pending", "sms_unverified", "sms_verification"),
        ("on", None, "pending", "sms_unverified", "sms_verification"),
        # never answered: the consent page first, whatever the verification
        ("unanswered", 10, "pending", "consent_unanswered", "consent_page"),
        ("unanswered", 200, "pending", "consent_unanswered", "consent_page"),
        # turned off: never delivered (X), nothing shown
        ("off", 10, "pending", "consent_off", ""),
        ("off", 200, "pending", "consent_off", ""),
    ],
)
def test_user_state_table(live, send, consent, verified_days_ago, state, reason, flow):
    _user, phone = lon.line_user(consent=consent, verified_days_ago=verified_days_ago)
    notice = send(phone)
    assert (notice.state, notice.reason, notice.user_flow) == (state, reason, flow)
    assert charged(live["account"]) == (1 if state == "delivered" else 0)


def test_phone_mismatch_fails_at_once_and_is_free(live, send):
    notice = send("0987654321")
    assert notice.state == Notice.State.FAILED
    assert notice.reason == Notice.Reason.PHONE_MISMATCH
    assert notice.settled_at is not None
    assert charged(live["account"]) == 0


@pytest.mark.parametrize("friendship", list(Friendship.BLOCKING))
def test_every_kind_of_block_keeps_the_notice_pending(live, send, friendship):
    _user, phone = lon.line_user(account=live["account"], friendship=friendship)
    notice = send(phone)
    assert (notice.state, notice.reason) == ("pending", "blocked")


@pytest.mark.parametrize("friendship", [None, *Friendship.REACHABLE])
def test_friends_hidden_friends_and_non_friends_receive(live, send, friendship):
    _user, phone = lon.line_user(account=live["account"], friendship=friendship)
    assert send(phone).state == "delivered"


def test_block_of_another_account_does_not_matter(live, send):
    from tests import factories

    other = factories.AccountFactory()
    _user, phone = lon.line_user(account=other, friendship="blocked")
    assert send(phone).state == "delivered"


def test_six_months_is_calendar_months(live, send):
    with time_machine.travel("2025-08-31 03:00:00+00:00", tick=False):
        user, phone = lon.line_user(verified_days_ago=None)
        user.sms_verified_at = timezone.now().replace(month=2, day=28)  # 28 Feb = 6 months
        user.save()
        assert send(phone).state == "delivered"
        user.sms_verified_at -= timedelta(minutes=1)
        user.save()
        assert send(phone).reason == "sms_unverified"


def test_exempt_template_skips_sms_verification(live, send):
    v = lon.version(live["account"], admin=live["admin"], reviewer=live["reviewer"], exempt=True)
    _user, phone = lon.line_user(verified_days_ago=None)
    assert send(phone).reason == "sms_unverified"
    notice = services.notice_send(
        account_id=live["account"].pk, to=phone, template_version_id=v.pk, values=lon.VALUES
    )
    assert notice.state == "delivered"


def test_hash_and_every_phone_format_match_the_same_user(live, send):
    _user, phone = lon.line_user("+886912345678")
    for to in (
        "0912345678",
        "0912-345-678",
        "+886 912 345 678",
        "+886-912-345678",
        pii.sha256_hex("+886912345678"),
    ):
        assert send(to).state == "delivered", to


def test_personal_data_is_stored_only_hashed_or_encrypted(live, send):
    _user, phone = lon.line_user("+886912345678", consent="unanswered")
    notice = send("0912-345-678", delivery_tag="order-A123456-tag")
    row = Notice.objects.filter(pk=notice.pk).values().get()
    flat = repr(row)
    assert "912345678" not in flat and pii.sha256_hex("+886912345678") not in flat
    assert "王小明" not in flat
    assert row["phone_hash"] == pii.keyed_hash(pii.sha256_hex("+886912345678"))
    assert crypto.decrypt(row["line_hash_secret"]) == pii.sha256_hex("+886912345678")
    assert crypto.decrypt_json(row["values_secret"]) == lon.VALUES


# --- The 24-hour rule -------------------------------------------------------------------------


@pytest.mark.parametrize("change", ["consent", "verify", "unblock"])
def test_user_acting_within_24_hours_receives_the_notice(live, send, change):
    with time_machine.travel(NOW, tick=False) as clock:
        user, phone = lon.line_user(
            consent="unanswered" if change == "consent" else "on",
            verified_days_ago=None if change == "verify" else 10,
            account=live["account"],
            friendship="blocked" if change == "unblock" else None,
        )
        notice = send(phone)
        assert notice.state == "pending"
        clock.shift(timedelta(hours=23, minutes=50))
        if change == "consent":
            LineUser.objects.filter(pk=user.pk).update(notification_consent="on")
        elif change == "verify":
            LineUser.objects.filter(pk=user.pk).update(sms_verified_at=timezone.now())
        else:
            Friendship.objects.filter(line_user=user).update(state="friend")
        assert charged(live["account"]) == 0
        result = services.notices_settle()
        notice.refresh_from_db()
        assert result.delivered == 1
        assert notice.state == "delivered" and notice.values_secret == ""
        assert charged(live["account"]) == 1
        # idempotent: a second run changes nothing and charges nothing more
        assert services.notices_settle().delivered == 0
        assert charged(live["account"]) == 1


@pytest.mark.parametrize(
    "setup,reason",
    [
        ({"friendship": "blocked_unlisted"}, "blocked"),
        ({"consent": "off"}, "consent_off"),
        ({"consent": "unanswered"}, "consent_unanswered"),
        ({"verified_days_ago": 400}, "sms_unverified"),
    ],
)
def test_other_failures_are_known_only_after_24_hours(live, send, setup, reason):
    with time_machine.travel(NOW, tick=False) as clock:
        setup = dict(setup)
        friendship = setup.pop("friendship", None)
        _user, phone = lon.line_user(account=live["account"], friendship=friendship, **setup)
        notice = send(phone)
        clock.shift(timedelta(hours=23, minutes=59))
        services.notices_settle()
        notice.refresh_from_db()
        assert notice.state == "pending"
        clock.shift(timedelta(minutes=1))
        services.notices_settle()
        notice.refresh_from_db()
        assert (notice.state, notice.reason) == ("failed", reason)
        assert notice.values_secret == "" and notice.charged_at is None
        assert charged(live["account"]) == 0


def test_verification_after_the_deadline_does_not_deliver(live, send):
    with time_machine.travel(NOW, tick=False) as clock:
        user, phone = lon.line_user(verified_days_ago=None)
        notice = send(phone)
        clock.shift(timedelta(hours=25))
        LineUser.objects.filter(pk=user.pk).update(sms_verified_at=timezone.now())
        services.notices_settle()
        notice.refresh_from_db()
        assert (notice.state, notice.reason) == ("failed", "sms_unverified")


def test_verification_before_the_deadline_counts_even_if_settled_late(live, send):
    with time_machine.travel(NOW, tick=False) as clock:
        user, phone = lon.line_user(verified_days_ago=None)
        notice = send(phone)
        clock.shift(timedelta(hours=23))
        LineUser.objects.filter(pk=user.pk).update(sms_verified_at=timezone.now())
        clock.shift(timedelta(hours=1, minutes=4))  # the 5-minute beat runs just after 24 h
        services.notices_settle()
        notice.refresh_from_db()
        assert notice.state == "delivered"
        assert notice.delivered_at <= notice.deadline_at


def test_consent_moves_a_pending_notice_to_the_sms_flow(live, send):
    user, phone = lon.line_user(consent="unanswered", verified_days_ago=None)
    notice = send(phone)
    assert notice.user_flow == "consent_page"
    LineUser.objects.filter(pk=user.pk).update(notification_consent="on")
    services.notices_settle(phone_hashes=[user.phone_hash])
    notice.refresh_from_db()
    assert (notice.state, notice.user_flow) == ("pending", "sms_verification")


def test_charge_counts_in_the_japan_month_of_acceptance(live, send):
    # 31 January 23:30 Taipei = 1 February 00:30 Tokyo: February's bill.
    with time_machine.travel("2025-01-31 15:30:00+00:00", tick=False):
        _user, phone = lon.line_user()
        notice = send(phone)
    assert str(notice.line_day) == "2025-02-01"
    row = UsageRecord.objects.get(account=live["account"], kind="notification")
    assert str(row.period) == "2025-02-01" and row.recipients == 1


def test_late_delivery_is_billed_in_the_month_of_acceptance(live, send):
    with time_machine.travel("2025-01-31 14:00:00+00:00", tick=False) as clock:  # 23:00 Tokyo
        user, phone = lon.line_user(consent="unanswered")
        send(phone)
        clock.shift(timedelta(hours=5))
        LineUser.objects.filter(pk=user.pk).update(notification_consent="on")
        services.notices_settle()
    row = UsageRecord.objects.get(account=live["account"], kind="notification")
    assert str(row.period) == "2025-01-01"


# --- Bad input: refused, nothing recorded, nothing charged ------------------------------------


def _refused(call, message):
    before = Notice.objects.count(), UsageRecord.objects.count()
    with pytest.raises(SendRefused) as info:
        call()
    assert message in str(info.value)
    assert (Notice.objects.count(), UsageRecord.objects.count()) == before


@pytest.mark.parametrize(
    "to,message",
    [
        ("12345", "is not a valid phone number"),
        ("hello", "is not a phone number"),
        ("", "A recipient phone number (or its hash) is required."),
        ("A" * 64, "lower-case hexadecimal"),
        ("ab" * 20, "must be 64 hexadecimal characters (it has 40)"),
        ("ab" * 33, "must be 64 hexadecimal characters (it has 66)"),
    ],
)
def test_malformed_recipients_are_refused(live, send, to, message):
    _refused(lambda: send(to), message)


@pytest.mark.parametrize(
    "tag,message",
    [
        ("short-tag", "16 to 100 characters long (it has 9)"),
        ("x" * 101, "16 to 100 characters long (it has 101)"),
        ("標籤標籤標籤標籤標籤標籤標籤標籤", "printable ASCII"),
    ],
)
def test_delivery_tag_out_of_length_is_refused(live, send, tag, message):
    _refused(lambda: send("0912345678", delivery_tag=tag), message)


def test_delivery_tag_limits_are_inclusive(live, send):
    assert send("0912345678", delivery_tag="x" * 16).delivery_tag == "x" * 16
    assert send("0912345678", delivery_tag="y" * 100).delivery_tag == "y" * 100


@pytest.mark.parametrize(
    "values,message",
    [
        ({"name": "王小明"}, "Missing placeholder values: order_no."),
        ({**lon.VALUES, "coupon": "X"}, "Placeholder values not in the template: coupon."),
        ({"name": "", "order_no": "A1"}, "The value of “name” must be non-empty text."),
        (["王小明"], "name: value pairs"),
    ],
)
def test_placeholder_values_must_fit(live, send, values, message):
    _refused(lambda: send("0912345678", values=values), message)


def test_unapproved_versions_are_refused(live, send):
    draft = lon.version(
        live["account"], admin=live["admin"], reviewer=live["reviewer"], approve=False
    )
    _refused(
        lambda: services.notice_send(
            account_id=live["account"].pk,
            to="0912345678",
            template_version_id=draft.pk,
            values=lon.VALUES,
        ),
        "is not approved by LINE (Draft)",
    )
    services.template_submit(actor=live["admin"], version_id=draft.pk)
    _refused(
        lambda: services.notice_send(
            account_id=live["account"].pk,
            to="0912345678",
            template_version_id=draft.pk,
            values=lon.VALUES,
        ),
        "(Pending review)",
    )


def test_superseded_version_is_refused(live, send):
    v2 = services.template_revise(
        actor=live["admin"],
        template_id=live["version"].template_id,
        content={"title": "到貨通知（新）"},
    )
    services.template_submit(actor=live["admin"], version_id=v2.pk)
    services.template_review(actor=live["reviewer"], version_id=v2.pk, decision="approved")
    _refused(lambda: send("0912345678"), "was replaced by a newer approved version")


def test_another_accounts_template_is_refused(live):
    other = lon.live_setup()
    _refused(
        lambda: services.notice_send(
            account_id=live["account"].pk,
            to="0912345678",
            template_version_id=other["version"].pk,
            values=lon.VALUES,
        ),
        "has no template version",
    )


def test_suspended_sender_is_refused(live, send):
    services.application_suspend(
        actor=live["reviewer"], application_id=live["application"].pk, reason="發送廣告內容"
    )
    _refused(
        lambda: send("0912345678"),
        "suspended this Official Account's notification messages: 發送廣告內容",
    )
    services.application_reinstate(
        actor=live["reviewer"], application_id=live["application"].pk, reason="已改善"
    )
    assert send("0912345678").state == "failed"


def test_sender_not_yet_live_is_refused(db):
    from tests import factories

    org = factories.organization(state="approved")
    admin = lon.admin_of(org)
    account = factories.account_for(org)
    factories.linked(org, account)
    lon.subscribe(account)
    app = services.application_create(actor=admin, account_id=account.pk, scenarios=["delivery"])
    _refused(
        lambda: services.notice_send(
            account_id=account.pk, to="0912345678", template_version_id=1, values={}
        ),
        "not approved to send notification messages yet (stage: Draft)",
    )
    app.delete()
    _refused(
        lambda: services.notice_send(
            account_id=account.pk, to="0912345678", template_version_id=1, values={}
        ),
        "has not applied for notification messages",
    )


def test_sender_that_lost_its_badge_is_refused(live, send):
    account = live["account"]
    account.badge = "none"
    account.save()
    _refused(lambda: send("0912345678"), "must be verified (blue or green badge)")


def test_batch_with_one_bad_item_records_nothing(live):
    _user, phone = lon.line_user()
    items = [
        {"to": phone, "values": lon.VALUES},
        {"to": "123", "values": lon.VALUES},
        {"to": phone, "values": {}},
    ]
    _refused(
        lambda: services.notice_send_batch(
            account_id=live["account"].pk, template_version_id=live["version"].pk, items=items
        ),
        "No notice was sent: 2 of 3 are invalid.",
    )


def test_batch_judges_and_charges_in_one_go(live, django_assert_max_num_queries):
    account = live["account"]
    items = []
    for i in range(30):
        consent = ["on", "off", "unanswered"][i % 3]
        _user, phone = lon.line_user(
            consent=consent, account=account, friendship="blocked" if i % 5 == 0 else None
        )
        items.append({"to": phone, "values": lon.VALUES})
    items += [{"to": f"+8869{70000000 + i:08d}", "values": lon.VALUES} for i in range(10)]
    with django_assert_max_num_queries(25):
        result = services.notice_send_batch(
            account_id=account.pk, template_version_id=live["version"].pk, items=items
        )
    assert result.accepted == 40
    assert result.failed == 10
    assert result.delivered == Notice.objects.filter(state="delivered").count() == 8
    assert charged(account) == 8
    assert UsageRecord.objects.filter(account=account, kind="notification").count() == 1
