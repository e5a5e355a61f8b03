"""Members of an organization: add, change the role of and remove them; the last Admin and the
contact person are protected. Invitations, the way customers add members, are in
``member_invitations``."""

from django.db import transaction
from django.utils.translation import gettext as _

from .. import permissions
from ..exceptions import DomainError, LastAdmin
from ..models import Membership, Organization
from ..permissions import Action
from ._base import _record


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
