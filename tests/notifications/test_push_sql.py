"""The push judges a notice in SQL, inside the statement that writes it
(``notifications.services.push._judged_insert``); the batch path judges in Python
(``rules.judge``) and builds the row with ``rows._notice_row``. Both must write the same notice
for every user state: each combination of friendship, consent, SMS verification (none, recent,
on the six-month boundary, a microsecond past it, in the future) and template exemption."""

import itertools
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from audiences.models import Friendship, LineUser
from lbm import pii
from notifications import crypto
from notifications.models import SMS_VERIFICATION_MONTHS, Notice
from notifications.services import push
from notifications.services.rows import NOTICE_COLUMNS, _notice_row
from notifications.services.rules import Prepared, UserState, judge, months_before

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 8, 31, 15, 30, 12, 345678, tzinfo=UTC)  # a month-end: the clamped day
CUTOFF = months_before(NOW, SMS_VERIFICATION_MONTHS)
VERIFIED = {
    "never": None,
    "recent": NOW - timedelta(days=10),
    "on the boundary": CUTOFF,
    "just too old": CUTOFF - timedelta(microseconds=1),
    "in the future": NOW + timedelta(seconds=1),
}
FRIENDSHIPS = [None, *Friendship.State.values]


def write(live, prepared, *, exempt: bool, request_id=None) -> tuple[int, str]:
    return push._judged_insert(
        account_id=live["account"].pk,
        version=live["version"],
        prepared=prepared,
        exempt=exempt,
        now=NOW,
        request_id=request_id or uuid.uuid4(),
    )


def read_back(pk: int) -> dict:
    notice = Notice.objects.get(pk=pk)
    return {c: getattr(notice, c) for c in NOTICE_COLUMNS}


def expected_row(live, prepared, user_state, *, exempt, request_id) -> dict:
    from billing.periods import line_day

    judged = judge(user_state, exempt=exempt, at=NOW)
    row = _notice_row(
        live["account"].pk,
        live["version"],
        prepared,
        judged,
        now=NOW,
        day=line_day(NOW),
        request_id=request_id,
        actor_id=None,
        charged=False,
    )
    return dict(zip(NOTICE_COLUMNS, row, strict=True))


def compare(written: dict, expected: dict) -> None:
    # Fernet tokens differ on every call (random IV): compare what they hold.
    for column in ("line_hash_secret", "values_secret"):
        assert crypto.decrypt(written.pop(column)) == crypto.decrypt(expected.pop(column)), column
    assert written == expected


def test_the_statement_writes_what_judge_and_the_row_writer_would(live):
    line_hash = pii.sha256_hex("+886912345678")
    prepared = Prepared(line_hash, pii.keyed_hash(line_hash), {"name": "王小明"}, "")
    user = LineUser.objects.create(
        user_id="U" + "a" * 32, phone_hash=prepared.phone_hash, notification_consent="on"
    )
    seen = set()
    cases = itertools.product(FRIENDSHIPS, LineUser.Consent.values, VERIFIED.items(), (False, True))
    for friendship, consent, (label, verified), exempt in cases:
        LineUser.objects.filter(pk=user.pk).update(
            notification_consent=consent, sms_verified_at=verified
        )
        Friendship.objects.filter(line_user=user).delete()
        if friendship is not None:
            Friendship.objects.create(
                line_user=user, account=live["account"], state=friendship, since=NOW
            )
        request_id = uuid.uuid4()
        pk, state = write(live, prepared, exempt=exempt, request_id=request_id)
        expected = expected_row(
            live,
            prepared,
            UserState(consent, verified, friendship),
            exempt=exempt,
            request_id=request_id,
        )
        written = read_back(pk)
        assert state == expected["state"], (friendship, consent, label, exempt)
        compare(written, expected)
        seen.add((expected["state"], expected["reason"], expected["user_flow"]))
    # Every outcome of ``judge`` but the phone mismatch came up (that one is the next test).
    assert len(seen) == 5


def test_a_number_no_user_has_fails_at_once_and_keeps_no_values(live):
    line_hash = pii.sha256_hex("+886987654321")
    prepared = Prepared(line_hash, pii.keyed_hash(line_hash), {"name": "王小明"}, "A" * 16)
    for exempt in (False, True):
        request_id = uuid.uuid4()
        pk, state = write(live, prepared, exempt=exempt, request_id=request_id)
        assert state == Notice.State.FAILED
        expected = expected_row(live, prepared, None, exempt=exempt, request_id=request_id)
        assert expected["values_secret"] == ""
        compare(read_back(pk), expected)


def test_another_accounts_friendship_does_not_count(live):
    """The friendship joined is the pushing account's: a block of another account is not this
    account's block."""
    from tests import factories

    other = factories.account_for(factories.organization())
    line_hash = pii.sha256_hex("+886911111111")
    prepared = Prepared(line_hash, pii.keyed_hash(line_hash), {}, "")
    user = LineUser.objects.create(
        user_id="U" + "b" * 32,
        phone_hash=prepared.phone_hash,
        notification_consent="on",
        sms_verified_at=NOW - timedelta(days=1),
    )
    Friendship.objects.create(line_user=user, account=other, state="blocked", since=NOW)
    _pk, state = write(live, prepared, exempt=False)
    assert state == Notice.State.DELIVERED
