"""Single-use invitations bound to an e-mail address (docs/organizations.md#invitations).

One design for every invitation of the back office — an organization's members
(``lbm.services.membership_invite``) and an Official Account's administrators
(``billing.selfservice.invitation_create``): a random token sent by e-mail, valid
``INVITATION_DAYS`` days, usable once, by a sign-in whose e-mail address is the one invited.
Only the SHA-256 of the token and the keyed hash of the address (``lbm.pii``) are stored.

The concrete models inherit ``lbm.models.Invitation``; the callers pass their own error class so
that each app keeps its exceptions.
"""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from . import pii
from .exceptions import DomainError
from .workdays import taipei_date

INVITATION_DAYS = 7


class InvalidInvitation(DomainError):
    """The invitation does not exist, was used, expired, or names another address."""


def token_hash(token: str) -> str:
    return hashlib.sha256((token or "").encode()).hexdigest()


def email_hash(email: str, *, error: type[DomainError] = InvalidInvitation) -> str:
    try:
        return pii.email_keyed_hash(email)
    except pii.InvalidIdentifier as exc:
        raise error(_("Enter the e-mail address of the person to invite.")) from exc


def issue(
    model,
    *,
    email: str,
    actor,
    now: datetime | None = None,
    error: type[DomainError] = InvalidInvitation,
    **fields,
):
    """A new invitation row of ``model`` for ``email``; returns (row, token). The token is
    returned once, for the e-mail; it is not kept."""
    token = secrets.token_urlsafe(32)
    now = now or timezone.now()
    invitation = model.objects.create(
        token_hash=token_hash(token),
        email_hash=email_hash(email, error=error),
        created_by=actor,
        expires_at=now + timedelta(days=INVITATION_DAYS),
        **fields,
    )
    return invitation, token


def is_for_email(invitation, email: str) -> bool:
    try:
        return hmac.compare_digest(pii.email_keyed_hash(email or ""), invitation.email_hash)
    except pii.InvalidIdentifier:
        return False


def is_for(invitation, user) -> bool:
    return is_for_email(invitation, user.email or "")


def find(
    model,
    token: str,
    *,
    now: datetime | None = None,
    lock: bool = False,
    error: type[DomainError] = InvalidInvitation,
):
    """The usable invitation of ``token``, or ``error`` saying why not (unknown, used,
    expired)."""
    now = now or timezone.now()
    query = model.objects.select_for_update() if lock else model.objects
    invitation = query.filter(token_hash=token_hash(token)).first()
    if invitation is None:
        raise error(_("This invitation does not exist."))
    if invitation.used_at is not None:
        raise error(_("This invitation has already been used."))
    if now >= invitation.expires_at:
        raise error(
            _("This invitation expired on %(day)s; ask for a new one.")
            % {"day": taipei_date(invitation.expires_at)}
        )
    return invitation


def claim(
    model,
    *,
    token: str,
    user,
    now: datetime | None = None,
    error: type[DomainError] = InvalidInvitation,
):
    """Use the invitation for ``user`` (inside the caller's transaction): it must be usable and
    sent to ``user``'s address. Returns the row, now used."""
    now = now or timezone.now()
    invitation = find(model, token, now=now, lock=True, error=error)
    if not is_for(invitation, user):
        raise error(
            _(
                "This invitation was sent to another e-mail address: sign in with the "
                "address it was sent to."
            )
        )
    invitation.used_at, invitation.used_by = now, user
    invitation.save(update_fields=["used_at", "used_by"])
    return invitation
