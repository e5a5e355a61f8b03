"""The phone-number push fast path (``POST /bot/pnp/push``), imported only by the API
(``api.views_messages``; the package does not re-export it, a test holds the rule): the sender
kept per worker, the template match, and one statement per push that reads the user's state,
judges it and writes the notice (``_judged_insert``). The batch path judges in Python
(``rules.judge``) and writes with ``rows``; a test holds the two to the same answers."""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from lbm import generations, hotsql

from .. import crypto
from ..exceptions import SendRefused
from ..models import (
    SETTLE_WINDOW,
    SMS_VERIFICATION_MONTHS,
    Application,
    Notice,
    Stage,
    TemplateVersion,
)
from .charging import finish_soon, notices_finish
from .rows import NOTICE_COLUMNS, _db_value
from .rules import _keyed_hasher, months_before, template_pattern
from .sending import _prepare, _sender

# --- Phone-number pushes (``POST /bot/pnp/push``, the API's hot path) -----------------------
#
# A push is one notice, so the batch path's fixed costs (the sender's and template's checks,
# the ledger row, the webhook row and its task) would dominate it. Instead the facts about the
# sender are kept per worker (``Sender``, stamped by lbm.generations), the notice is judged
# and written with one statement, and a delivered notice is left uncharged (``charged_at``
# empty): ``notices_finish`` charges such notices and queues their webhooks in batches, run
# about a second after a delivery (and every minute as a sweep), so nothing is lost if a
# worker dies between the INSERT and the charge.


@dataclass(frozen=True)
class Sender:
    """What a push needs to know about its account, rebuilt when the account's stamp moves."""

    account_id: int
    live: bool  # the application is live (else the API answers 403)
    refusal: tuple[str, list[str]] | None  # why it may not send now, if it may not
    period: object  # the LINE month the billing check was made for
    versions: tuple  # ((TemplateVersion, compiled pattern), ...), newest approval first


def _build_sender(account_id: int) -> Sender:
    from billing.periods import line_period

    now = timezone.now()
    refusal = None
    try:
        _sender(account_id, 1, now)
    except SendRefused as exc:
        refusal = (exc.message, list(exc.details))
    application = Application.objects.filter(account_id=account_id).only("stage").first()
    versions = (
        TemplateVersion.objects.select_related("template")
        .filter(template__account_id=account_id, status=TemplateVersion.Status.APPROVED)
        .order_by("-reviewed_at", "-pk")
    )
    return Sender(
        account_id=account_id,
        live=application is not None and application.stage == Stage.LIVE,
        refusal=refusal,
        period=line_period(now),
        versions=tuple((v, template_pattern(v)) for v in versions),
    )


_senders = generations.StampedCache("lon-senders")


def sender_for(*, account_id: int, stamp: tuple[int, int]) -> Sender:
    """The account's ``Sender`` for a request that read ``stamp`` (lbm.generations)."""
    from billing.periods import line_period

    sender = _senders.get(account_id, stamp, _build_sender)
    if sender.period != line_period(timezone.now()):  # a new LINE month: check billing again
        _senders.clear()
        sender = _senders.get(account_id, stamp, _build_sender)
    return sender


def template_match(sender: Sender, text: str) -> tuple[TemplateVersion, dict] | None:
    """The approved version whose rendered title and body ``text`` is, with the values."""
    for version, pattern in sender.versions:
        found = pattern.fullmatch(text)
        if found:
            return version, found.groupdict()
    return None


_keyed = None


# --- One statement per push: the judgement in SQL ------------------------------------------
#
# ``judge`` reads the user's state and decides; a push would then write the notice with a second
# statement, a second round trip to PostgreSQL on every request. Here the same rules, in the
# same order, are one CASE over the user and the friendship, feeding the INSERT: one statement,
# one round trip. ``tests/notifications/test_push_sql.py`` holds the two to the same answer for
# every user state.


def _judge_rules():
    """``judge``'s conditions in its order: (SQL over ``u`` and ``f``, (state, reason, flow)).
    ``%s`` in the SMS rule: template not exempt, the oldest verification that counts, now."""
    from audiences.models import Friendship, LineUser

    state, reason, flow = Notice.State, Notice.Reason, Notice.Flow
    blocking = ", ".join(f"'{value}'" for value in Friendship.BLOCKING)
    on, off = LineUser.Consent.ON.value, LineUser.Consent.OFF.value
    return (
        ("u.id IS NULL", (state.FAILED, reason.PHONE_MISMATCH, flow.NONE)),
        (f"f.state IN ({blocking})", (state.PENDING, reason.BLOCKED, flow.NONE)),
        (f"u.notification_consent = '{off}'", (state.PENDING, reason.CONSENT_OFF, flow.NONE)),
        (
            f"u.notification_consent <> '{on}'",
            (state.PENDING, reason.CONSENT_UNANSWERED, flow.CONSENT_PAGE),
        ),
        (
            "%s AND (u.sms_verified_at IS NULL OR u.sms_verified_at < %s"
            " OR u.sms_verified_at > %s)",
            (state.PENDING, reason.SMS_UNVERIFIED, flow.SMS_VERIFICATION),
        ),
    )


_push_sql: dict[str, str] = {}  # vendor → the statement, built once per process


def _judged_insert_sql() -> str:
    """``WITH`` the rule that applies (``k``, 0 when delivered) ``INSERT`` the notice with the
    state, reason and flow it gives, ``RETURNING`` the id and the state."""
    from audiences.models import Friendship, LineUser

    sql = _push_sql.get(connection.vendor)
    if sql is not None:
        return sql
    q = connection.ops.quote_name
    rules = _judge_rules()
    delivered = (Notice.State.DELIVERED, "", Notice.Flow.NONE)
    outcomes = [delivered] + [outcome for _sql, outcome in rules]

    def pick(i: int) -> str:
        arms = " ".join(f"WHEN {k} THEN '{o[i]}'" for k, o in enumerate(outcomes) if k)
        return f"CASE j.k {arms} ELSE '{delivered[i]}' END"

    first = " ".join(f"WHEN {cond} THEN {k}" for k, (cond, _o) in enumerate(rules, start=1))
    pending = Notice.State.PENDING.value
    values = {
        "state": pick(0),
        "reason": pick(1),
        "user_flow": pick(2),
        # The values are kept only while the notice waits (as ``rows._notice_row``).
        "values_secret": f"CASE WHEN {pick(0)} = '{pending}' THEN %s ELSE '' END",
        "delivered_at": "CASE WHEN j.k = 0 THEN %s END",
        "settled_at": f"CASE WHEN {pick(0)} <> '{pending}' THEN %s END",
        "charged_at": "NULL",  # charged by ``notices_finish``
        "purged_at": "NULL",
        "sent_by_id": "NULL",
    }
    sql = _push_sql[connection.vendor] = (
        f"WITH j AS (SELECT CASE {first} ELSE 0 END AS k FROM (SELECT 1 AS one) o"
        f" LEFT JOIN {q(LineUser._meta.db_table)} u ON u.phone_hash = %s"
        f" LEFT JOIN {q(Friendship._meta.db_table)} f"
        f" ON f.line_user_id = u.id AND f.account_id = %s)"
        f" INSERT INTO {q(Notice._meta.db_table)} ({', '.join(q(c) for c in NOTICE_COLUMNS)})"
        f" SELECT {', '.join(values.get(c, '%s') for c in NOTICE_COLUMNS)} FROM j"
        f" RETURNING id, {q('state')}"
    )
    return sql


def _judged_insert(
    *, account_id: int, version, prepared, exempt: bool, now, request_id
) -> tuple[int, str]:
    """Judge and record one push in one statement; returns ``(notice id, state)``."""
    from billing.periods import line_day

    ops = connection.ops
    given = {
        "account_id": account_id,
        "template_version_id": version.pk,
        "request_id": request_id,
        "phone_hash": prepared.phone_hash,
        "line_hash_secret": crypto.encrypt(prepared.line_hash),
        "values_secret": crypto.encrypt_json(prepared.values) if prepared.values else "",
        "delivery_tag": prepared.delivery_tag,
        "accepted_at": now,
        "line_day": line_day(now),
        "deadline_at": now + SETTLE_WINDOW,
        "delivered_at": now,
        "settled_at": now,
    }
    params = [
        not exempt,
        months_before(now, SMS_VERIFICATION_MONTHS),
        now,
        prepared.phone_hash,
        account_id,
    ]
    params += [given[c] for c in NOTICE_COLUMNS if c in given]
    row = hotsql.fetchone(_judged_insert_sql(), [_db_value(v, ops) for v in params])
    return row[0], row[1]


def notice_push(
    *, sender: Sender, version: TemplateVersion, values: dict, to: str, delivery_tag: str = ""
) -> tuple[int, str]:
    """Accept one phone-number push for ``sender``'s account with an approved ``version``
    (``template_match``): judged and recorded at once, in one statement (``_judged_insert``).
    Returns ``(notice id, state)``. Raises ``SendRefused`` (nothing recorded) for every bad
    input. A delivered notice is charged and its webhook queued by ``notices_finish`` right
    after (``finish_soon``)."""
    if sender.refusal is not None:
        raise SendRefused(sender.refusal[0], details=sender.refusal[1])
    global _keyed
    if _keyed is None or _keyed[0] != settings.PII_HASH_KEY:
        _keyed = (settings.PII_HASH_KEY, _keyed_hasher())
    prepared = _prepare(
        version, {"to": to, "values": values, "delivery_tag": delivery_tag}, _keyed[1]
    )
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        # Before the statement: a broker out of reach refuses the push with nothing recorded
        # (``QueueUnreachable``: the API's 503), so the client's retry records it once. The
        # judgement is known only once the notice is written, so this is asked whatever it
        # turns out to be; it reaches the broker at most once a second per worker.
        finish_soon()
    notice_id, state = _judged_insert(
        account_id=sender.account_id,
        version=version,
        prepared=prepared,
        exempt=version.exempt,
        now=timezone.now(),
        request_id=uuid.uuid4(),
    )
    if state == Notice.State.DELIVERED and settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(notices_finish)
    return notice_id, state
