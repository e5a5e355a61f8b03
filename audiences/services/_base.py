"""Helpers shared by the audience workflows: the owner of a new audience and the actor's rights,
the type allowed for its source, creating the row, who may add IDs, what follows a creation,
and the size and reachable counts kept up to date after members change."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm import permissions
from lbm.audit import record_change
from lbm.models import Account, AccountLink, Organization
from lbm.permissions import Action

from .. import selectors
from ..exceptions import AudienceError
from ..models import (
    AUDIENCE_LIFETIME,
    TYPES_BY_SOURCE,
    Audience,
    AudienceShare,
    AudienceSizeSnapshot,
)
from ..signals import resource_created

_record = record_change  # lbm.audit: who and why for the history row


def _owner(
    *,
    actor,
    organization_id: int | None,
    account_id: int | None,
    action: Action = Action.CREATE_AUDIENCES,
) -> tuple[Organization | None, Account | None]:
    """The organization and/or source account of a new audience, with the actor's rights checked."""
    account = Account.objects.get(pk=account_id) if account_id else None
    organization = None
    if organization_id:
        organization = Organization.objects.get(pk=organization_id)
    elif account is not None:
        link = AccountLink.objects.filter(
            account=account, status=AccountLink.Status.APPROVED
        ).first()
        organization = link.organization if link else None
    if actor is not None or account is None:
        if organization is None:
            raise AudienceError(_("Choose the organization the audience belongs to."))
        permissions.require(actor, action, organization)
        if account is not None:  # an agency limited to other accounts may not (lbm.agency)
            permissions.require(actor, action, account)
    if organization is not None and organization.is_agency:
        raise AudienceError(
            _(
                "An agency's organization cannot own audiences: create them in "
                "the client's organization."
            ),
            field="organization",
        )
    if organization is not None and organization.status != Organization.Status.APPROVED:
        raise AudienceError(_("Audiences can be created only in an approved organization."))
    if (
        account is not None
        and organization is not None
        and not AccountLink.objects.filter(
            account=account, organization=organization, status=AccountLink.Status.APPROVED
        ).exists()
    ):
        raise AudienceError(_("The account is not linked to this organization."))
    return organization, account


def _check_type(audience_type: str, account: Account | None) -> None:
    allowed = TYPES_BY_SOURCE[account.kind if account else None]
    if audience_type not in allowed:
        source = account.get_kind_display() if account else _("the organization")
        raise AudienceError(
            _("%(type)s audiences cannot be created for %(source)s.")
            % {"type": Audience.Type(audience_type).label, "source": source}
        )


def _new_audience(
    *,
    organization,
    account,
    name,
    audience_type,
    id_type,
    actor,
    description="",
    route=Audience.Route.BUSINESS_MANAGER,
    **extra,
) -> Audience:
    now = timezone.now()
    audience = Audience(
        organization=organization,
        source_account=account,
        name=name,
        description=description,
        type=audience_type,
        id_type=id_type,
        create_route=route,
        status=Audience.Status.IN_PROGRESS,
        created_by=actor,
        created_at=now,
        expires_at=now + AUDIENCE_LIFETIME,
        **extra,
    )
    _record(audience, actor=actor, reason=_("Created"))
    try:
        with transaction.atomic():
            audience.save()
    except IntegrityError as exc:  # a concurrent creation took the name
        raise AudienceError(
            _(
                "An audience named “%(name)s” already exists (names are compared "
                "without regard to case)."
            )
            % {"name": name}
        ) from exc
    return audience


def _addable(audience: Audience, actor) -> None:
    if actor is not None or audience.source_account_id is None:
        permissions.require(actor, Action.CREATE_AUDIENCES, audience)
    if not audience.is_upload:
        raise AudienceError(_("IDs can be added only to an upload audience."))
    if actor is not None and audience.source_account_id is not None:
        raise AudienceError(
            _("An account's own audience is changed in that account, not in the organization.")
        )
    if audience.status != Audience.Status.READY:
        raise AudienceError(
            _("IDs can be added only to a ready audience (this one is %(status)s).")
            % {"status": audience.get_status_display()}
        )


def _after_created(audience: Audience) -> None:
    """A new organization audience: ``resource_created`` shares it to every linked account set
    to share all (a setting decided by an Admin or Operator, so it applies whoever created the
    audience)."""
    if audience.organization_id is None or audience.source_account_id is not None:
        return
    resource_created.send(sender=Audience, instance=audience)


def size_snapshot(audience: Audience) -> bool:
    """Record the audience's size when it differs from the last one recorded (an audience in
    progress has no size yet). Returns whether a row was written."""
    if audience.pk is None or audience.status == Audience.Status.IN_PROGRESS:
        return False
    last = (
        AudienceSizeSnapshot.objects.filter(audience_id=audience.pk)
        .order_by("-recorded_at", "-pk")
        .values_list("size", flat=True)
        .first()
    )
    if last == audience.size:
        return False
    AudienceSizeSnapshot.objects.create(audience_id=audience.pk, size=audience.size)
    return True


def _refresh_reachable(audience_id: int) -> None:
    audience = Audience.objects.get(pk=audience_id)
    for share in AudienceShare.objects.filter(audience=audience):
        count = selectors.reachable_count(audience=audience, account_id=share.account_id)
        AudienceShare.objects.filter(pk=share.pk).update(
            reachable_size=count, reachable_computed_at=timezone.now()
        )
