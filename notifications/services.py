"""Every write of the notifications app (LON, docs/notifications.md).

Services the HTTP API calls with plain Python data (keyword-only; ``actor`` is ``None`` for a
request authenticated by a channel access token, a user for the admin):

``notice_send(*, account_id, to, template_version_id, values=None, delivery_tag="", actor=None,
request_id=None) -> Notice``
    ``POST /bot/pnp/push``: ``to`` is a phone number in any common format or the lower-case
    hex SHA-256 of its E.164 form; ``delivery_tag`` the ``X-Line-Delivery-Tag`` header. Raises
    ``SendRefused`` (nothing recorded, nothing charged) for every bad input.

``notice_send_batch(*, account_id, template_version_id, items, actor=None, request_id=None)
-> BatchResult``
    The same for many recipients, set-based (a constant number of queries per 10,000 notices).
    ``items``: iterable of ``{"to": str, "values": dict, "delivery_tag": str}``. All or nothing:
    one bad item refuses the batch, naming the items.

``notices_settle(*, now=None, phone_hashes=None) -> SettleResult``
    Re-judge pending notices: deliver those whose user consented, verified or unblocked, fail
    those past their 24 hours. Idempotent; the beat-scheduled task calls it every 5 minutes, and
    the LINE user directory may call it with ``phone_hashes`` when a user changes.

``push_check(*, account, user_id) -> None``
    Before an ordinary (non-LON) push: raises ``NotAFriend`` unless the user is a friend.

Reads (daily counts, ``GET /v2/bot/message/delivery/pnp``) are in ``notifications.selectors``.
"""

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date as date_type
from datetime import datetime, timedelta

import httpcore
import httpx
from celery.exceptions import SoftTimeLimitExceeded
from dateutil.relativedelta import relativedelta
from django.conf import settings
from django.db import connection, transaction
from django.db.models import BooleanField, F, FilteredRelation, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm import generations, hotsql, outbox, permissions, pii
from lbm.audit import record_change
from lbm.exceptions import DomainError, InvalidTransition
from lbm.models import Account
from lbm.permissions import Action
from lbm.workdays import add_working_days, taipei_date

from . import crypto, rendering
from .exceptions import (
    ApplicationRefused,
    NotAFriend,
    SendRefused,
    TemplateRefused,
)
from .models import (
    ONBOARDING_WORKING_DAYS,
    RETENTION,
    SETTLE_WINDOW,
    SMS_VERIFICATION_MONTHS,
    Application,
    FailedNoticeExport,
    Notice,
    Scenario,
    Stage,
    Template,
    TemplateVersion,
    WebhookAttempt,
    WebhookDelivery,
)

logger = logging.getLogger(__name__)

INSERT_BATCH = 10_000
LOOKUP_CHUNK = 10_000
SETTLE_CHUNK = 2_000
FAN_OUT_CHUNK = 500
WEBHOOK_TIMEOUT = 10  # seconds, per socket operation (connect, each read and write)
# The whole POST — connect, send, the answer's headers and its first bytes — however slowly the
# receiver drips them: below the task's soft time limit, so the client itself ends the attempt
# (the threads and solo pools have no time limits).
WEBHOOK_DEADLINE = 15
# How long a claimed attempt is held: longer than the task's hard time limit (WEBHOOK_TIME_LIMIT),
# so a killed or stuck execution's claim has always lapsed before another may POST.
WEBHOOK_TIME_LIMIT = 30  # seconds: the whole attempt, however slowly the receiver answers
WEBHOOK_CLAIM = timedelta(seconds=WEBHOOK_TIME_LIMIT + 15)
WEBHOOK_MAX_ATTEMPTS = 7  # the first and deliver_webhook's 6 retries
# An open webhook whose state has not moved this long (no attempt, claim lapsed) lost its task:
# longer than the longest wait between two attempts (600 s backoff, with jitter).
WEBHOOK_STUCK_AFTER = timedelta(minutes=15)
TAG_MIN, TAG_MAX = 16, 100


_record = record_change  # lbm.audit: who and why for the history row


def _lock(queryset):
    return queryset.select_for_update(of=("self",))


# --- Applications -----------------------------------------------------------------------------


def application_eligibility(account: Account) -> list[str]:
    """Why the account cannot use notification messages (empty: it can)."""
    problems = []
    if account.kind != Account.Kind.OFFICIAL_ACCOUNT:
        return [_("Only a LINE Official Account can send notification messages.")]
    if account.badge not in (Account.Badge.BLUE, Account.Badge.GREEN):
        problems.append(_("The Official Account must be verified (blue or green badge)."))
    provider = account.provider
    if provider is None or not provider.certified:
        problems.append(_("The Official Account needs a certified provider."))
    return problems


def _scenario_problems(scenarios) -> list[str]:
    if not isinstance(scenarios, list | tuple) or not scenarios:
        return [_("Choose at least one of the 18 notification scenarios.")]
    unknown = [s for s in scenarios if s not in Scenario.values]
    if unknown:
        return [_("Not a notification scenario: %(names)s.")
                % {"names": ", ".join(map(str, unknown))}]
    return []


@transaction.atomic
def application_create(*, actor, account_id: int, scenarios: list[str],
                       use_description: str = "") -> Application:
    """A customer (Admin or Operator) applies for an Official Account linked to their
    organization; refused unless the account has a blue or green badge and a certified
    provider."""
    account = Account.objects.select_related("provider").get(pk=account_id)
    permissions.require(actor, Action.MANAGE_NOTIFICATIONS, account)
    problems = application_eligibility(account)
    if problems:
        raise ApplicationRefused(_("This Official Account cannot apply for notification "
                                   "messages."), details=problems)
    if Application.objects.filter(account=account).exists():
        raise ApplicationRefused(_("This Official Account already has a notification-message "
                                   "application."))
    problems = _scenario_problems(scenarios)
    if problems:
        raise ApplicationRefused(problems[0])
    application = Application(account=account, scenarios=list(dict.fromkeys(scenarios)),
                              use_description=use_description.strip(), created_by=actor)
    _record(application, actor=actor, reason=_("Application created"))
    application.save()
    return application


FILE_FIELDS = {
    "purchase_agreement": (Stage.DRAFT, Stage.REJECTED, Stage.SCENARIO_REVIEW, Stage.CONTRACT),
    "nda": (Stage.DRAFT, Stage.REJECTED, Stage.SCENARIO_REVIEW, Stage.CONTRACT),
    "test_recording": (Stage.DRAFT, Stage.REJECTED, Stage.SCENARIO_REVIEW, Stage.CONTRACT,
                       Stage.TESTING),
}


@transaction.atomic
def application_update(*, actor, application_id: int, scenarios: list[str] | None = None,
                       use_description: str | None = None, files: dict | None = None
                       ) -> Application:
    """Edit the scenarios (while a draft or rejected) or upload the contract, NDA or test
    recording (until the stage that checks them). ``files`` maps a field name of
    ``FILE_FIELDS`` to an uploaded file."""
    application = _lock(Application.objects).get(pk=application_id)
    permissions.require(actor, Action.MANAGE_NOTIFICATIONS, application)
    changed = []
    if scenarios is not None and list(scenarios) != application.scenarios:
        problems = _scenario_problems(scenarios)
        if problems:
            raise ApplicationRefused(problems[0])
        changed.append("scenarios")
        application.scenarios = list(dict.fromkeys(scenarios))
    if use_description is not None and use_description.strip() != application.use_description:
        changed.append("use_description")
        application.use_description = use_description.strip()
    if changed and application.stage not in Application.CUSTOMER_EDITABLE:
        raise ApplicationRefused(_("The scenarios can be changed only while the application is "
                                   "a draft or has been rejected."))
    for name, upload in (files or {}).items():
        if upload is None:
            continue
        if name not in FILE_FIELDS:
            raise ApplicationRefused(_("Unknown document."))
        if application.stage not in FILE_FIELDS[name]:
            raise ApplicationRefused(
                _("The %(document)s can no longer be replaced at the stage “%(stage)s”.")
                % {"document": Application._meta.get_field(name).verbose_name,
                   "stage": application.get_stage_display()})
        getattr(application, name).save(upload.name, upload, save=False)
        changed.append(name)
        if name == "test_recording":
            application.test_recording_checked_at = None
            application.test_recording_checked_by = None
            changed += ["test_recording_checked_at", "test_recording_checked_by"]
    if not changed:
        return application
    labels = [str(Application._meta.get_field(n).verbose_name) for n in changed
              if not n.startswith("test_recording_checked")]
    _record(application, actor=actor,
            reason=_("Edited: %(fields)s") % {"fields": ", ".join(labels)})
    application.save(update_fields=changed + ["updated_at"])
    return application


@transaction.atomic
def application_submit(*, actor, application_id: int) -> Application:
    """Send a draft or rejected application to LINE's scenario review; the expected finish is
    10–20 Taiwan working days from now."""
    application = _lock(Application.objects).get(pk=application_id)
    permissions.require(actor, Action.MANAGE_NOTIFICATIONS, application)
    if application.stage == Stage.SCENARIO_REVIEW:
        return application
    _check_transition(application, Stage.SCENARIO_REVIEW)
    account = Account.objects.select_related("provider").get(pk=application.account_id)
    problems = application_eligibility(account) + _scenario_problems(application.scenarios)
    if problems:
        raise ApplicationRefused(_("This application cannot be submitted."), details=problems)
    now = timezone.now()
    resubmission = application.stage == Stage.REJECTED
    application.stage = Stage.SCENARIO_REVIEW
    application.submitted_at = application.stage_changed_at = now
    start = taipei_date(now)
    application.expected_earliest = add_working_days(start, ONBOARDING_WORKING_DAYS[0])
    application.expected_latest = add_working_days(start, ONBOARDING_WORKING_DAYS[1])
    _record(application, actor=actor,
            reason=_("Resubmitted for review") if resubmission else _("Submitted for review"))
    application.save(update_fields=["stage", "submitted_at", "stage_changed_at",
                                    "expected_earliest", "expected_latest", "updated_at"])
    return application


def _check_transition(application: Application, target: str) -> None:
    if target not in Application.TRANSITIONS[application.stage]:
        raise InvalidTransition(application.get_stage_display(), str(Stage(target).label))


@transaction.atomic
def application_transition(*, actor, application_id: int, target: str,
                           reason: str = "") -> Application:
    """A LINE reviewer moves an application: to its next stage, rejected (reason required),
    suspended or reinstated (reason required). Each change is in the history with who, when
    and why."""
    permissions.require(actor, Action.REVIEW_NOTIFICATIONS)
    application = _lock(Application.objects).get(pk=application_id)
    reason = (reason or "").strip()
    if application.stage == target:
        return application  # a repeated click
    if target not in Stage.values:
        raise ApplicationRefused(_("Unknown stage."))
    _check_transition(application, target)
    if target in (Stage.REJECTED, Stage.SUSPENDED) or (
            application.stage == Stage.SUSPENDED and target == Stage.LIVE):
        if not reason:
            raise ApplicationRefused(_("A written reason is required to reject, suspend or "
                                       "reinstate."))
    update = ["stage", "stage_changed_at", "review_reason", "updated_at"]
    now = timezone.now()
    if target == Stage.TESTING and not (application.purchase_agreement and application.nda):
        raise ApplicationRefused(_("The signed purchase agreement and NDA must be on file before "
                                   "testing."))
    if target == Stage.LIVE and application.stage == Stage.TESTING:
        if not application.test_recording:
            raise ApplicationRefused(_("The recording of the test must be uploaded and checked "
                                       "before going live."))
        application.test_recording_checked_at = now
        application.test_recording_checked_by = actor
        update += ["test_recording_checked_at", "test_recording_checked_by"]
    if target == Stage.LIVE:
        account = Account.objects.select_related("provider").get(pk=application.account_id)
        problems = application_eligibility(account)
        if problems:
            raise ApplicationRefused(_("This Official Account cannot go live."), details=problems)
    previous = application.get_stage_display()
    application.stage = target
    application.stage_changed_at = now
    application.review_reason = reason
    text = _("%(old)s → %(new)s") % {"old": previous, "new": application.get_stage_display()}
    _record(application, actor=actor, reason=f"{text}: {reason}" if reason else text)
    application.save(update_fields=update)
    return application


def application_advance(*, actor, application_id: int, reason: str = "") -> Application:
    """Scenario review → contract → testing → live."""
    stage = Application.objects.values_list("stage", flat=True).get(pk=application_id)
    if stage not in Application.NEXT:
        raise ApplicationRefused(_("Only an application under review can move to its next "
                                   "stage."))
    return application_transition(actor=actor, application_id=application_id,
                                  target=Application.NEXT[stage], reason=reason)


def application_reject(*, actor, application_id: int, reason: str) -> Application:
    return application_transition(actor=actor, application_id=application_id,
                                  target=Stage.REJECTED, reason=reason)


def application_suspend(*, actor, application_id: int, reason: str) -> Application:
    return application_transition(actor=actor, application_id=application_id,
                                  target=Stage.SUSPENDED, reason=reason)


def application_reinstate(*, actor, application_id: int, reason: str) -> Application:
    stage = Application.objects.values_list("stage", flat=True).get(pk=application_id)
    if stage != Stage.SUSPENDED:
        raise ApplicationRefused(_("Only a suspended application can be reinstated."))
    return application_transition(actor=actor, application_id=application_id,
                                  target=Stage.LIVE, reason=reason)


# --- Templates --------------------------------------------------------------------------------


def _content(data: dict) -> rendering.Content:
    unknown = set(data) - set(rendering.CONTENT_FIELDS)
    if unknown:
        raise TemplateRefused(_("Unknown template attributes: %(names)s.")
                              % {"names": ", ".join(sorted(unknown))})
    defaults = {"placeholders": [], "fields": [], "cta_label": "", "cta_kind": "",
                "cta_url": "", "exempt": False, "service_type": "", "utility": "",
                "promotional_points": False, "title": "", "body": "", "scenario": ""}
    defaults.update({k: v for k, v in data.items() if v is not None})
    for key in ("title", "body", "cta_label", "cta_url"):
        defaults[key] = (defaults[key] or "").strip()
    content = rendering.Content(**defaults)
    problems = rendering.content_problems(content)
    if problems:
        raise TemplateRefused(_("This template breaks the notification-message rules."),
                              details=problems)
    return content


def _new_version(template: Template, content: rendering.Content, number: int, actor
                 ) -> TemplateVersion:
    version = TemplateVersion(template=template, number=number, created_by=actor,
                              prescreen_flags=rendering.prescreen(content),
                              **{name: getattr(content, name)
                                 for name in rendering.CONTENT_FIELDS})
    _record(version, actor=actor, reason=_("Version %(number)d created") % {"number": number})
    version.save()
    return version


@transaction.atomic
def template_create(*, actor, account_id: int, name: str, content: dict) -> TemplateVersion:
    """A new template of an Official Account with its first version (a draft); returns the
    version. ``content`` holds the names of ``rendering.CONTENT_FIELDS``."""
    account = Account.objects.get(pk=account_id)
    permissions.require(actor, Action.MANAGE_NOTIFICATIONS, account)
    if account.kind != Account.Kind.OFFICIAL_ACCOUNT:
        raise TemplateRefused(_("Only a LINE Official Account can send notification messages."))
    name = (name or "").strip()
    if not name:
        raise TemplateRefused(_("A template needs a name."))
    if Template.objects.filter(account=account, name=name).exists():
        raise TemplateRefused(_("This Official Account already has a template named "
                                "“%(name)s”.") % {"name": name})
    parsed = _content(content)
    template = Template(account=account, name=name, created_by=actor)
    _record(template, actor=actor, reason=_("Template created"))
    template.save()
    return _new_version(template, parsed, 1, actor)


@transaction.atomic
def template_revise(*, actor, template_id: int, content: dict) -> TemplateVersion:
    """Any change is a new version (a draft, to be reviewed again). Returns the latest version
    unchanged when ``content`` equals it."""
    template = _lock(Template.objects).get(pk=template_id)
    permissions.require(actor, Action.MANAGE_NOTIFICATIONS, template)
    latest = template.versions.order_by("-number").first()
    base = {name: getattr(latest, name) for name in rendering.CONTENT_FIELDS}
    base.update(content)
    parsed = _content(base)
    if rendering.Content.of(latest) == parsed:
        return latest
    return _new_version(template, parsed, latest.number + 1, actor)


@transaction.atomic
def template_submit(*, actor, version_id: int) -> TemplateVersion:
    """Send a draft version to LINE's review; the pre-screen runs again for the reviewer."""
    version = _lock(TemplateVersion.objects).select_related("template").get(pk=version_id)
    permissions.require(actor, Action.MANAGE_NOTIFICATIONS, version.template)
    if version.status == TemplateVersion.Status.PENDING:
        return version
    if version.status != TemplateVersion.Status.DRAFT:
        raise TemplateRefused(_("Only a draft version can be submitted; change the template to "
                                "make a new version."))
    version.status = TemplateVersion.Status.PENDING
    version.submitted_at = timezone.now()
    version.prescreen_flags = rendering.prescreen(rendering.Content.of(version))
    _record(version, actor=actor, reason=_("Submitted for review"))
    version.save(update_fields=["status", "submitted_at", "prescreen_flags"])
    return version


@transaction.atomic
def template_review(*, actor, version_id: int, decision: str, reason: str = ""
                    ) -> TemplateVersion:
    """A LINE reviewer approves or rejects (with a reason) a pending version. Approving
    supersedes the template's previously approved version."""
    permissions.require(actor, Action.REVIEW_NOTIFICATIONS)
    version = _lock(TemplateVersion.objects).get(pk=version_id)
    status = TemplateVersion.Status
    if decision not in (status.APPROVED, status.REJECTED):
        raise TemplateRefused(_("A review decision is either approve or reject."))
    reason = (reason or "").strip()
    if version.status == decision:
        return version
    if version.status != status.PENDING:
        raise InvalidTransition(version.get_status_display(), str(status(decision).label))
    if decision == status.REJECTED and not reason:
        raise TemplateRefused(_("A rejection needs a written reason for the applicant."))
    if decision == status.APPROVED:
        content = rendering.Content.of(version)
        problems = rendering.content_problems(content)
        undeclared = [f["text"] for f in rendering.prescreen(content)
                      if f["kind"] == rendering.UNDECLARED]
        if undeclared:
            problems.append(_("Placeholders not declared: %(names)s.")
                            % {"names": ", ".join(dict.fromkeys(undeclared))})
        if problems:
            raise TemplateRefused(_("This version cannot be approved."), details=problems)
        for old in _lock(TemplateVersion.objects).filter(template_id=version.template_id,
                                                         status=status.APPROVED):
            old.status = status.SUPERSEDED
            _record(old, actor=actor, reason=_("Superseded by version %(number)d")
                    % {"number": version.number})
            old.save(update_fields=["status"])
    version.status = decision
    version.reviewed_at = timezone.now()
    version.reviewed_by = actor
    version.review_reason = reason
    verb = _("Approved") if decision == status.APPROVED else _("Rejected")
    _record(version, actor=actor, reason=f"{verb}: {reason}" if reason else verb)
    version.save(update_fields=["status", "reviewed_at", "reviewed_by", "review_reason"])
    return version


# --- Judging a notice (four conditions, user states: docs/notifications.md#judging-a-push) ------


@dataclass(frozen=True)
class UserState:
    """What the LINE user directory says of the user a phone hash matches, for one account."""

    consent: str  # audiences.LineUser.Consent value
    sms_verified_at: datetime | None
    friendship: str | None  # audiences.Friendship.State value, None when not a friend at all


def months_before(moment: datetime, months: int) -> datetime:
    """The same wall-clock moment ``months`` calendar months earlier (day clamped)."""
    return moment - relativedelta(months=months)


def judge(user: UserState | None, *, exempt: bool, at: datetime) -> tuple[str, str, str]:
    """``(state, reason, user_flow)`` of a notice for ``user`` at ``at``.

    Condition 1 (phone match) fails at once; 2 (not blocking), 3 (consent) and 4 (SMS
    verification within 6 months, unless the template is exempt) leave the notice pending with
    the reason, and with what LINE shows the user first: the consent page to a user who never
    answered, the SMS verification flow to a consenting user not verified in 6 months."""
    from audiences.models import Friendship, LineUser

    state, reason, flow = Notice.State, Notice.Reason, Notice.Flow
    if user is None:
        return state.FAILED, reason.PHONE_MISMATCH, flow.NONE
    if user.friendship in Friendship.BLOCKING:
        return state.PENDING, reason.BLOCKED, flow.NONE
    if user.consent == LineUser.Consent.OFF:
        return state.PENDING, reason.CONSENT_OFF, flow.NONE
    if user.consent != LineUser.Consent.ON:
        return state.PENDING, reason.CONSENT_UNANSWERED, flow.CONSENT_PAGE
    if not exempt:
        verified = user.sms_verified_at
        if verified is None or not (months_before(at, SMS_VERIFICATION_MONTHS) <= verified <= at):
            return state.PENDING, reason.SMS_UNVERIFIED, flow.SMS_VERIFICATION
    return state.DELIVERED, "", flow.NONE


def _in_filter(model, column: str, values: list):
    """``column IN values`` as one parameter on PostgreSQL (``= ANY(array)``): thousands of
    placeholders cost more to build and parse than the query's work."""
    if connection.vendor == "postgresql":
        name = f'"{model._meta.db_table}"."{column}"'
        return RawSQL(f"{name} = ANY(%s)", (values,), output_field=BooleanField())
    return Q(**{f"{column}__in": values})


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
        chunk = hashes[start:start + step]
        rows = (LineUser.objects
                .annotate(here=FilteredRelation("friendships",
                                                condition=Q(friendships__account_id=account_id)))
                .filter(_in_filter(LineUser, "phone_hash", chunk))
                .values_list("phone_hash", "notification_consent", "sms_verified_at",
                             "here__state"))
        for phone_hash, consent, verified, friendship in rows:
            found[phone_hash] = UserState(consent, verified, friendship)
    return found


# --- Sending ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Prepared:
    line_hash: str
    phone_hash: str
    values: dict
    delivery_tag: str


@dataclass
class BatchResult:
    request_id: uuid.UUID
    accepted: int = 0
    delivered: int = 0
    pending: int = 0
    failed: int = 0
    notice_ids: list[int] = field(default_factory=list)


def e164_of(value: str) -> str:
    """``value`` in E.164; raises ``lbm.pii.InvalidIdentifier``."""
    return pii.normalise_phone(value)


_keyed_hasher = pii.keyed_hasher


def line_hash_of(to) -> str:
    """The LINE-style hash of a recipient: ``to`` is a phone number (normalised to E.164, Taiwan
    by default) or already the lower-case hex SHA-256 of one. Raises ``SendRefused``."""
    if not isinstance(to, str) or not to.strip():
        raise SendRefused(_("A recipient phone number (or its hash) is required."))
    value = to.strip()
    hexdigits = set("0123456789abcdefABCDEF")
    looks_hashed = len(value) >= 32 and set(value) <= hexdigits and not value.isdigit()
    if looks_hashed or len(value) == 64 and set(value) <= hexdigits:
        if len(value) != 64:
            raise SendRefused(_("“%(value)s” is not a SHA-256 hash: it must be 64 hexadecimal "
                                "characters (it has %(count)d).")
                              % {"value": value, "count": len(value)})
        if not pii.is_sha256_hex(value):
            raise SendRefused(_("The hash must be written in lower-case hexadecimal (SHA-256 of "
                                "the E.164 number with its +)."))
        return value
    try:
        return pii.sha256_hex(e164_of(value))
    except pii.InvalidIdentifier as exc:
        raise SendRefused(str(exc)) from exc


def delivery_tag_problem(tag) -> str | None:
    if tag in (None, ""):
        return None
    if not isinstance(tag, str):
        return _("The delivery tag must be text.")
    if not TAG_MIN <= len(tag) <= TAG_MAX:
        return (_("The delivery tag must be %(min)d to %(max)d characters long (it has "
                  "%(count)d).") % {"min": TAG_MIN, "max": TAG_MAX, "count": len(tag)})
    if any(not (0x20 <= ord(c) <= 0x7E) for c in tag):
        return _("The delivery tag may contain only printable ASCII characters (it travels in "
                 "the X-Line-Delivery-Tag header).")
    return None


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
    account = (Account.objects.select_related("provider", "lon_application")
               .filter(pk=account_id).first())
    if account is None:
        raise SendRefused(_("Unknown Official Account."))
    application = getattr(account, "lon_application", None)
    if application is None:
        raise SendRefused(_("This Official Account has not applied for notification messages."))
    if application.stage == Stage.SUSPENDED:
        raise SendRefused(_("LINE has suspended this Official Account's notification messages: "
                            "%(reason)s") % {"reason": application.review_reason})
    if application.stage != Stage.LIVE:
        raise SendRefused(_("This Official Account is not approved to send notification "
                            "messages yet (stage: %(stage)s).")
                          % {"stage": application.get_stage_display()})
    problems = application_eligibility(account)
    if problems:
        raise SendRefused(problems[0], details=problems[1:])
    from billing import services as billing
    from billing.models import UsageRecord

    try:
        billing.quota_check(account_id=account.pk, recipients=recipients, sent_at=now,
                            kind=UsageRecord.Kind.NOTIFICATION)
    except DomainError as exc:
        raise SendRefused(exc.message, details=exc.details) from exc
    return account


def _approved_version(account: Account, template_version_id: int) -> TemplateVersion:
    version = (TemplateVersion.objects.select_related("template")
               .filter(pk=template_version_id).first())
    if version is None or version.template.account_id != account.pk:
        raise SendRefused(_("This Official Account has no template version %(id)s.")
                          % {"id": template_version_id})
    if version.status == TemplateVersion.Status.SUPERSEDED:
        raise SendRefused(_("Version %(number)d of “%(name)s” was replaced by a newer approved "
                            "version; send that one.")
                          % {"number": version.number, "name": version.template.name})
    if version.status != TemplateVersion.Status.APPROVED:
        raise SendRefused(_("Version %(number)d of “%(name)s” is not approved by LINE (%(status)s);"
                            " only approved versions can be sent.")
                          % {"number": version.number, "name": version.template.name,
                             "status": version.get_status_display()})
    return version


def notice_send(*, account_id: int, to: str, template_version_id: int,
                values: dict | None = None, delivery_tag: str = "", actor=None,
                request_id: uuid.UUID | None = None) -> Notice:
    """Send one notice (see the module docstring). Returns the recorded notice: delivered,
    pending (consent page, SMS verification, or waiting silently) or failed (phone mismatch)."""
    result = _send(account_id=account_id, template_version_id=template_version_id,
                   items=[{"to": to, "values": values, "delivery_tag": delivery_tag}],
                   actor=actor, request_id=request_id, single=True)
    return Notice.objects.get(pk=result.notice_ids[0])


def notice_send_batch(*, account_id: int, template_version_id: int, items: Iterable[dict],
                      actor=None, request_id: uuid.UUID | None = None) -> BatchResult:
    """Send many notices with one template version (see the module docstring)."""
    return _send(account_id=account_id, template_version_id=template_version_id, items=items,
                 actor=actor, request_id=request_id, single=False)


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
            problems.append(_("#%(index)d: %(problem)s") % {"index": index + 1,
                                                             "problem": str(exc)})
    if problems:
        raise SendRefused(_("No notice was sent: %(count)d of %(total)d are invalid.")
                          % {"count": len(problems), "total": len(items)},
                          details=problems[:20])
    with transaction.atomic():
        return _accept(account, version, prepared, now=now, actor=actor,
                       request_id=request_id or uuid.uuid4())


def _notice_row(account_id: int, version: TemplateVersion, p: Prepared, judged: tuple, *,
                now: datetime, day, request_id: uuid.UUID, actor_id, charged: bool) -> tuple:
    """One notice row (``NOTICE_COLUMNS``) for a judged recipient."""
    state, reason, flow = judged
    pending = state == Notice.State.PENDING
    delivered = state == Notice.State.DELIVERED
    return (account_id, version.pk, request_id, p.phone_hash, crypto.encrypt(p.line_hash),
            crypto.encrypt_json(p.values) if pending and p.values else "", p.delivery_tag,
            state, reason, flow, now, day, now + SETTLE_WINDOW, now if delivered else None,
            None if pending else now, now if delivered and charged else None, None, actor_id)


def _accept(account: Account, version: TemplateVersion, prepared: list[Prepared], *,
            now: datetime, actor, request_id: uuid.UUID) -> BatchResult:
    from billing.periods import line_day

    states = user_states(account_id=account.pk, phone_hashes=[p.phone_hash for p in prepared])
    day = line_day(now)
    result = BatchResult(request_id=request_id)
    rows = []
    exempt, actor_id = version.exempt, getattr(actor, "pk", None)
    for p in prepared:
        judged = judge(states.get(p.phone_hash), exempt=exempt, at=now)
        rows.append(_notice_row(account.pk, version, p, judged, now=now, day=day,
                                request_id=request_id, actor_id=actor_id, charged=True))
        if judged[0] == Notice.State.DELIVERED:
            result.delivered += 1
        elif judged[0] == Notice.State.PENDING:
            result.pending += 1
        else:
            result.failed += 1
    if result.delivered:
        _charge(account.pk, [(day, now)] * result.delivered,
                dedupe=f"lon:req:{request_id.hex}")
    ids = _insert_notices(rows)
    result.accepted = len(ids)
    result.notice_ids = ids
    state_index = NOTICE_COLUMNS.index("state")
    delivered_ids = [pk for pk, row in zip(ids, rows, strict=True)
                     if row[state_index] == Notice.State.DELIVERED]
    _queue_webhooks(account.pk, delivered_ids, now)
    return result


NOTICE_COLUMNS = ("account_id", "template_version_id", "request_id", "phone_hash",
                  "line_hash_secret", "values_secret", "delivery_tag", "state", "reason",
                  "user_flow", "accepted_at", "line_day", "deadline_at", "delivered_at",
                  "settled_at", "charged_at", "purged_at", "sent_by_id")


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value) -> str:
    """One value in PostgreSQL's COPY text format (datetimes are aware, so ISO 8601 with
    offset is unambiguous)."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def _insert_notices(rows: list[tuple]) -> list[int]:
    """Insert notice rows (``NOTICE_COLUMNS``), returning their ids in order. On PostgreSQL:
    the ids drawn from the sequence in one query, then one ``COPY``; elsewhere
    ``bulk_create``. A single row is one INSERT (``_insert_notice``)."""
    if len(rows) == 1:
        return [_insert_notice(rows[0])]
    if connection.vendor != "postgresql":
        notices = [Notice(**dict(zip(NOTICE_COLUMNS, row, strict=True))) for row in rows]
        Notice.objects.bulk_create(notices, batch_size=INSERT_BATCH)
        return [n.pk for n in notices]
    table = connection.ops.quote_name(Notice._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT nextval(pg_get_serial_sequence('{Notice._meta.db_table}', 'id'))"
                       " FROM generate_series(1, %s)", [len(rows)])
        ids = [row[0] for row in cursor.fetchall()]
        columns = ", ".join(connection.ops.quote_name(c) for c in ("id", *NOTICE_COLUMNS))
        with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
            lines = []
            for pk, row in zip(ids, rows, strict=True):
                lines.append("\t".join([str(pk), *map(_copy_text, row)]))
                if len(lines) >= 5_000:
                    copy.write("\n".join(lines) + "\n")
                    lines = []
            if lines:
                copy.write("\n".join(lines) + "\n")
    return ids


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


def template_pattern(version: TemplateVersion) -> re.Pattern:
    """A regular expression matching the version's rendered title + newline + body (a
    placeholder becomes a named group; a repeated one must repeat its value)."""
    text = f"{version.title}\n{version.body}"
    parts, seen, position = [], set(), 0
    for match in rendering.PLACEHOLDER.finditer(text):
        parts.append(re.escape(text[position:match.start()]))
        name = match.group(1)
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        position = match.end()
    parts.append(re.escape(text[position:]))
    return re.compile("".join(parts), re.DOTALL)


def _build_sender(account_id: int) -> Sender:
    from billing.periods import line_period

    now = timezone.now()
    refusal = None
    try:
        _sender(account_id, 1, now)
    except SendRefused as exc:
        refusal = (exc.message, list(exc.details))
    application = Application.objects.filter(account_id=account_id).only("stage").first()
    versions = (TemplateVersion.objects.select_related("template")
                .filter(template__account_id=account_id, status=TemplateVersion.Status.APPROVED)
                .order_by("-reviewed_at", "-pk"))
    return Sender(account_id=account_id,
                  live=application is not None and application.stage == Stage.LIVE,
                  refusal=refusal, period=line_period(now),
                  versions=tuple((v, template_pattern(v)) for v in versions))


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
    row = hotsql.fetchone(f"SELECT u.notification_consent, u.sms_verified_at, f.state"
                          f" FROM {users} u LEFT JOIN {friendships} f ON f.line_user_id = u.id"
                          f" AND f.account_id = %s WHERE u.phone_hash = %s",
                          [account_id, phone_hash])
    if row is None:
        return None
    return UserState(row[0], hotsql.aware(row[1]), row[2])


def _db_value(value, ops):
    if isinstance(value, datetime):
        return ops.adapt_datetimefield_value(value)
    if isinstance(value, date_type):
        return ops.adapt_datefield_value(value)
    if isinstance(value, uuid.UUID) and ops.connection.vendor != "postgresql":
        return value.hex  # Django keeps a UUID as 32 hex characters where there is no uuid type
    return value


_insert_sql: dict[str, str] = {}  # vendor → the INSERT, built once per process


def _insert_notice(row: tuple) -> int:
    """One notice row (``NOTICE_COLUMNS``) with one INSERT; returns its id."""
    ops = connection.ops
    sql = _insert_sql.get(connection.vendor)
    if sql is None:
        columns = ", ".join(ops.quote_name(c) for c in NOTICE_COLUMNS)
        marks = ", ".join(["%s"] * len(NOTICE_COLUMNS))
        sql = _insert_sql[connection.vendor] = (
            f"INSERT INTO {ops.quote_name(Notice._meta.db_table)} ({columns}) VALUES ({marks})"
            f" RETURNING id")
    return hotsql.fetchone(sql, [_db_value(v, ops) for v in row])[0]


def notice_push(*, sender: Sender, version: TemplateVersion, values: dict, to: str,
                delivery_tag: str = "") -> tuple[int, str]:
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
    prepared = _prepare(version, {"to": to, "values": values, "delivery_tag": delivery_tag},
                        _keyed[1])
    now = timezone.now()
    judged = judge(_user_state(sender.account_id, prepared.phone_hash), exempt=version.exempt,
                   at=now)
    row = _notice_row(sender.account_id, version, prepared, judged, now=now, day=line_day(now),
                      request_id=uuid.uuid4(), actor_id=None, charged=False)
    delivered = judged[0] == Notice.State.DELIVERED
    if delivered and not settings.CELERY_TASK_ALWAYS_EAGER:
        # Before the INSERT: a broker out of reach refuses the push with nothing recorded
        # (``QueueUnreachable``: the API's 503), so the client's retry records it once.
        finish_soon()
    notice_id = _insert_notice(row)
    if delivered and settings.CELERY_TASK_ALWAYS_EAGER:
        transaction.on_commit(notices_finish)
    return notice_id, judged[0]


FINISH_DELAY = 1.0  # seconds: pushes delivered within this window are charged together
FINISH_CHUNK = 5_000


_finish_sent_at = -FINISH_DELAY


def finish_soon() -> None:
    """Have ``notices_finish`` run shortly: at once when tasks run eagerly, else at most one
    task per worker process every ``FINISH_DELAY`` seconds, whatever the number of pushes
    (the beat sweep catches anything a lost task would have left). The delivered, uncharged
    notice is its own outbox row: this trigger needs none (``lbm.outbox.publish_now``). Raises
    ``lbm.outbox.QueueUnreachable`` when the broker refuses it."""
    global _finish_sent_at
    from .tasks import finish_notices

    if settings.CELERY_TASK_ALWAYS_EAGER:
        notices_finish()
        return
    now = time.monotonic()
    if now - _finish_sent_at < FINISH_DELAY:
        return  # this worker's task is already on its way
    outbox.publish_now(finish_notices, countdown=FINISH_DELAY)
    _finish_sent_at = now


def notices_finish() -> int:
    """Charge delivered notices not charged yet and queue their webhooks, in chunks; returns
    how many. Idempotent and safe to run concurrently (``SKIP LOCKED``): a notice is charged
    in the same transaction that marks it. An account billing refuses (no subscription) is
    logged and left for the next run; it does not hold up the others."""
    done = 0

    def finish(chunk: list[tuple]) -> None:
        nonlocal done
        now = timezone.now()
        by_account: dict[int, list] = defaultdict(list)
        for row in chunk:
            by_account[row[1]].append(row)
        charged = []
        for account_id, rows in by_account.items():
            ids = [row[0] for row in rows]
            try:
                with transaction.atomic():
                    _bill_delivered(account_id, ids, [(row[2], row[3]) for row in rows], now)
            except DomainError as exc:
                logger.error("notices of account %s left uncharged: %s", account_id, exc)
                continue
            charged.extend(ids)
        Notice.objects.filter(_in_filter(Notice, "id", charged)).update(charged_at=now)
        done += len(charged)

    _in_locked_chunks(
        Notice.objects.filter(state=Notice.State.DELIVERED, charged_at__isnull=True)
        .values_list("pk", "account_id", "line_day", "accepted_at"),
        FINISH_CHUNK, pk_of=lambda row: row[0], handle=finish)
    return done


def _in_locked_chunks(query, size: int, *, pk_of, handle) -> None:
    """Call ``handle(chunk)`` on ``query``'s rows, ``size`` at a time in ascending pk, each
    chunk locked (``SKIP LOCKED`` where the database has it, so concurrent runs share the
    work) and handled in its own transaction."""
    last_pk = 0
    while True:
        with transaction.atomic():
            page = query.filter(pk__gt=last_pk).order_by("pk")
            if connection.features.has_select_for_update_skip_locked:
                page = page.select_for_update(skip_locked=True)
            chunk = list(page[:size])
            if not chunk:
                return
            last_pk = pk_of(chunk[-1])
            handle(chunk)
        if len(chunk) < size:
            return


def _bill_delivered(account_id: int, ids: list[int], deliveries: list[tuple],
                    now: datetime) -> None:
    """Charge delivered notices ``ids`` (``deliveries``: their ``(line_day, accepted_at)``) and
    queue their webhooks; the ledger row's dedupe key is derived from the ids."""
    digest = hashlib.sha1(",".join(map(str, ids)).encode()).hexdigest()[:40]
    _charge(account_id, deliveries, dedupe=f"lon:{digest}")
    _queue_webhooks(account_id, ids, now)


def _charge(account_id: int, deliveries: list[tuple], *, dedupe: str) -> None:
    """Record delivered notices in the billing ledger: 0.2 each, counted in the Japan-time month
    of their acceptance. ``deliveries`` is ``[(line_day, accepted_at), ...]``; one ledger row per
    LINE day, idempotent through its dedupe key."""
    from billing import services as billing
    from billing.models import UsageRecord

    by_day: dict = defaultdict(list)
    for day, accepted_at in deliveries:
        by_day[day].append(accepted_at)
    for day, moments in sorted(by_day.items()):
        key = f"{dedupe}:{day:%Y%m%d}"
        if len(key) > 64:
            key = "lon:" + hashlib.sha1(key.encode()).hexdigest()
        billing.usage_record(account_id=account_id, kind=UsageRecord.Kind.NOTIFICATION,
                             recipients=len(moments), sent_at=min(moments), dedupe_key=key)


# --- Settling pending notices -----------------------------------------------------------------


@dataclass
class SettleResult:
    delivered: int = 0
    failed: int = 0
    still_pending: int = 0


def notices_settle(*, now: datetime | None = None,
                   phone_hashes: Iterable[str] | None = None) -> SettleResult:
    """Re-judge pending notices (all, or those of ``phone_hashes``): a user who consented,
    verified by SMS or unblocked within the 24 hours receives the notice (charged, webhook
    sent); past the 24 hours the notice fails with its reason. Values are cleared once settled.

    Idempotent and safe to run concurrently: only pending rows are read, each chunk is locked
    (``SKIP LOCKED`` on PostgreSQL) and settled in its own transaction."""
    now = now or timezone.now()
    result = SettleResult()
    base = Notice.objects.filter(state=Notice.State.PENDING)
    if phone_hashes is not None:
        base = base.filter(phone_hash__in=list(phone_hashes))
    _in_locked_chunks(
        base.select_related("template_version").only(
            "pk", "account_id", "phone_hash", "state", "reason", "user_flow", "accepted_at",
            "line_day", "deadline_at", "template_version__exempt", "request_id"),
        SETTLE_CHUNK, pk_of=lambda notice: notice.pk,
        handle=lambda chunk: _settle_chunk(chunk, now, result))
    return result


def _settle_chunk(chunk: list[Notice], now: datetime, result: SettleResult) -> None:
    by_account: dict[int, list[Notice]] = defaultdict(list)
    for notice in chunk:
        by_account[notice.account_id].append(notice)
    changed, fields = [], ["state", "reason", "user_flow", "delivered_at", "settled_at",
                           "values_secret", "charged_at"]
    for account_id, notices in by_account.items():
        states = user_states(account_id=account_id, phone_hashes=[n.phone_hash for n in notices])
        delivered = []
        for notice in notices:
            at = min(now, notice.deadline_at)
            state, reason, flow = judge(states.get(notice.phone_hash),
                                        exempt=notice.template_version.exempt, at=at)
            if state == Notice.State.DELIVERED:
                notice.state, notice.reason, notice.user_flow = state, "", ""
                notice.delivered_at = at
                notice.settled_at = now
                notice.values_secret = ""
                notice.charged_at = now
                delivered.append(notice)
                result.delivered += 1
            elif now >= notice.deadline_at or state == Notice.State.FAILED:
                notice.state, notice.reason, notice.user_flow = Notice.State.FAILED, reason, flow
                notice.settled_at = now
                notice.values_secret = ""
                result.failed += 1
            elif (reason, flow) != (notice.reason, notice.user_flow):
                notice.reason, notice.user_flow = reason, flow
                result.still_pending += 1
            else:
                result.still_pending += 1
                continue
            changed.append(notice)
        if delivered:
            _bill_delivered(account_id, [n.pk for n in delivered],
                            [(n.line_day, n.accepted_at) for n in delivered], now)
    if changed:
        Notice.objects.bulk_update(changed, fields, batch_size=SETTLE_CHUNK)


@transaction.atomic
def notices_purge(*, now: datetime | None = None) -> int:
    """Clear the encrypted personal data of notices settled more than ``RETENTION`` ago whose
    webhook is done (sent or given up). Returns how many were purged. Idempotent."""
    now = now or timezone.now()
    busy = WebhookDelivery.objects.filter(
        state__in=[WebhookDelivery.State.QUEUED, WebhookDelivery.State.RETRYING]
    ).values("notice_id")
    return (Notice.objects.filter(settled_at__lt=now - RETENTION, purged_at__isnull=True)
            .exclude(pk__in=busy)
            .update(line_hash_secret="", values_secret="", purged_at=now))


# --- Webhooks ---------------------------------------------------------------------------------

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_event_id(moment: datetime | None = None) -> str:
    """A ULID (26 characters, Crockford base32: 48-bit ms time + 80 random bits), the format of
    ``webhookEventId``."""
    ms = int((moment or timezone.now()).timestamp() * 1000)
    value = (ms << 80) | secrets.randbits(80)
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _queue_webhooks(account_id: int, notice_ids: list[int], now: datetime) -> None:
    """Create the delivery webhooks of delivered notices (when the account's channel has a
    webhook URL) and send them through Celery once the transaction commits."""
    if not notice_ids:
        return
    from lbm.models import Channel

    url = Channel.objects.filter(account_id=account_id).values_list("webhook_url",
                                                                      flat=True).first()
    if not url:
        return
    rows = WebhookDelivery.objects.bulk_create(
        [WebhookDelivery(notice_id=pk, account_id=account_id, webhook_event_id=new_event_id(now),
                         created_at=now) for pk in notice_ids], batch_size=INSERT_BATCH)
    ids = [row.pk for row in rows]
    from .tasks import deliver_webhook, fan_out_webhooks

    # Outbox rows in this transaction, published after commit (docs/reliability.md#the-outbox).
    for start in range(0, len(ids), FAN_OUT_CHUNK):
        chunk = ids[start:start + FAN_OUT_CHUNK]
        if len(chunk) == 1:
            outbox.enqueue(deliver_webhook, {"delivery_id": chunk[0]}, reason="delivery webhook")
        else:
            outbox.enqueue(fan_out_webhooks, {"delivery_ids": chunk},
                           reason=f"{len(chunk)} delivery webhooks")


def signature(body: bytes, channel_secret: str) -> str:
    """``X-Line-Signature``: base64 of HMAC-SHA256 of the body under the channel secret."""
    import base64

    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def webhook_body(delivery: WebhookDelivery, *, destination: str, redelivery: bool) -> bytes:
    """The CallbackRequest of one ``delivery`` event (webhook.yml), as the bytes signed."""
    notice = delivery.notice
    data = notice.delivery_tag or crypto.decrypt(notice.line_hash_secret)
    event = {
        "type": "delivery", "mode": "active",
        "timestamp": int(notice.delivered_at.timestamp() * 1000),
        "webhookEventId": delivery.webhook_event_id,
        "deliveryContext": {"isRedelivery": redelivery},
        "delivery": {"data": data},
    }
    return json.dumps({"destination": destination, "events": [event]},
                      separators=(",", ":")).encode("utf-8")


class WebhookTemporaryError(Exception):
    """A connection error or a 5xx answer: the task retries with backoff."""


# --- The webhook HTTP client: httpx, one pooled client per process, an overall deadline -------

_deadline = threading.local()  # .at: time.monotonic() by which this thread's POST must be done


def _time_left(timeout: float | None, timeout_error: type[Exception]) -> float | None:
    """The socket timeout of one operation: its own, cut to what is left of the deadline."""
    at = getattr(_deadline, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise timeout_error(f"the webhook's {WEBHOOK_DEADLINE} s deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write gets at most the time left of the POST's
    deadline: a receiver that drips its headers a byte at a time cannot hold the worker."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context, server_hostname=None, timeout=None):
        return _DeadlineStream(self._stream.start_tls(
            ssl_context, server_hostname, _time_left(timeout, httpcore.ConnectTimeout)))

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self) -> None:
        self._backend = httpcore.SyncBackend()

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        return _DeadlineStream(self._backend.connect_tcp(
            host, port, _time_left(timeout, httpcore.ConnectTimeout), local_address,
            socket_options))

    def connect_unix_socket(self, path, timeout=None, socket_options=None):
        return _DeadlineStream(self._backend.connect_unix_socket(
            path, _time_left(timeout, httpcore.ConnectTimeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


class _DeadlineTransport(httpx.HTTPTransport):
    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._pool._network_backend = _DeadlineBackend()  # httpx pinned (pyproject.toml)


_client: tuple[int, httpx.Client] | None = None


def webhook_client() -> httpx.Client:
    """This process's pooled client (made anew after a fork: a prefork child never shares its
    parent's sockets). No redirects followed (LINE does not: a 3xx is an answer like any other),
    no proxy from the environment."""
    global _client
    if _client is None or _client[0] != os.getpid():
        transport = _DeadlineTransport(trust_env=False, retries=0, limits=httpx.Limits(
            max_connections=20, max_keepalive_connections=10, keepalive_expiry=30))
        _client = (os.getpid(), httpx.Client(
            transport=transport, follow_redirects=False, trust_env=False,
            timeout=httpx.Timeout(WEBHOOK_TIMEOUT)))
    return _client[1]


def _post(url: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    """POST within ``WEBHOOK_DEADLINE``; returns the status and the answer's first 400 bytes.
    Raises ``httpx.HTTPError`` (connection refused, a timeout, the deadline)."""
    _deadline.at = time.monotonic() + WEBHOOK_DEADLINE
    try:
        with webhook_client().stream("POST", url, content=body, headers=headers) as response:
            start = b""
            for piece in response.iter_raw():
                start += piece
                if len(start) >= 400:
                    break
            return response.status_code, start[:400]
    except httpx.TimeoutException as exc:
        if time.monotonic() >= _deadline.at - 0.05:  # the deadline, not one slow read
            raise type(exc)(f"no answer within the webhook's {WEBHOOK_DEADLINE} s "
                            "deadline") from exc
        raise
    finally:
        _deadline.at = None


def _claim(delivery_id: int, now) -> int | None:
    """Claim the next attempt of an unfinished webhook for this execution, in one conditional
    UPDATE, before anything is POSTed: the attempt count goes up at once (so an attempt cut off
    by a killed process still counts, and the next one says ``isRedelivery: true``) and the
    claim holds for ``WEBHOOK_CLAIM``. Returns the attempts made before this one, or None when
    the webhook is finished or another execution holds the claim."""
    open_states = (WebhookDelivery.State.QUEUED, WebhookDelivery.State.RETRYING)
    claimed = (WebhookDelivery.objects
               .filter(pk=delivery_id, state__in=open_states)
               .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
               .update(attempts=F("attempts") + 1, claimed_until=now + WEBHOOK_CLAIM))
    if not claimed:
        return None
    return WebhookDelivery.objects.filter(pk=delivery_id).values_list(
        "attempts", flat=True).get() - 1


def webhook_attempt(*, delivery_id: int, final: bool = False) -> WebhookDelivery:
    """POST the delivery event once and record the attempt. 2xx: sent. 4xx or 3xx: failed (no
    retry). Connection error or 5xx: raises ``WebhookTemporaryError`` for a retry, or fails
    when ``final``. A webhook already sent or given up is left alone; one whose attempt another
    execution has claimed raises ``WebhookTemporaryError`` (the retry finds it finished)."""
    now = timezone.now()
    delivery = (WebhookDelivery.objects.select_related("notice", "account__channel")
                .get(pk=delivery_id))
    if delivery.done:
        return delivery
    before = _claim(delivery_id, now)
    if before is None:
        delivery.refresh_from_db(fields=["state", "attempts", "finished_at", "claimed_until"])
        if delivery.done:
            return delivery
        raise WebhookTemporaryError("another execution holds this webhook's attempt")
    # The attempt count, not the task's retry count, decides the last one: a webhook the sweep
    # queued again starts a new task, but not a new series of attempts.
    final = final or before + 1 >= WEBHOOK_MAX_ATTEMPTS
    channel = getattr(delivery.account, "channel", None)
    url = channel.webhook_url if channel else ""
    attempt = WebhookAttempt(delivery=delivery, attempted_at=now, url=url[:500])
    retry = False
    if not url or not url.lower().startswith(("https://", "http://")):
        attempt.error = _("No webhook URL (http or https) is set for this channel.")
    else:
        body = webhook_body(delivery, destination=channel.bot_user_id, redelivery=before > 0)
        headers = {
            "Content-Type": "application/json",
            "X-Line-Signature": signature(body, channel.channel_secret),
            "User-Agent": "LineBotWebhook/2.0",
        }
        started = time.monotonic()
        try:
            attempt.status_code, excerpt = _post(url, body, headers)
            attempt.response_excerpt = _excerpt(excerpt)
            retry = attempt.status_code >= 500
        except (httpx.HTTPError, httpx.InvalidURL, OSError, SoftTimeLimitExceeded) as exc:
            attempt.error = (str(exc) or type(exc).__name__)[:300]
            retry = True
        attempt.duration_ms = int((time.monotonic() - started) * 1000)
    attempt.save()
    delivery.attempts = before + 1
    delivery.claimed_until = None
    if attempt.status_code is not None and 200 <= attempt.status_code < 300:
        delivery.state, delivery.finished_at = WebhookDelivery.State.SENT, now
    elif retry and not final:
        delivery.state = WebhookDelivery.State.RETRYING
    else:
        delivery.state, delivery.finished_at = WebhookDelivery.State.FAILED, now
    delivery.save(update_fields=["state", "finished_at", "claimed_until"])
    if delivery.state == WebhookDelivery.State.RETRYING:
        raise WebhookTemporaryError(attempt.error or f"HTTP {attempt.status_code}")
    return delivery


def webhooks_sweep(*, now: datetime | None = None) -> dict:
    """Beat, every 5 minutes (docs/reliability.md#webhooks): an open webhook (queued or
    retrying) whose claim has lapsed and whose state has not moved for ``WEBHOOK_STUCK_AFTER``
    (created, or last attempted, that long ago) lost its task. It is queued again through the
    outbox (the row records why), at most once per ``WEBHOOK_STUCK_AFTER``; one that has had
    all its attempts ends failed, with an attempt row saying so. Safe against a task that is
    merely late: the claim lets only one execution POST. Returns the counts."""
    from django.db.models import Max

    from lbm.models import OutboxMessage

    from .tasks import deliver_webhook

    now = now or timezone.now()
    before = now - WEBHOOK_STUCK_AFTER
    stuck = (WebhookDelivery.objects
             .filter(state__in=[WebhookDelivery.State.QUEUED, WebhookDelivery.State.RETRYING],
                     created_at__lt=before)
             .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
             .annotate(last_attempt=Max("attempt_rows__attempted_at"))
             .filter(Q(last_attempt__isnull=True) | Q(last_attempt__lt=before))
             .order_by("pk"))
    result = {"requeued": 0, "failed": 0}
    for delivery in stuck.iterator(chunk_size=500):
        with transaction.atomic():
            if delivery.attempts >= WEBHOOK_MAX_ATTEMPTS:
                given_up = (WebhookDelivery.objects.filter(
                    pk=delivery.pk, state__in=[WebhookDelivery.State.QUEUED,
                                               WebhookDelivery.State.RETRYING])
                    .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
                    .update(state=WebhookDelivery.State.FAILED, finished_at=now))
                if given_up:
                    WebhookAttempt.objects.create(
                        delivery=delivery, attempted_at=now, url="",
                        error=_("Given up by the sweep after %(count)d attempts.")
                        % {"count": delivery.attempts})
                    result["failed"] += 1
                continue
            if OutboxMessage.objects.filter(task=deliver_webhook.name,
                                            kwargs__delivery_id=delivery.pk,
                                            created_at__gte=before).exists():
                continue  # queued again recently (or waiting for the broker)
            outbox.enqueue(deliver_webhook, {"delivery_id": delivery.pk},
                           reason=f"sweep: webhook {delivery.state} without moving for "
                                  f"{int(WEBHOOK_STUCK_AFTER.total_seconds() // 60)} min")
            result["requeued"] += 1
    if any(result.values()):
        logger.warning("webhook sweep: %(requeued)d queued again, %(failed)d given up", result)
    return result


def _excerpt(raw: bytes) -> str:
    return raw.decode("utf-8", errors="replace")[:200]


# --- Export of failed notices (SMS fallback) --------------------------------------------------


@transaction.atomic
def failed_notices_export(*, actor, account_ids: list[int] | None = None,
                          notice_ids: list[int] | None = None) -> list[dict]:
    """The failed notices the actor may export (Admins of the organization the account is
    linked to), as ``{"hash", "tag", "reason", "accepted_at", "account_id"}``; each export is
    recorded (who, when, which accounts, how many). Purged notices have no hash any more."""
    if not permissions.can(actor, Action.EXPORT_NOTICES):
        permissions.require(actor, Action.EXPORT_NOTICES)
    queryset = permissions.visible(actor, Notice.objects.filter(state=Notice.State.FAILED),
                                   Action.EXPORT_NOTICES, account_path="account")
    if account_ids is not None:
        queryset = queryset.filter(account_id__in=account_ids)
    if notice_ids is not None:
        queryset = queryset.filter(pk__in=notice_ids)
    rows = []
    accounts = set()
    for notice in queryset.order_by("accepted_at", "pk").iterator(chunk_size=5000):
        accounts.add(notice.account_id)
        rows.append({"hash": crypto.decrypt(notice.line_hash_secret),
                     "tag": notice.delivery_tag, "reason": notice.reason,
                     "accepted_at": notice.accepted_at.isoformat(),
                     "account_id": notice.account_id})
    FailedNoticeExport.objects.create(exported_by=actor, exported_at=timezone.now(),
                                      account_ids=sorted(accounts), notice_count=len(rows))
    return rows


# --- Ordinary pushes --------------------------------------------------------------------------


def push_check(*, account: Account, user_id: str) -> None:
    """Before an ordinary (non-LON) message to one user: only friends who have not blocked the
    account may receive it (docs/notifications.md#ordinary-pushes). Raises ``NotAFriend``."""
    from audiences.models import Friendship

    state = (Friendship.objects.filter(account_id=account.pk, line_user__user_id=user_id)
             .values_list("state", flat=True).first())
    if state in Friendship.REACHABLE:
        return
    if state in Friendship.BLOCKING:
        raise NotAFriend(_("The user %(user)s blocks this Official Account; only friends may "
                           "receive messages other than notification messages.")
                         % {"user": user_id})
    raise NotAFriend(_("The user %(user)s is not a friend of this Official Account; messages "
                       "other than notification messages may be sent only to friends.")
                     % {"user": user_id})


def push_refusals(*, account_id: int, user_ids: Iterable[str]) -> list[str]:
    """Of ``user_ids``, those an ordinary multicast must not reach (not friends, or blocking),
    in one query."""
    from audiences.models import Friendship

    ids = list(dict.fromkeys(user_ids))
    friends = set(Friendship.objects.filter(account_id=account_id, line_user__user_id__in=ids,
                                            state__in=Friendship.REACHABLE)
                  .values_list("line_user__user_id", flat=True))
    return [uid for uid in ids if uid not in friends]
