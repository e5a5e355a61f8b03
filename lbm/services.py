"""Every write to organizations, members and account links.

Each function locks what it changes, returns early when nothing changes (a repeated click or a
retried task), checks permissions through ``lbm.permissions``, records who and why in the
history, and sends side effects only once the transaction commits.
"""

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from . import invitations, permissions, pii, reviews, signals
from .audit import record_change
from .exceptions import (
    AccountAlreadyLinked,
    DomainError,
    IncompleteBusinessInfo,
    IneligibleLink,
    InvalidTransition,
    InvalidVerificationLink,
    LastAdmin,
)
from .models import Account, AccountLink, Membership, MembershipInvitation, Organization
from .permissions import Action
from .selectors import (  # reads, kept importable from here for the callers
    BUSINESS_INFO_FIELDS,
    RuleResult,
    business_info_missing,  # noqa: F401
    contact_email_is_verified,  # noqa: F401
    link_eligibility,
    submission_problems,
)
from .selectors import check_contact as _check_contact
from .workdays import review_due_date, taipei_date

VERIFICATION_SALT = "lbm.organization.contact-verification"


_record = record_change  # lbm.audit: who and why for the history row


# --- Organizations ----------------------------------------------------------------------------


def organization_validate_entity(*, entity_type: str) -> None:
    if entity_type != Organization.EntityType.COMPANY:
        raise DomainError(
            _(
                "Agencies and resellers may not create an organization for "
                "themselves; the organization must be the brand owner's company."
            ),
            field="entity_type",
        )


@transaction.atomic
def organization_create(*, actor, organization: Organization) -> Organization:
    """Save a new draft organization (built by a form or a caller, not yet saved). Its creator
    becomes its first Admin, a company member, and its contact person; the contact e-mail
    verification link is sent once the transaction commits."""
    if actor.is_staff and not actor.is_superuser:
        raise DomainError(_("LINE staff do not create organizations; customers do."))
    organization_validate_entity(entity_type=organization.entity_type)
    organization.name = (organization.name or "").strip()
    if not organization.name:
        raise DomainError(_("An organization needs a name."), field="name")
    organization.status = Organization.Status.DRAFT
    organization.contact = None
    _full_clean(organization)
    _record(organization, actor=actor, reason=_("Created"))
    try:
        with transaction.atomic():
            organization.save()
    except IntegrityError as exc:
        raise DomainError(
            _(
                "An organization with this business number already exists or "
                "existed; a company may have only one, ever."
            ),
            field="business_number",
        ) from exc
    membership = Membership(
        organization=organization, user=actor, role=Membership.Role.ADMIN, is_company_member=True
    )
    _record(membership, actor=actor, reason=_("Creator becomes Admin"))
    membership.save()
    permissions.grant_role(membership)
    if actor.email:
        organization.contact = actor
        _record(organization, actor=actor, reason=_("Creator set as contact person"))
        organization.save(update_fields=["contact", "updated_at"])
        organization_send_contact_verification(organization_id=organization.pk, actor=actor)
    return organization


def _full_clean(organization: Organization) -> None:
    try:
        organization.full_clean(exclude=["contact"])
    except ValidationError as exc:
        fields = [name for name in getattr(exc, "error_dict", {}) if name != "__all__"]
        raise DomainError(
            " ".join(exc.messages), field=fields[0] if len(fields) == 1 else None
        ) from exc


@transaction.atomic
def organization_update(*, organization: Organization, actor, changed: list[str]) -> Organization:
    """Save an edit made in the admin. Business information changes only while the organization
    is a draft or rejected; a new contact person or address needs verifying again."""
    permissions.require(actor, Action.CHANGE, organization)
    current = Organization.objects.select_for_update().get(pk=organization.pk)
    locked_fields = set(changed) & set(BUSINESS_INFO_FIELDS + ("entity_type", "country"))
    if locked_fields and current.status not in Organization.EDITABLE_BUSINESS_INFO:
        raise DomainError(
            _(
                "Business information can be changed only while the organization "
                "is a draft or has been rejected."
            ),
            field=sorted(locked_fields)[0],
        )
    organization.name = (organization.name or "").strip()
    if not organization.name:
        raise DomainError(_("An organization needs a name."), field="name")
    if "entity_type" in changed:
        organization_validate_entity(entity_type=organization.entity_type)
    if "contact" in changed and organization.contact_id:
        _check_contact(organization, organization.contact)
    _full_clean(organization)
    _record(
        organization,
        actor=actor,
        reason=_("Edited: %(fields)s") % {"fields": ", ".join(sorted(changed))},
    )
    try:
        with transaction.atomic():
            organization.save()
    except IntegrityError as exc:
        raise DomainError(
            _(
                "An organization with this business number already exists or "
                "existed; a company may have only one, ever."
            ),
            field="business_number",
        ) from exc
    if "contact" in changed and organization.contact_id:
        organization_send_contact_verification(organization_id=organization.pk, actor=actor)
    return organization


@transaction.atomic
def organization_submit(*, organization_id: int, actor) -> Organization:
    """Send a draft or rejected organization to LINE's review queue."""
    organization = Organization.objects.select_for_update().get(pk=organization_id)
    permissions.require(actor, Action.CHANGE, organization)
    if organization.status == Organization.Status.PENDING:
        return organization
    _transition(organization, Organization.Status.PENDING)
    problems = submission_problems(organization)
    if problems:
        raise IncompleteBusinessInfo(
            _("This organization cannot be submitted for review."), details=problems
        )
    resubmission = organization.status == Organization.Status.REJECTED
    now = timezone.now()
    organization.status = Organization.Status.PENDING
    organization.submitted_at = now
    organization.review_due_on = review_due_date(now)
    _record(
        organization,
        actor=actor,
        reason=_("Resubmitted for review") if resubmission else _("Submitted for review"),
    )
    organization.save(update_fields=["status", "submitted_at", "review_due_on", "updated_at"])
    return organization


def _transition(obj, target: str) -> None:
    if target not in obj.TRANSITIONS[obj.status]:
        raise InvalidTransition(obj.get_status_display(), str(obj.Status(target).label))


@transaction.atomic
def organization_review(
    *, organization_id: int, decision: str, actor, reason: str = ""
) -> Organization:
    """A LINE reviewer approves or rejects a pending organization; rejection needs a reason."""
    permissions.require(actor, Action.REVIEW_ORGANIZATIONS)
    organization = Organization.objects.select_for_update().get(pk=organization_id)
    reason = reviews.review_reason(decision, reason)
    if organization.status == decision and organization.reviewed_at:
        return organization  # a repeated click: already decided so
    _transition(organization, decision)
    reviews.require_reason(decision, reason)
    if decision == Organization.Status.APPROVED:
        problems = submission_problems(organization)
        if problems:
            raise DomainError(_("This organization cannot be approved."), details=problems)
    reviews.review_record(organization, decision=decision, reason=reason, actor=actor)
    return organization


@transaction.atomic
def organization_delete(*, organization_id: int, actor, reason: str = "") -> Organization:
    """Delete an organization for good. Its row stays, so its business number stays taken;
    its links end."""
    organization = Organization.objects.select_for_update().get(pk=organization_id)
    if organization.is_deleted:
        return organization
    permissions.require(actor, Action.DELETE, organization)
    _transition(organization, Organization.Status.DELETED)
    now = timezone.now()
    for link in AccountLink.objects.select_for_update().filter(
        organization=organization, status__in=AccountLink.ACTIVE
    ):
        link.status = (
            AccountLink.Status.UNLINKED
            if link.status == AccountLink.Status.APPROVED
            else AccountLink.Status.CANCELLED
        )
        link.ended_at = now
        _record(link, actor=actor, reason=_("Organization deleted"))
        link.save(update_fields=["status", "ended_at", "updated_at"])
        if link.status == AccountLink.Status.UNLINKED:
            signals.link_ended.send(sender=AccountLink, link_id=link.pk)
    organization.status = Organization.Status.DELETED
    organization.deleted_at = now
    _record(
        organization,
        actor=actor,
        reason=_("Deleted: %(reason)s") % {"reason": reason} if reason else _("Deleted"),
    )
    organization.save(update_fields=["status", "deleted_at", "updated_at"])
    return organization


# --- Contact e-mail verification --------------------------------------------------------------


def contact_verification_token(organization: Organization) -> str:
    return signing.dumps(
        {"org": organization.pk, "email": pii.email_keyed_hash(organization.contact.email)},
        salt=VERIFICATION_SALT,
    )


def organization_send_contact_verification(*, organization_id: int, actor) -> None:
    """Queue the verification e-mail to the contact person: an outbox row in this transaction,
    published after commit (docs/reliability.md#the-outbox)."""
    from . import outbox
    from .tasks import send_contact_verification

    organization = Organization.objects.select_related("contact").get(pk=organization_id)
    permissions.require(actor, Action.CHANGE, organization)
    if organization.contact is None:
        raise DomainError(_("Choose a contact person first."))
    _check_contact(organization, organization.contact)
    outbox.enqueue(
        send_contact_verification,
        {"organization_id": organization.pk},
        reason="contact e-mail verification",
    )


def contact_verification_email_send(*, organization_id: int) -> bool:
    """Send the verification link to the contact's address. False if there is no contact."""
    organization = Organization.objects.select_related("contact").get(pk=organization_id)
    if organization.contact is None or not organization.contact.email:
        return False
    link = settings.SITE_URL + reverse(
        "lbm:verify-contact", args=[contact_verification_token(organization)]
    )
    days = settings.CONTACT_VERIFICATION_MAX_AGE.days
    send_mail(
        subject=_("Verify the contact e-mail address of %(name)s") % {"name": organization.name},
        message=_(
            "Please confirm that this address is the contact e-mail of %(name)s in LINE "
            "Business Manager by opening this link within %(days)s days:\n\n%(link)s\n"
        )
        % {"name": organization.name, "link": link, "days": days},
        from_email=None,
        recipient_list=[organization.contact.email],
    )
    return True


@transaction.atomic
def organization_verify_contact(*, token: str) -> Organization:
    """Mark the contact e-mail verified from a signed link; expired, altered or stale links are
    refused with a reason and change nothing."""
    max_age = settings.CONTACT_VERIFICATION_MAX_AGE
    try:
        payload = signing.loads(token, salt=VERIFICATION_SALT, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise InvalidVerificationLink(
            _("This verification link has expired. Ask for a new one from the organization page.")
        ) from exc
    except signing.BadSignature as exc:
        raise InvalidVerificationLink(
            _(
                "This verification link is not valid; it may have been "
                "altered or copied incompletely."
            )
        ) from exc
    organization = (
        Organization.objects.select_for_update(of=("self",))
        .select_related("contact")
        .filter(pk=payload.get("org"))
        .first()
    )
    if organization is None or organization.is_deleted:
        raise InvalidVerificationLink(_("This organization no longer exists."))
    contact = organization.contact
    if (
        contact is None
        or not contact.email
        or (pii.email_keyed_hash(contact.email) != payload.get("email"))
    ):
        raise InvalidVerificationLink(
            _(
                "The contact person or address has changed since this "
                "link was sent; use the newest link."
            )
        )
    if organization.contact_email_verified_hash == payload["email"]:
        return organization
    organization.contact_email_verified_hash = payload["email"]
    organization.contact_email_verified_at = timezone.now()
    _record(
        organization,
        actor=contact,
        reason=_("Contact e-mail verified (%(email)s)") % {"email": pii.mask_email(contact.email)},
    )
    organization.save(
        update_fields=["contact_email_verified_hash", "contact_email_verified_at", "updated_at"]
    )
    return organization


# --- Members ----------------------------------------------------------------------------------


def _admin_count(organization_id: int) -> int:
    return Membership.objects.filter(
        organization_id=organization_id, role=Membership.Role.ADMIN
    ).count()


def _membership_create(
    organization: Organization, *, user, role: str, is_company_member: bool, actor, reason: str
) -> Membership:
    if role not in Membership.Role.values:
        raise DomainError(_("Unknown role."), field="role")
    if user.is_staff:
        raise DomainError(
            _("LINE staff accounts cannot be members of a customer organization."), field="user"
        )
    if Membership.objects.filter(organization=organization, user=user).exists():
        raise DomainError(
            _("%(user)s is already a member of this organization.") % {"user": user.get_username()},
            field="user",
        )
    membership = Membership(
        organization=organization, user=user, role=role, is_company_member=is_company_member
    )
    _record(membership, actor=actor, reason=reason)
    membership.save()
    permissions.grant_role(membership)
    return membership


@transaction.atomic
def membership_add(
    *, organization_id: int, actor, user, role: str, is_company_member: bool = True
) -> Membership:
    """Make ``user`` a member at once. Not offered to customers (they invite, and the person
    accepts: ``membership_invite``); kept for LINE's tools, the demo data and tests."""
    organization = Organization.objects.select_for_update().get(pk=organization_id)
    permissions.require(actor, Action.MANAGE_MEMBERS, organization)
    membership = Membership(role=role)
    return _membership_create(
        organization,
        user=user,
        role=role,
        is_company_member=is_company_member,
        actor=actor,
        reason=_("Added as %(role)s") % {"role": membership.get_role_display()},
    )


# --- Invitations (docs/organizations.md#invitations) ------------------------------------------


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


@transaction.atomic
def membership_change(
    *, membership_id: int, actor, role: str, is_company_member: bool | None = None
) -> Membership:
    """Change a member's role (re-assigning their permissions); the last Admin and the contact
    person cannot be demoted."""
    membership = Membership.objects.select_related("user").get(pk=membership_id)
    organization = Organization.objects.select_for_update().get(pk=membership.organization_id)
    membership = (
        Membership.objects.select_for_update(of=("self",))
        .select_related("user")
        .get(pk=membership_id)
    )
    permissions.require(actor, Action.MANAGE_MEMBERS, organization)
    if role not in Membership.Role.values:
        raise DomainError(_("Unknown role."))
    company = membership.is_company_member if is_company_member is None else is_company_member
    if membership.role == role and membership.is_company_member == company:
        return membership
    if membership.role == Membership.Role.ADMIN and role != Membership.Role.ADMIN:
        _refuse_losing_admin(organization, membership, demote=True)
    if not company and organization.contact_id == membership.user_id:
        raise DomainError(
            _("The contact person must be a company member; choose another contact person first."),
            field="is_company_member",
        )
    old = membership.get_role_display()
    membership.role = role
    membership.is_company_member = company
    _record(
        membership,
        actor=actor,
        reason=_("Role %(old)s → %(new)s") % {"old": old, "new": membership.get_role_display()},
    )
    membership.save(update_fields=["role", "is_company_member"])
    permissions.grant_role(membership)
    return membership


def _refuse_losing_admin(organization, membership, *, demote: bool) -> None:
    if _admin_count(organization.pk) <= 1:
        raise LastAdmin(
            _("The last Admin cannot be demoted; make another member an Admin first.")
            if demote
            else _("The last Admin cannot be removed; make another member an Admin first."),
            field="role" if demote else None,
        )
    if organization.contact_id == membership.user_id:
        raise DomainError(
            _(
                "This Admin is the organization's contact person; choose another "
                "contact person first."
            ),
            field="role" if demote else None,
        )


@transaction.atomic
def membership_remove(*, membership_id: int, actor) -> None:
    membership = Membership.objects.select_related("user").get(pk=membership_id)
    organization = Organization.objects.select_for_update().get(pk=membership.organization_id)
    permissions.require(actor, Action.MANAGE_MEMBERS, organization)
    if membership.role == Membership.Role.ADMIN:
        _refuse_losing_admin(organization, membership, demote=False)
    permissions.revoke_role(membership)
    _record(membership, actor=actor, reason=_("Removed"))
    membership.delete()


# --- Account links ----------------------------------------------------------------------------


def find_account(identifier: str) -> Account:
    """The account with this basic ID, premium ID or ad account ID."""
    value = (identifier or "").strip()
    if value.startswith("@"):
        value = value.lower()
    account = (
        Account.objects.select_related("provider")
        .filter(Q(basic_id=value) | Q(premium_id=value) | Q(external_id=value))
        .first()
    )
    if account is None:
        raise DomainError(_("No account has the ID “%(id)s”.") % {"id": identifier})
    return account


def _raise_if_ineligible(results: list[RuleResult], *, ignore: set[str] = frozenset()) -> None:
    failed = [r.explanation for r in results if not r.passed and r.rule not in ignore]
    if failed:
        raise IneligibleLink(_("This account cannot be linked."), details=failed)


def link_request(*, organization_id: int, actor, account_identifier: str) -> AccountLink:
    """Ask LINE to link one account (no batches). Of two simultaneous requests for the same
    account exactly one succeeds: the database's partial unique index decides."""
    try:
        with transaction.atomic():
            organization = Organization.objects.get(pk=organization_id)
            permissions.require(actor, Action.MANAGE_LINKS, organization)
            if organization.is_agency:
                raise IneligibleLink(
                    _(
                        "An agency's organization cannot own linked accounts: "
                        "the client links them to its own organization."
                    ),
                    field="account_identifier",
                )
            account = find_account(account_identifier)
            _raise_if_ineligible(link_eligibility(organization, account))
            now = timezone.now()
            link = AccountLink(
                organization=organization,
                account=account,
                requested_by=actor,
                review_due_on=review_due_date(now),
            )
            _record(link, actor=actor, reason=_("Link requested"))
            link.save()
            return link
    except IntegrityError as exc:
        raise AccountAlreadyLinked(
            _(
                "The account is already linked (or waiting to be linked) to an organization; an "
                "account can belong to only one."
            )
        ) from exc


@transaction.atomic
def link_review(*, link_id: int, decision: str, actor, reason: str = "") -> AccountLink:
    """A LINE reviewer approves or rejects a pending link; the rules are checked again."""
    permissions.require(actor, Action.REVIEW_LINKS)
    link = (
        AccountLink.objects.select_for_update(of=("self",))
        .select_related("organization", "account__provider")
        .get(pk=link_id)
    )
    reason = reviews.review_reason(decision, reason)
    if link.status == decision:
        return link
    _transition(link, decision)
    reviews.require_reason(decision, reason)
    if decision == AccountLink.Status.APPROVED:
        if link.organization.status != Organization.Status.APPROVED:
            raise DomainError(_("Approve the organization before its account links."))
        _raise_if_ineligible(
            link_eligibility(link.organization, link.account, include_existing_links=False)
        )
    reviews.review_record(link, decision=decision, reason=reason, actor=actor)
    if decision == AccountLink.Status.APPROVED:
        signals.link_approved.send(sender=AccountLink, link_id=link.pk)
    return link


@transaction.atomic
def link_end(*, link_id: int, actor, reason: str = "") -> AccountLink:
    """Unlink an approved link, or cancel a pending request (organization Admins)."""
    link = (
        AccountLink.objects.select_for_update(of=("self",))
        .select_related("organization")
        .get(pk=link_id)
    )
    permissions.require(actor, Action.MANAGE_LINKS, link.organization)
    if link.status in (AccountLink.Status.UNLINKED, AccountLink.Status.CANCELLED):
        return link
    target = (
        AccountLink.Status.UNLINKED
        if link.status == AccountLink.Status.APPROVED
        else AccountLink.Status.CANCELLED
    )
    _transition(link, target)
    link.status = target
    link.ended_at = timezone.now()
    verb = _("Unlinked") if target == AccountLink.Status.UNLINKED else _("Request cancelled")
    _record(link, actor=actor, reason=f"{verb}: {reason}" if reason else verb)
    link.save(update_fields=["status", "ended_at", "updated_at"])
    if target == AccountLink.Status.UNLINKED:
        signals.link_ended.send(sender=AccountLink, link_id=link.pk)
    return link
