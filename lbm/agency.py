"""Agency access (docs/organizations.md#agencies): a client organization's Admin grants an agency's
organization a role no higher than Operator for a fixed period, optionally on chosen linked
accounts; the agency's Admin accepts and assigns the members who work on that client. Either
side ends it at once; the beat task records expiries. Rights are read from these rows at check
time (``lbm.permissions.explain``), so an end or an expiry takes every right away at once, and
what the agency made stays the client's.

Every change goes through here, recorded with who and why (django-simple-history).
"""

from datetime import timedelta

from django.core.exceptions import FieldDoesNotExist
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from . import permissions
from .audit import record_change
from .exceptions import DomainError, NotAllowed
from .models import (
    Account,
    AccountLink,
    AgencyAccess,
    AgencyAssignment,
    Membership,
    Organization,
)
from .permissions import Action

MAX_PERIOD = timedelta(days=366)  # "at most one year": a leap year's 366 days


class AgencyError(DomainError):
    """Agency access cannot be granted or changed as asked."""


def _is_admin(user, organization) -> bool:
    return permissions.can(user, Action.MANAGE_MEMBERS, organization)


def _require_admin(user, organization) -> None:
    if not _is_admin(user, organization):
        raise NotAllowed(
            _("Only an Admin of %(organization)s may do this.")
            % {"organization": organization.name}
        )


def _check_period(starts_at, ends_at) -> None:
    if ends_at <= starts_at:
        raise AgencyError(_("The access must end after it starts."), field="ends_at")
    if ends_at - starts_at > MAX_PERIOD:
        raise AgencyError(
            _("Agency access lasts at most one year; renew it to go on."), field="ends_at"
        )


def _client_accounts(client: Organization, account_ids) -> list[Account]:
    ids = {int(pk) for pk in account_ids or ()}
    if not ids:
        return []
    accounts = list(
        Account.objects.filter(
            pk__in=ids, links__organization=client, links__status=AccountLink.Status.APPROVED
        ).distinct()
    )
    if len(accounts) != len(ids):
        raise AgencyError(
            _("Only accounts linked to the client organization can be chosen."), field="accounts"
        )
    return accounts


@transaction.atomic
def access_grant(
    *,
    client_id: int,
    agency_id: int,
    actor,
    role: str,
    ends_at,
    starts_at=None,
    account_ids=(),
    reason: str = "",
) -> AgencyAccess:
    """The client's Admin offers access; it is pending until the agency's Admin accepts."""
    client = Organization.objects.select_for_update().get(pk=client_id)
    _require_admin(actor, client)
    agency = Organization.objects.get(pk=agency_id)
    if client.is_agency:
        raise AgencyError(_("An agency's organization cannot grant agency access."), field="client")
    if not agency.is_agency:
        raise AgencyError(
            _("Access can be granted only to an agency's organization."), field="agency"
        )
    if agency.is_deleted:
        raise AgencyError(_("This agency's organization is deleted."), field="agency")
    if role not in AgencyAccess.Role.values:
        raise AgencyError(
            _(
                "An agency's role is at most Operator: never Admin, never member "
                "management, never linking."
            ),
            field="role",
        )
    starts_at = starts_at or timezone.now()
    _check_period(starts_at, ends_at)
    if AgencyAccess.objects.filter(
        client=client, agency=agency, status__in=AgencyAccess.OPEN
    ).exists():
        raise AgencyError(
            _(
                "This agency already has access (or an offer) to this organization: "
                "end it or renew it."
            ),
            field="agency",
        )
    accounts = _client_accounts(client, account_ids)
    access = AgencyAccess(
        client=client,
        agency=agency,
        role=role,
        starts_at=starts_at,
        ends_at=ends_at,
        granted_by=actor,
        reason=reason,
    )
    record_change(access, actor=actor, reason=reason or _("Agency access granted"))
    access.save()
    access.accounts.set(accounts)
    return access


def _forget(access: AgencyAccess) -> None:
    for assignment in access.assignments.select_related("membership__user"):
        permissions.forget_rights(assignment.membership.user)


@transaction.atomic
def access_accept(*, access_id: int, actor, membership_ids=(), reason: str = "") -> AgencyAccess:
    """The agency's Admin accepts and assigns the members who work on that client."""
    access = AgencyAccess.objects.select_for_update().select_related("agency").get(pk=access_id)
    _require_admin(actor, access.agency)
    if access.status != AgencyAccess.Status.PENDING:
        raise AgencyError(
            _("Only an offer waiting for the agency can be accepted."), field="status"
        )
    if access.ends_at <= timezone.now():
        raise AgencyError(_("This offer's period is already over."), field="ends_at")
    access.status = AgencyAccess.Status.ACTIVE
    access.accepted_by, access.accepted_at = actor, timezone.now()
    record_change(access, actor=actor, reason=reason or _("Accepted by the agency"))
    access.save()
    for membership_id in membership_ids:
        _assign(access, membership_id, actor)
    return access


def _assign(access: AgencyAccess, membership_id: int, actor) -> AgencyAssignment:
    membership = (
        Membership.objects.select_related("user")
        .filter(pk=membership_id, organization_id=access.agency_id)
        .first()
    )
    if membership is None:
        raise AgencyError(
            _("Only members of the agency's organization can be assigned."), field="membership"
        )
    assignment = AgencyAssignment.objects.filter(access=access, membership=membership).first()
    if assignment is None:
        assignment = AgencyAssignment(access=access, membership=membership, assigned_by=actor)
        record_change(assignment, actor=actor, reason=_("Assigned to the client"))
        assignment.save()
    permissions.forget_rights(membership.user)
    return assignment


@transaction.atomic
def member_assign(*, access_id: int, membership_id: int, actor) -> AgencyAssignment:
    access = AgencyAccess.objects.select_related("agency").get(pk=access_id)
    _require_admin(actor, access.agency)
    if access.status not in AgencyAccess.OPEN:
        raise AgencyError(_("This access has ended."), field="status")
    return _assign(access, membership_id, actor)


@transaction.atomic
def member_unassign(*, assignment_id: int, actor) -> None:
    assignment = AgencyAssignment.objects.select_related("access__agency", "membership__user").get(
        pk=assignment_id
    )
    _require_admin(actor, assignment.access.agency)
    _unassign(assignment, actor)


def _unassign(assignment: AgencyAssignment, actor) -> None:
    record_change(assignment, actor=actor, reason=_("No longer works on the client"))
    assignment.delete()
    permissions.forget_rights(assignment.membership.user)


@transaction.atomic
def members_change(*, access_id: int, actor, assign_ids=(), unassign_ids=()) -> AgencyAccess:
    """The agency's Admin assigns and unassigns members in one go: all of it or, on any
    refusal, none of it."""
    access = AgencyAccess.objects.select_for_update().select_related("agency").get(pk=access_id)
    _require_admin(actor, access.agency)
    if access.status not in AgencyAccess.OPEN:
        raise AgencyError(_("This access has ended."), field="status")
    for membership_id in assign_ids:
        _assign(access, membership_id, actor)
    for assignment in AgencyAssignment.objects.filter(
        access=access, pk__in=list(unassign_ids)
    ).select_related("membership__user"):
        _unassign(assignment, actor)
    return access


@transaction.atomic
def access_renew(*, access_id: int, actor, ends_at, reason: str = "") -> AgencyAccess:
    """The client's Admin moves the end; from now at most one year ahead."""
    access = AgencyAccess.objects.select_for_update().select_related("client").get(pk=access_id)
    _require_admin(actor, access.client)
    if access.status not in AgencyAccess.OPEN:
        raise AgencyError(_("Ended access cannot be renewed: grant it again."), field="status")
    _check_period(max(access.starts_at, timezone.now()), ends_at)
    access.ends_at = ends_at
    record_change(access, actor=actor, reason=reason or _("Renewed"))
    access.save()
    _forget(access)
    return access


@transaction.atomic
def access_end(*, access_id: int, actor, reason: str = "") -> AgencyAccess:
    """Either side's Admin ends the access at once; nothing the agency made is lost."""
    access = (
        AgencyAccess.objects.select_for_update()
        .select_related("client", "agency")
        .get(pk=access_id)
    )
    if not (_is_admin(actor, access.client) or _is_admin(actor, access.agency)):
        raise NotAllowed(_("Only an Admin of the client or of the agency may end this access."))
    if access.status not in AgencyAccess.OPEN:
        raise AgencyError(_("This access has already ended."), field="status")
    access.status = AgencyAccess.Status.ENDED
    access.ended_by, access.ended_at = actor, timezone.now()
    access.reason = reason
    record_change(access, actor=actor, reason=reason or _("Ended"))
    access.save()
    _forget(access)
    return access


def expire_due(*, now=None) -> int:
    """Beat: mark open access past its end as expired (its rights stopped at the end already,
    ``lbm.permissions.active_agency_access``). Returns how many expired."""
    now = now or timezone.now()
    count = 0
    for pk in AgencyAccess.objects.filter(
        status__in=AgencyAccess.OPEN, ends_at__lte=now
    ).values_list("pk", flat=True):
        with transaction.atomic():
            access = AgencyAccess.objects.select_for_update().get(pk=pk)
            if access.status not in AgencyAccess.OPEN or access.ends_at > now:
                continue
            access.status = AgencyAccess.Status.EXPIRED
            access.ended_at = now
            record_change(access, actor=None, reason=_("Expired"))
            access.save()
            count += 1
    return count


def agency_of(user, organization_id: int, when=None) -> "Organization | None":
    """The agency through which ``user`` worked on ``organization_id`` at ``when`` (for the
    audit trail's "by <member> of <agency>"), or None when they did not work there as one."""
    if user is None or organization_id is None:
        return None
    found = AgencyAccess.objects.filter(
        client_id=organization_id,
        assignments__membership__user=user,
    ).exclude(status=AgencyAccess.Status.PENDING)
    if when is not None:
        found = found.filter(starts_at__lte=when, ends_at__gt=when)
    access = found.select_related("agency").order_by("-starts_at").first()
    return access.agency if access else None


def access_actions(access: AgencyAccess, limit: int = 100) -> list:
    """What the access' members did on the client's objects (their history rows on models that
    belong to an organization), newest first: the client's Admin reads it on the access' page."""
    from django.apps import apps

    users = [a.membership.user_id for a in access.assignments.select_related("membership")]
    if not users:
        return []
    until = access.ended_at or access.ends_at
    rows = []
    for model in apps.get_models():
        manager = getattr(model, "history", None)
        if manager is None or not hasattr(manager, "model"):
            continue
        try:
            field = model._meta.get_field("organization")
        except FieldDoesNotExist:
            continue
        if not getattr(field, "is_relation", False) or field.related_model is not Organization:
            continue
        found = (
            manager.model.objects.filter(
                organization_id=access.client_id,
                history_user_id__in=users,
                history_date__gte=access.starts_at,
                history_date__lte=until,
            )
            .select_related("history_user")
            .order_by("-history_date")[:limit]
        )
        rows.extend((model, row) for row in found)
    rows.sort(key=lambda pair: pair[1].history_date, reverse=True)
    return rows[:limit]
