"""Invitations to join an organization (docs/organizations.md#invitations): invite, find,
accept, revoke, and a sign-in for an invited person who has none."""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import invitations, permissions, pii
from ..exceptions import DomainError
from ..models import Membership, MembershipInvitation, Organization
from ..permissions import Action
from ..workdays import taipei_date
from ._base import _record
from .members import _membership_create


@transaction.atomic
def membership_invite(
    *, organization_id: int, actor, email: str, role: str, is_company_member: bool = True, now=None
) -> tuple[MembershipInvitation, str]:
    """An Admin invites the person who reads ``email`` to join with ``role``: a single-use link,
    valid 7 days, sent to that address, that only a sign-in with that address may accept. Only
    the token's hash, the address's keyed hash and a masked hint are kept. Returns the row and
    the token (which only the e-mail carries)."""
    organization = Organization.objects.select_for_update().get(pk=organization_id)
    permissions.require(actor, Action.MANAGE_MEMBERS, organization)
    if role not in Membership.Role.values:
        raise DomainError(_("Unknown role."))
    cleaned = pii.clean_email(email or "")
    if cleaned is None:
        raise DomainError(_("Enter the e-mail address of the person to invite."))
    members = Membership.objects.filter(organization=organization).select_related("user")
    if any(pii.clean_email(m.user.email or "") == cleaned for m in members):
        raise DomainError(_("A member of this organization already uses this e-mail address."))
    invitation, token = invitations.issue(
        MembershipInvitation,
        email=cleaned,
        actor=actor,
        now=now,
        organization=organization,
        role=role,
        is_company_member=is_company_member,
        email_hint=pii.mask_email(cleaned),
    )
    _record(
        organization,
        actor=actor,
        reason=_("Invited %(who)s as %(role)s")
        % {"who": invitation.email_hint, "role": invitation.get_role_display()},
    )
    organization.save(update_fields=["updated_at"])  # the history row: who invited whom, when
    link = settings.SITE_URL + reverse("lbm:invitation", args=[token])
    inviter = actor.get_full_name() or actor.get_username()
    role_label = invitation.get_role_display()
    transaction.on_commit(
        lambda: send_mail(
            subject=_("You are invited to join %(org)s in LINE Business Manager")
            % {"org": organization.name},
            message=_(
                "%(inviter)s invites you to join the organization %(org)s in LINE Business "
                "Manager as %(role)s.\n\nOpen this link within %(days)s days, then sign in "
                "with this e-mail address (or create a sign-in for it) and accept. The link "
                "works once; you become a member only when you accept.\n\n%(link)s\n"
            )
            % {
                "inviter": inviter,
                "org": organization.name,
                "role": role_label,
                "days": invitations.INVITATION_DAYS,
                "link": link,
            },
            from_email=None,
            recipient_list=[cleaned],
        )
    )
    return invitation, token


def membership_invitation_find(*, token: str) -> MembershipInvitation:
    """The usable invitation of ``token`` (the page the e-mail links to), or
    ``InvalidInvitation`` saying why not."""
    return invitations.find(MembershipInvitation, token)


@transaction.atomic
def membership_invitation_accept(*, token: str, user, now=None) -> Membership:
    """The invited person, signed in with the invited address, accepts: only now do they become
    a member, with the role the invitation names."""
    invitation = invitations.claim(MembershipInvitation, token=token, user=user, now=now)
    organization = Organization.objects.select_for_update().get(pk=invitation.organization_id)
    if organization.is_deleted:
        raise invitations.InvalidInvitation(
            _("This organization was deleted on %(day)s.")
            % {"day": taipei_date(organization.deleted_at)}
        )
    role = invitation.get_role_display()
    return _membership_create(
        organization,
        user=user,
        role=invitation.role,
        is_company_member=invitation.is_company_member,
        actor=user,
        reason=_("Accepted the invitation of %(inviter)s as %(role)s")
        % {"inviter": invitation.created_by or "—", "role": role},
    )


@transaction.atomic
def membership_invitation_revoke(*, invitation_id: int, actor) -> MembershipInvitation:
    """An Admin withdraws an invitation that was not used yet; the link stops working."""
    invitation = MembershipInvitation.objects.select_for_update().get(pk=invitation_id)
    permissions.require(actor, Action.MANAGE_MEMBERS, invitation.organization)
    if invitation.used_at is None:
        invitation.expires_at = min(invitation.expires_at, timezone.now())
        invitation.save(update_fields=["expires_at"])
        _record(
            invitation.organization,
            actor=actor,
            reason=_("Invitation of %(who)s withdrawn") % {"who": invitation.email_hint},
        )
        invitation.organization.save(update_fields=["updated_at"])
    return invitation


def invited_user_register(*, token: str, username: str, email: str, password: str):
    """A sign-in for a person who was invited and has none: only for the invited address, and
    only while the invitation is usable. The person still has to accept the invitation."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    with transaction.atomic():
        invitation = invitations.find(MembershipInvitation, token, lock=True)
        cleaned = pii.clean_email(email or "")
        if cleaned is None or not invitations.is_for_email(invitation, cleaned):
            raise invitations.InvalidInvitation(
                _(
                    "This invitation was sent to another e-mail address: use the address it was "
                    "sent to."
                )
            )
        if User.objects.filter(email__iexact=cleaned).exists():
            raise invitations.InvalidInvitation(
                _("A sign-in with this e-mail address already exists: sign in with it to accept.")
            )
        if User.objects.filter(username__iexact=username).exists():
            raise invitations.InvalidInvitation(_("This sign-in name is taken; choose another."))
        return User.objects.create_user(
            username=username, email=cleaned, password=password, is_staff=False
        )
