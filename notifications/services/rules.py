"""Pure rules of a notice, no database access: the user-state table and ``judge``
(docs/notifications.md#judging-a-push), recipients and delivery tags, template patterns."""

import re
from dataclasses import dataclass
from datetime import datetime

from dateutil.relativedelta import relativedelta
from django.utils.translation import gettext as _

from lbm import pii

from .. import rendering
from ..exceptions import SendRefused
from ..models import SMS_VERIFICATION_MONTHS, Notice, TemplateVersion

TAG_MIN, TAG_MAX = 16, 100


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
            raise SendRefused(
                _(
                    "“%(value)s” is not a SHA-256 hash: it must be 64 hexadecimal "
                    "characters (it has %(count)d)."
                )
                % {"value": value, "count": len(value)}
            )
        if not pii.is_sha256_hex(value):
            raise SendRefused(
                _(
                    "The hash must be written in lower-case hexadecimal (SHA-256 of "
                    "the E.164 number with its +)."
                )
            )
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
        return _(
            "The delivery tag must be %(min)d to %(max)d characters long (it has %(count)d)."
        ) % {"min": TAG_MIN, "max": TAG_MAX, "count": len(tag)}
    if any(not (0x20 <= ord(c) <= 0x7E) for c in tag):
        return _(
            "The delivery tag may contain only printable ASCII characters (it travels in "
            "the X-Line-Delivery-Tag header)."
        )
    return None


def template_pattern(version: TemplateVersion) -> re.Pattern:
    """A regular expression matching the version's rendered title + newline + body (a
    placeholder becomes a named group; a repeated one must repeat its value)."""
    text = f"{version.title}\n{version.body}"
    parts, seen, position = [], set(), 0
    for match in rendering.PLACEHOLDER.finditer(text):
        parts.append(re.escape(text[position : match.start()]))
        name = match.group(1)
        parts.append(f"(?P={name})" if name in seen else f"(?P<{name}>.+?)")
        seen.add(name)
        position = match.end()
    parts.append(re.escape(text[position:]))
    return re.compile("".join(parts), re.DOTALL)


@dataclass(frozen=True)
class Prepared:
    line_hash: str
    phone_hash: str
    values: dict
    delivery_tag: str
