"""Sending notices through the batch path: ``notice_send`` and ``notice_send_batch`` (see the
package docstring), the sender's checks and the directory lookup."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.db.models import FilteredRelation, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm import permissions
from lbm.exceptions import DomainError
from lbm.models import Account
from lbm.permissions import Action

from .. import rendering
from ..exceptions import SendRefused
from ..models import Notice, Stage, TemplateVersion
from .applications import application_eligibility
from .charging import _charge
from .common import LOOKUP_CHUNK, _in_filter
from .rows import NOTICE_COLUMNS, _insert_notices, _notice_row
from .rules import Prepared, UserState, _keyed_hasher, delivery_tag_problem, judge, line_hash_of
from .webhooks import _queue_webhooks


def user_states(*, account_id: int, phone_hashes: Iterable[str]) -> dict[str, UserState]:
    """The directory's view of each matched phone hash (keyed hash), for one account: one query
    (a LEFT JOIN to the account's friendships) per ``LOOKUP_CHUNK`` hashes."""
    from audiences.models import LineUser

    hashes = list(dict.fromkeys(phone_hashes))
    found: dict[str, UserState] = {}
    step = LOOKUP_CHUNK if connection.vendor == "postgresql" else 2_000
    if connection.vendor == "postgresql" and hashes:
        step = len(hashes)  # one query: the array is a single parameter
    for start in range(0, len(hashes), step):
        chunk = hashes[start : start + step]
        rows = (
            LineUser.objects.annotate(
                here=FilteredRelation(
                    "friendships", condition=Q(friendships__account_id=account_id)
                )
            )
            .filter(_in_filter(LineUser, "phone_hash", chunk))
            .values_list("phone_hash", "notification_consent", "sms_verified_at", "here__state")
        )
        for phone_hash, consent, verified, friendship in rows:
            found[phone_hash] = UserState(consent, verified, friendship)
    return found


# --- Sending ----------------------------------------------------------------------------------


@dataclass
class BatchResult:
    request_id: uuid.UUID
    accepted: int = 0
    delivered: int = 0
    pending: int = 0
    failed: int = 0
    notice_ids: list[int] = field(default_factory=list)


def _prepare(version: TemplateVersion, item: dict, keyed) -> Prepared:
    if not isinstance(item, dict):
        raise SendRefused(_("Each notice is given as to, values and delivery_tag."))
    line_hash = line_hash_of(item.get("to"))
    tag = item.get("delivery_tag") or ""
    problem = delivery_tag_problem(tag)
    if problem:
        raise SendRefused(problem)
    values = item.get("values") or {}
    problems = rendering.value_problems(version.placeholders, values)
    if problems:
        raise SendRefused(problems[0], details=problems[1:])
    return Prepared(line_hash, keyed(line_hash), values, tag)


def _sender(account_id: int, recipients: int, now: datetime) -> Account:
    """The account, if it may send notification messages now. Raises ``SendRefused``."""
    account = (
        Account.objects.select_related("provider", "lon_application").filter(pk=account_id).first()
    )
    if account is None:
        raise SendRefused(_("Unknown Official Account."))
    application = getattr(account, "lon_application", None)
    if application is None:
        raise SendRefused(_("This Official Account has not applied for notification messages."))
    if application.stage == Stage.SUSPENDED:
        raise SendRefused(
            _("LINE has suspended this Official Account's notification messages: %(reason)s")
            % {"reason": application.review_reason}
        )
    if application.stage != Stage.LIVE:
        raise SendRefused(
            _(
                "This Official Account is not approved to send notification "
                "messages yet (stage: %(stage)s)."
            )
            % {"stage": application.get_stage_display()}
        )
    problems = application_eligibility(account)
    if problems:
        raise SendRefused(problems[0], details=problems[1:])
    from billing import services as billing
    from billing.models import UsageRecord

    try:
        billing.quota_check(
            account_id=account.pk,
            recipients=recipients,
            sent_at=now,
            kind=UsageRecord.Kind.NOTIFICATION,
        )
    except DomainError as exc:
        raise SendRefused(exc.message, details=exc.details) from exc
    return account


def _approved_version(account: Account, template_version_id: int) -> TemplateVersion:
    version = (
        TemplateVersion.objects.select_related("template").filter(pk=template_version_id).first()
    )
    if version is None or version.template.account_id != account.pk:
        raise SendRefused(
            _("This Official Account has no template version %(id)s.") % {"id": template_version_id}
        )
    if version.status == TemplateVersion.Status.SUPERSEDED:
        raise SendRefused(
            _(
                "Version %(number)d of “%(name)s” was replaced by a newer approved "
                "version; send that one."
            )
            % {"number": version.number, "name": version.template.name}
        )
    if version.status != TemplateVersion.Status.APPROVED:
        raise SendRefused(
            _(
                "Version %(number)d of “%(name)s” is not approved by LINE (%(status)s);"
                " only approved versions can be sent."
            )
            % {
                "number": version.number,
                "name": version.template.name,
                "status": version.get_status_display(),
            }
        )
    return version


def notice_send(
    *,
    account_id: int,
    to: str,
    template_version_id: int,
    values: dict | None = None,
    delivery_tag: str = "",
    actor=None,
    request_id: uuid.UUID | None = None,
) -> Notice:
    """Send one notice (see the package docstring). Returns the recorded notice: delivered,
    pending (consent page, SMS verification, or waiting silently) or failed (phone mismatch)."""
    result = _send(
        account_id=account_id,
        template_version_id=template_version_id,
        items=[{"to": to, "values": values, "delivery_tag": delivery_tag}],
        actor=actor,
        request_id=request_id,
        single=True,
    )
    return Notice.objects.get(pk=result.notice_ids[0])


def notice_send_batch(
    *,
    account_id: int,
    template_version_id: int,
    items: Iterable[dict],
    actor=None,
    request_id: uuid.UUID | None = None,
) -> BatchResult:
    """Send many notices with one template version (see the package docstring)."""
    return _send(
        account_id=account_id,
        template_version_id=template_version_id,
        items=items,
        actor=actor,
        request_id=request_id,
        single=False,
    )


def _send(*, account_id, template_version_id, items, actor, request_id, single) -> BatchResult:
    now = timezone.now()
    if actor is not None:
        account = Account.objects.filter(pk=account_id).first()
        if account is None or not permissions.can(actor, Action.MANAGE_NOTIFICATIONS, account):
            raise SendRefused(_("You do not have permission to do this."))
    items = list(items)
    if not items:
        raise SendRefused(_("Nothing to send."))
    account = _sender(account_id, len(items), now)
    version = _approved_version(account, template_version_id)
    prepared, problems = [], []
    keyed = _keyed_hasher()
    for index, item in enumerate(items):
        try:
            prepared.append(_prepare(version, item, keyed))
        except SendRefused as exc:
            if single:
                raise
            problems.append(
                _("#%(index)d: %(problem)s") % {"index": index + 1, "problem": str(exc)}
            )
    if problems:
        raise SendRefused(
            _("No notice was sent: %(count)d of %(total)d are invalid.")
            % {"count": len(problems), "total": len(items)},
            details=problems[:20],
        )
    with transaction.atomic():
        return _accept(
            account, version, prepared, now=now, actor=actor, request_id=request_id or uuid.uuid4()
        )


def _accept(
    account: Account,
    version: TemplateVersion,
    prepared: list[Prepared],
    *,
    now: datetime,
    actor,
    request_id: uuid.UUID,
) -> BatchResult:
    from billing.periods import line_day

    states = user_states(account_id=account.pk, phone_hashes=[p.phone_hash for p in prepared])
    day = line_day(now)
    result = BatchResult(request_id=request_id)
    rows = []
    exempt, actor_id = version.exempt, getattr(actor, "pk", None)
    for p in prepared:
        judged = judge(states.get(p.phone_hash), exempt=exempt, at=now)
        rows.append(
            _notice_row(
                account.pk,
                version,
                p,
                judged,
                now=now,
                day=day,
                request_id=request_id,
                actor_id=actor_id,
                charged=True,
            )
        )
        if judged[0] == Notice.State.DELIVERED:
            result.delivered += 1
        elif judged[0] == Notice.State.PENDING:
            result.pending += 1
        else:
            result.failed += 1
    if result.delivered:
        _charge(account.pk, [(day, now)] * result.delivered, dedupe=f"lon:req:{request_id.hex}")
    ids = _insert_notices(rows)
    result.accepted = len(ids)
    result.notice_ids = ids
    state_index = NOTICE_COLUMNS.index("state")
    delivered_ids = [
        pk for pk, row in zip(ids, rows, strict=True) if row[state_index] == Notice.State.DELIVERED
    ]
    _queue_webhooks(account.pk, delivered_ids, now)
    return result
