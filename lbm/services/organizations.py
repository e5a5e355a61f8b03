"""Organizations: create, edit, submit for review, review and delete (docs/organizations.md)."""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import permissions, reviews, signals
from ..exceptions import DomainError, IncompleteBusinessInfo
from ..models import AccountLink, Membership, Organization
from ..permissions import Action
from ..selectors import BUSINESS_INFO_FIELDS, submission_problems
from ..selectors import check_contact as _check_contact
from ..workdays import review_due_date
from ._base import _record, _transition
from .contact import organization_send_contact_verification


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
