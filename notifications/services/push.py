"""The phone-number push fast path (``POST /bot/pnp/push``), imported only by the API
(``api.views_messages``; the package does not re-export it, a test holds the rule): the sender
kept per worker, the template match, the user's state in one raw query, one raw INSERT per push.

The INSERT itself is ``rows._insert_notice``: the batch writer uses it for a one-row batch too,
so it stays with the row writer, which this module and the batch path share."""

import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from lbm import generations, hotsql

from ..exceptions import SendRefused
from ..models import Application, Notice, Stage, TemplateVersion
from .charging import finish_soon, notices_finish
from .rows import _insert_notice, _notice_row
from .rules import UserState, _keyed_hasher, judge, template_pattern
from .sending import _prepare, _sender

# --- Phone-number pushes (``POST /bot/pnp/push``, the API's hot path) -----------------------
#
# A push is one notice, so the batch path's fixed costs (the sender's and template's checks,
# the ledger row, the webhook row and its task) would dominate it. Instead the facts about the
# sender are kept per worker (``Sender``, stamped by lbm.generations), the notice is judged with
# one indexed query and written with one INSERT, and a delivered notice is left uncharged
# (``charged_at`` empty): ``notices_finish`` charges such notices and queues their webhooks in
# batches, run about a second after a delivery (and every minute as a sweep), so nothing is
# lost if a worker dies between the INSERT and the charge.


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


def _user_state(account_id: int, phone_hash: str) -> UserState | None:
    """``user_states`` for one phone hash: one indexed query without the ORM's compilation."""
    from audiences.models import Friendship, LineUser

    users, friendships = LineUser._meta.db_table, Friendship._meta.db_table
    row = hotsql.fetchone(
        f"SELECT u.notification_consent, u.sms_verified_at, f.state"
        f" FROM {users} u LEFT JOIN {friendships} f ON f.line_user_id = u.id"
        f" AND f.account_id = %s WHERE u.phone_hash = %s",
        [account_id, phone_hash],
    )
    if row is None:
        return None
    return UserState(row[0], hotsql.aware(row[1]), row[2])


def notice_push(
    *, sender: Sender, version: TemplateVersion, values: dict, to: str, delivery_tag: str = ""
) -> tuple[int, str]:
    """Accept one phone-number push for ``sender``'s account with an approved ``version``
    (``template_match``): judged at once, recorded with one INSERT. Returns ``(notice id,
    state)``. Raises ``SendRefused`` (nothing recorded) for every bad input. A delivered notice
    is charged and its webhook queued by ``notices_finish`` right after (``finish_soon``)."""
    from billing.periods import line_day

    if sender.refusal is not None:
        raise SendRefused(sender.refusal[0], details=sender.refusal[1])
    global _keyed
    if _keyed is None or _keyed[0] != settings.PII_HASH_KEY:
        _keyed = (settings.PII_HASH_KEY, _keyed_hasher())
    prepared = _prepare(
        version, {"to": to, "values": values, "delivery_tag": delivery_tag}, _keyed[1]
    )
    now = timezone.now()
    judged = judge(
        _user_state(sender.account_id, prepared.phone_hash), exempt=version.exempt, at=now
    )
    row = _notice_row(
        sender.account_id,
        version,
        prepared,
        judged,
        now=now,
        day=line_day(now),
        request_id=uuid.uuid4(),
        actor_id=None,
        charged=False,
    )
    delivered = judged[0] == Notice.State.DELIVERED
    if delivered and not settings.CELERY_TASK_ALWAYS_EAGER:
        # Before the INSERT: a broker out of reach refuses the push with nothing recorded
        # (``QueueUnreachable``: the API's 503), so the client's retry records it once.
        finish_soon()
    notice_id = _insert_notice(row)
    if delivered and settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(notices_finish)
    return notice_id, judged[0]
