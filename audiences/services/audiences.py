"""Upload audiences from a list of IDs (create, add to), the members' export, renaming and
deleting. The background upload of a file (``uploads``) ends in ``audience_create_from_ids`` or
``audience_add_ids``."""

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from lbm import permissions
from lbm.permissions import Action

from .. import importers, selectors
from ..exceptions import AudienceError
from ..models import (
    UPLOAD_TYPE_FOR_ID,
    Audience,
    AudienceComponent,
    AudienceMember,
    AudienceShare,
    AudienceUpload,
)
from ._base import (
    _addable,
    _after_created,
    _check_type,
    _new_audience,
    _owner,
    _record,
    _refresh_reachable,
)


def audience_create_from_ids(
    *,
    actor,
    name: str,
    id_type: str,
    ids,
    organization_id: int | None = None,
    account_id: int | None = None,
    description: str = "",
    route: str = Audience.Route.BUSINESS_MANAGER,
    progress=None,
    total_bytes: int = 0,
) -> Audience:
    """Create an upload audience from ``ids`` (all or nothing): the audience and its members are
    written in one transaction, and the whole input is validated before the members reach the
    member table (``importers.load_ids``). Raises ``UploadRejected`` (bad input) or
    ``AudienceError``/``NotAllowed``."""
    organization, account = _owner(
        actor=actor, organization_id=organization_id, account_id=account_id
    )
    audience_type = UPLOAD_TYPE_FOR_ID[id_type]
    _check_type(audience_type, account)
    name = selectors.audience_check_name(
        name=name, organization_id=organization and organization.pk, account_id=account_id
    )
    with transaction.atomic():
        audience = _new_audience(
            organization=organization,
            account=account,
            name=name,
            audience_type=audience_type,
            id_type=id_type,
            actor=actor,
            description=description,
            route=route,
        )
        loaded = importers.load_ids(
            ids,
            id_type=id_type,
            audience_id=audience.pk,
            new_audience=True,
            total_bytes=total_bytes,
            progress=progress,
        )
        audience.size = loaded.added
        audience.status = Audience.Status.READY
        audience.version += 1
        _record(audience, actor=actor, reason=_("Uploaded %(count)d IDs") % {"count": loaded.count})
        audience.save(update_fields=["size", "status", "version", "updated_at"])
        _after_created(audience)
    return audience


def audience_add_ids(*, actor, audience_id: int, ids, progress=None, total_bytes: int = 0) -> int:
    """Add ``ids`` to an upload audience (all or nothing); IDs it already has are skipped (and
    get their sealed copy if they had none). Return how many were added."""
    audience = Audience.objects.select_related("organization").get(pk=audience_id)
    _addable(audience, actor)
    with transaction.atomic():
        audience = Audience.objects.select_for_update().get(pk=audience_id)
        _addable(audience, actor)
        added = importers.load_ids(
            ids,
            id_type=audience.id_type,
            audience_id=audience.pk,
            new_audience=False,
            total_bytes=total_bytes,
            progress=progress,
        ).added
        audience.size += added  # the row is locked: plain arithmetic is safe
        audience.version += 1
        _record(audience, actor=actor, reason=_("Added %(count)d IDs") % {"count": added})
        audience.save(update_fields=["size", "version", "updated_at"])
    _refresh_reachable(audience_id)
    return added


@dataclass
class Export:
    """An export being streamed: ``lines`` yields the file; ``left_out`` members could not be
    given as LINE-style hashes (stored before sealed copies existed)."""

    audience: Audience
    lines: object
    left_out: int = 0


def audience_export(*, actor, audience_id: int) -> Export:
    """Check that ``actor`` may export (Admins only), record the export in the audience's
    history, and return the member lines as LINE exchanges them: lower-case hex SHA-256 for
    phone numbers and e-mail addresses, user IDs and IFAs as stored. Raises ``AudienceError``
    when the sealed copies do not open (PII_HASH_KEY changed)."""
    audience = Audience.objects.get(pk=audience_id)
    permissions.require(actor, Action.EXPORT_AUDIENCES, audience)
    if not selectors.sealed_copies_open(audience):
        raise AudienceError(
            _(
                "The members' hashes cannot be opened with the current key "
                "(was PII_HASH_KEY changed?); nothing was exported."
            )
        )
    left_out = selectors.members_without_sealed_copy(audience)
    reason = (
        _(
            "Members exported as LINE-style hashes (%(size)d; %(left_out)d stored "
            "before sealed copies existed left out)"
        )
        if left_out
        else _("Members exported as LINE-style hashes (%(size)d)")
    )
    _record(
        audience,
        actor=actor,
        reason=reason % {"size": audience.size - left_out, "left_out": left_out},
    )
    audience.save(update_fields=["updated_at"])
    return Export(audience=audience, lines=selectors.export_lines(audience), left_out=left_out)


# --- Renaming and deleting ----------------------------------------------------------------------


def _editable(audience: Audience, actor) -> None:
    """Who may create an audience may rename or delete it: Admin, Operator, Operator (data).
    An account's own audience lives in that account (LINE), not in the organization: it is
    changed through the account's channel (``actor=None``: the caller is a channel whose token
    the API has checked, and which owns the audience)."""
    if actor is None:
        if audience.source_account_id is None:
            raise AudienceError(_("An organization's audience is changed in Business Manager."))
        return
    permissions.require(actor, Action.CREATE_AUDIENCES, audience)
    if audience.source_account_id is not None:
        raise AudienceError(
            _("An account's own audience is changed in that account, not in the organization.")
        )


@transaction.atomic
def audience_rename(*, actor, audience_id: int, name: str, reason: str = "") -> Audience:
    """Rename an organization's audience (same rules as a new name). Recorded in its history;
    renaming to the current name changes nothing."""
    audience = Audience.objects.select_for_update().get(pk=audience_id)
    _editable(audience, actor)
    name = selectors.audience_check_name(
        name=name,
        organization_id=audience.organization_id,
        account_id=audience.source_account_id,
        exclude_pk=audience.pk,
    )
    if name == audience.name:
        return audience
    old = audience.name
    audience.name = name
    _record(audience, actor=actor, reason=reason or _("Renamed from “%(old)s”") % {"old": old})
    try:
        with transaction.atomic():
            audience.save(update_fields=["name", "updated_at"])
    except IntegrityError as exc:  # a concurrent creation took the name
        raise AudienceError(
            _(
                "An audience named “%(name)s” already exists (names are compared "
                "without regard to case)."
            )
            % {"name": name}
        ) from exc
    return audience


@transaction.atomic
def audience_delete(*, actor, audience_id: int, reason: str = "") -> None:
    """Delete an organization's audience with its members and shares. Each share's end and the
    deletion are recorded in the history with who and why. Refused while a combined audience is
    built from it (delete that first)."""
    audience = Audience.objects.select_for_update().get(pk=audience_id)
    _editable(audience, actor)
    used_by = list(
        Audience.objects.filter(
            pk__in=AudienceComponent.objects.filter(component=audience).values("combined_id")
        ).values_list("name", flat=True)
    )
    if used_by:
        raise AudienceError(
            _("“%(name)s” is part of the combined audience(s) %(used)s; delete those first.")
            % {"name": audience.name, "used": ", ".join(used_by)}
        )
    lookalikes = list(audience.lookalikes.values_list("name", flat=True))
    if lookalikes:
        raise AudienceError(
            _("“%(name)s” is the source of the lookalike audience(s) %(used)s; delete those first.")
            % {"name": audience.name, "used": ", ".join(lookalikes)}
        )
    why = reason or _("Deleted")
    for share in AudienceShare.objects.filter(audience=audience):
        _record(share, actor=actor, reason=_("Audience deleted"))
        share.delete()
    uploads = AudienceUpload.objects.filter(audience=audience)
    if uploads.exclude(status__in=AudienceUpload.FINISHED).exists():
        raise AudienceError(
            _(
                "“%(name)s” has an upload in progress; wait until it finishes, "
                "then delete the audience."
            )
            % {"name": audience.name}
        )
    # The uploads stay as history, naming the audience they went to (an addition has no name
    # of its own, and the row must name one or the other).
    uploads.filter(name="").update(name=audience.name[:120])
    uploads.update(audience=None)
    AudienceMember.objects.filter(audience_id=audience.pk).delete()  # one DELETE, no FK
    _record(audience, actor=actor, reason=why)
    audience.delete()
