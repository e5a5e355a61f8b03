"""Every write to audiences, members, shares and LINE Tags.

Two front doors call these with plain Python data: the admin (forms, actions) and, later, the
Messaging API's audience endpoints. ``ids`` arguments take a path, a binary file object or any
iterable of ID strings.

``actor`` is the signed-in user whose rights are checked through ``lbm.permissions``. The API
front door authenticates a channel by its access token instead; it passes ``actor=None`` with
``account_id`` for audiences created in that channel (``create_route=MESSAGING_API``).
"""

import logging
import uuid
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm import permissions
from lbm.audit import record_change
from lbm.models import Account, AccountLink, Organization
from lbm.permissions import Action

from . import importers, selectors
from .exceptions import AudienceError, IdTypeNotGuessed, SharingRefused, UploadRejected
from .models import (
    AUDIENCE_LIFETIME,
    LOOKALIKE_MAX_PERCENT,
    LOOKALIKE_MIN_PERCENT,
    MIN_SIZE_TO_SHARE_TO_OA,
    TYPES_BY_SOURCE,
    UPLOAD_TYPE_FOR_ID,
    Audience,
    AudienceComponent,
    AudienceMember,
    AudienceShare,
    AudienceSizeSnapshot,
    AudienceUpload,
    Friendship,
    IdType,
    LineTag,
    LineTagShare,
    LinkSharing,
    SharingMode,
    TagEvent,
    Usage,
)
from .signals import resource_created

logger = logging.getLogger(__name__)
MEMBER_TABLE = importers.MEMBER_TABLE


_record = record_change  # lbm.audit: who and why for the history row


# --- Creating audiences -----------------------------------------------------------------------


def _owner(*, actor, organization_id: int | None, account_id: int | None,
           action: Action = Action.CREATE_AUDIENCES) -> tuple[Organization | None, Account | None]:
    """The organization and/or source account of a new audience, with the actor's rights checked.
    """
    account = Account.objects.get(pk=account_id) if account_id else None
    organization = None
    if organization_id:
        organization = Organization.objects.get(pk=organization_id)
    elif account is not None:
        link = AccountLink.objects.filter(account=account,
                                          status=AccountLink.Status.APPROVED).first()
        organization = link.organization if link else None
    if actor is not None or account is None:
        if organization is None:
            raise AudienceError(_("Choose the organization the audience belongs to."))
        permissions.require(actor, action, organization)
        if account is not None:  # an agency limited to other accounts may not (lbm.agency)
            permissions.require(actor, action, account)
    if organization is not None and organization.is_agency:
        raise AudienceError(_("An agency's organization cannot own audiences: create them in "
                              "the client's organization."), field="organization")
    if organization is not None and organization.status != Organization.Status.APPROVED:
        raise AudienceError(_("Audiences can be created only in an approved organization."))
    if account is not None and organization is not None and not AccountLink.objects.filter(
            account=account, organization=organization,
            status=AccountLink.Status.APPROVED).exists():
        raise AudienceError(_("The account is not linked to this organization."))
    return organization, account


def audience_check_name(*, name: str, organization_id: int | None, account_id: int | None = None,
                        exclude_pk: int | None = None) -> str:
    """Return the trimmed name, or raise if it is empty, too long or already used by the owner
    (case-insensitively, as LINE compares audience names)."""
    name = (name or "").strip()
    if not name:
        raise AudienceError(_("An audience needs a name."))
    if len(name) > 120:
        raise AudienceError(_("An audience name has at most 120 characters."))
    owner = ({"source_account_id": account_id} if account_id else
             {"organization_id": organization_id, "source_account__isnull": True})
    taken = Audience.objects.filter(name__iexact=name, **owner)
    if exclude_pk:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise AudienceError(_("An audience named “%(name)s” already exists (names are compared "
                              "without regard to case).") % {"name": name})
    return name


def _check_type(audience_type: str, account: Account | None) -> None:
    allowed = TYPES_BY_SOURCE[account.kind if account else None]
    if audience_type not in allowed:
        source = account.get_kind_display() if account else _("the organization")
        raise AudienceError(_("%(type)s audiences cannot be created for %(source)s.")
                            % {"type": Audience.Type(audience_type).label, "source": source})


def _new_audience(*, organization, account, name, audience_type, id_type, actor,
                  description="", route=Audience.Route.BUSINESS_MANAGER, **extra) -> Audience:
    now = timezone.now()
    audience = Audience(organization=organization, source_account=account, name=name,
                        description=description, type=audience_type, id_type=id_type,
                        create_route=route, status=Audience.Status.IN_PROGRESS,
                        created_by=actor, created_at=now, expires_at=now + AUDIENCE_LIFETIME,
                        **extra)
    _record(audience, actor=actor, reason=_("Created"))
    try:
        with transaction.atomic():
            audience.save()
    except IntegrityError as exc:  # a concurrent creation took the name
        raise AudienceError(_("An audience named “%(name)s” already exists (names are compared "
                              "without regard to case).") % {"name": name}) from exc
    return audience


def audience_create_from_ids(*, actor, name: str, id_type: str, ids,
                             organization_id: int | None = None, account_id: int | None = None,
                             description: str = "",
                             route: str = Audience.Route.BUSINESS_MANAGER,
                             progress=None, total_bytes: int = 0) -> Audience:
    """Create an upload audience from ``ids`` (all or nothing): the audience and its members are
    written in one transaction, and the whole input is validated before the members reach the
    member table (``importers.load_ids``). Raises ``UploadRejected`` (bad input) or
    ``AudienceError``/``NotAllowed``."""
    organization, account = _owner(actor=actor, organization_id=organization_id,
                                   account_id=account_id)
    audience_type = UPLOAD_TYPE_FOR_ID[id_type]
    _check_type(audience_type, account)
    name = audience_check_name(name=name, organization_id=organization and organization.pk,
                               account_id=account_id)
    with transaction.atomic():
        audience = _new_audience(organization=organization, account=account, name=name,
                                 audience_type=audience_type, id_type=id_type, actor=actor,
                                 description=description, route=route)
        loaded = importers.load_ids(ids, id_type=id_type, audience_id=audience.pk,
                                    new_audience=True, total_bytes=total_bytes,
                                    progress=progress)
        audience.size = loaded.added
        audience.status = Audience.Status.READY
        audience.version += 1
        _record(audience, actor=actor, reason=_("Uploaded %(count)d IDs")
                % {"count": loaded.count})
        audience.save(update_fields=["size", "status", "version", "updated_at"])
        _after_created(audience)
    return audience


def _addable(audience: Audience, actor) -> None:
    if actor is not None or audience.source_account_id is None:
        permissions.require(actor, Action.CREATE_AUDIENCES, audience)
    if not audience.is_upload:
        raise AudienceError(_("IDs can be added only to an upload audience."))
    if actor is not None and audience.source_account_id is not None:
        raise AudienceError(_("An account's own audience is changed in that account, not in the "
                              "organization."))
    if audience.status != Audience.Status.READY:
        raise AudienceError(_("IDs can be added only to a ready audience (this one is "
                              "%(status)s).") % {"status": audience.get_status_display()})


def audience_add_ids(*, actor, audience_id: int, ids, progress=None,
                     total_bytes: int = 0) -> int:
    """Add ``ids`` to an upload audience (all or nothing); IDs it already has are skipped (and
    get their sealed copy if they had none). Return how many were added."""
    audience = Audience.objects.select_related("organization").get(pk=audience_id)
    _addable(audience, actor)
    with transaction.atomic():
        audience = Audience.objects.select_for_update().get(pk=audience_id)
        _addable(audience, actor)
        added = importers.load_ids(ids, id_type=audience.id_type, audience_id=audience.pk,
                                   new_audience=False, total_bytes=total_bytes,
                                   progress=progress).added
        audience.size += added  # the row is locked: plain arithmetic is safe
        audience.version += 1
        _record(audience, actor=actor, reason=_("Added %(count)d IDs") % {"count": added})
        audience.save(update_fields=["size", "version", "updated_at"])
    _refresh_reachable(audience_id)
    return added


# --- Background uploads -----------------------------------------------------------------------


def upload_start(*, actor, organization_id: int | None = None, id_type: str, file,
                 original_name: str = "", name: str = "", audience_id: int | None = None,
                 description: str = "", queue: bool = True) -> AudienceUpload:
    """Keep the file and queue its import: the upload row and its outbox row are written in one
    transaction, the task published after commit (docs/reliability.md#the-outbox).
    ``audience_id`` adds to an existing audience; otherwise ``name`` names a new one. Rights and
    name are checked now, the content by the task. ``upload.queued`` is the outbox row: its
    ``published`` is False when the broker was out of reach (the sweep publishes it later).
    ``queue=False`` keeps the file only (``upload_check`` queues the check instead)."""
    from lbm import outbox

    from .tasks import import_upload

    if audience_id:
        audience = Audience.objects.select_related("organization").get(pk=audience_id)
        _addable(audience, actor)
        organization = audience.organization
        id_type = audience.id_type
        name = ""
    else:
        organization, _account = _owner(actor=actor, organization_id=organization_id,
                                        account_id=None)
        _check_type(UPLOAD_TYPE_FOR_ID[id_type], None)
        name = audience_check_name(name=name, organization_id=organization.pk)
    upload = AudienceUpload(organization=organization, audience_id=audience_id or None,
                            name=name, description=description, id_type=id_type,
                            original_name=(original_name or getattr(file, "name", ""))[:255],
                            file_size=getattr(file, "size", 0) or 0, created_by=actor)
    upload.file.save(f"{uuid.uuid4().hex}.txt", file, save=False)
    try:
        with transaction.atomic():
            upload.save()
            upload.queued = None
            if queue:
                upload.queued = outbox.enqueue(import_upload, {"upload_id": upload.pk},
                                               reason="audience upload")
    except BaseException:
        upload.file.storage.delete(upload.file.name)  # nothing recorded: no file left behind
        raise
    return upload


def upload_check(*, actor, organization_id: int | None = None, id_type: str = "", file,
                 original_name: str = "", name: str = "", audience_id: int | None = None,
                 description: str = "") -> AudienceUpload:
    """Keep the file and queue its check (after commit); the import waits for
    ``upload_confirm`` (docs/audiences.md#uploading). An empty ``id_type`` is guessed from the
    file's first lines (``audiences.preview.guess_id_type``); rights and name are checked now."""
    from lbm import outbox

    from . import preview
    from .tasks import check_upload

    guessed = False
    if not audience_id and not id_type:
        id_type = preview.guess_id_type(preview.read_head(file)) or ""
        if not id_type:
            raise IdTypeNotGuessed(_("The first lines of the file do not show which kind of ID it "
                                  "holds; choose the ID type."))
        guessed = True
    with transaction.atomic():  # the row, its state and its outbox row together
        upload = upload_start(actor=actor, organization_id=organization_id, id_type=id_type,
                              file=file, original_name=original_name, name=name,
                              audience_id=audience_id, description=description, queue=False)
        AudienceUpload.objects.filter(pk=upload.pk).update(
            status=AudienceUpload.Status.CHECKING, id_type_guessed=guessed)
        upload.status, upload.id_type_guessed = AudienceUpload.Status.CHECKING, guessed
        upload.queued = outbox.enqueue(check_upload, {"upload_id": upload.pk},
                                       reason="audience upload check")
    return upload


def upload_check_process(*, upload_id: int) -> AudienceUpload:
    """Check and count a kept file without storing anything: how many IDs, how many the
    audience does not have yet. A refused file ends the upload FAILED with its lines named;
    otherwise it waits for the confirmation. Safe to run again."""
    upload = AudienceUpload.objects.get(pk=upload_id)
    if upload.status != AudienceUpload.Status.CHECKING:
        return upload
    if not upload.file or not upload.file.storage.exists(upload.file.name):
        return _upload_failed(upload, _("The uploaded file is no longer available; upload it "
                                        "again."))

    def progress(fraction: float) -> None:
        selectors.upload_progress_set(upload.pk, int(fraction * 100))

    try:
        with transaction.atomic():
            loaded = importers.load_ids(upload.file.path, id_type=upload.id_type,
                                        audience_id=upload.audience_id,
                                        new_audience=not upload.audience_id,
                                        total_bytes=upload.file_size, progress=progress,
                                        dry_run=True)
    except UploadRejected as exc:
        return _upload_failed(upload, _error_text(exc))
    except Exception:
        logger.exception("audience upload %s: the check failed", upload.pk)
        return _upload_failed_unexpectedly(upload)
    AudienceUpload.objects.filter(pk=upload.pk, status=AudienceUpload.Status.CHECKING).update(
        status=AudienceUpload.Status.AWAITING, id_count=loaded.count, added_count=loaded.added,
        progress=0)
    selectors.upload_progress_set(upload.pk, 0)
    upload.refresh_from_db()
    return upload


def _unconfirmed(upload_id: int, actor) -> AudienceUpload:
    upload = AudienceUpload.objects.select_for_update().get(pk=upload_id)
    permissions.require(actor, Action.CREATE_AUDIENCES, upload.organization)
    return upload


@transaction.atomic
def upload_confirm(*, upload_id: int, actor) -> AudienceUpload:
    """The person confirmed the summary: the import is queued (through the outbox; see
    ``upload_start``). A second click changes nothing."""
    from lbm import outbox

    from .tasks import import_upload

    upload = _unconfirmed(upload_id, actor)
    if upload.status != AudienceUpload.Status.AWAITING:
        if upload.status in (AudienceUpload.Status.CHECKING, AudienceUpload.Status.FAILED):
            raise AudienceError(_("This upload cannot be confirmed (it is %(status)s).")
                                % {"status": upload.get_status_display()})
        return upload  # already confirmed
    upload.status, upload.progress = AudienceUpload.Status.QUEUED, 0
    upload.save(update_fields=["status", "progress"])
    upload.queued = outbox.enqueue(import_upload, {"upload_id": upload.pk},
                                   reason="audience upload confirmed")
    return upload


@transaction.atomic
def upload_cancel(*, upload_id: int, actor) -> AudienceUpload:
    """The person does not confirm: the upload ends and its file is removed."""
    upload = _unconfirmed(upload_id, actor)
    if upload.status not in AudienceUpload.UNCONFIRMED:
        return upload
    return _upload_failed(upload, _("Cancelled before the import; nothing was stored."))


def upload_process(*, upload_id: int) -> AudienceUpload:
    """Import one queued upload. Safe to run again and twice at once: a finished upload is a
    no-op; the import runs in one transaction holding the upload's row lock, so a second
    execution (a redelivery, a sweep's re-queue) waits for the first and then finds it finished
    (or, if the first was killed, its transaction rolled back and its file still there, starts
    over). An upload not yet confirmed is left alone."""
    upload = AudienceUpload.objects.select_related("created_by").get(pk=upload_id)
    if upload.status in AudienceUpload.UNCONFIRMED:
        return upload
    if upload.is_finished:
        _delete_file(upload)
        return upload
    if not upload.file or not upload.file.storage.exists(upload.file.name):
        return _upload_failed(upload, _("The uploaded file is no longer available; upload it "
                                        "again."))
    AudienceUpload.objects.filter(pk=upload.pk).exclude(
        status__in=AudienceUpload.FINISHED).update(status=AudienceUpload.Status.VALIDATING,
                                                   progress=0)
    selectors.upload_progress_set(upload.pk, 0)

    def progress(fraction: float) -> None:
        selectors.upload_progress_set(upload.pk, int(fraction * 100))

    actor = upload.created_by
    try:
        with transaction.atomic():
            # The row lock: another execution of this upload waits here until this one ends.
            locked = AudienceUpload.objects.select_for_update().get(pk=upload.pk)
            if locked.is_finished:
                return locked
            path = upload.file.path
            if upload.audience_id:
                added = audience_add_ids(actor=actor, audience_id=upload.audience_id, ids=path,
                                         progress=progress, total_bytes=upload.file_size)
                audience = Audience.objects.get(pk=upload.audience_id)
            else:
                audience = audience_create_from_ids(
                    actor=actor, organization_id=upload.organization_id, name=upload.name,
                    id_type=upload.id_type, ids=path, description=upload.description,
                    progress=progress, total_bytes=upload.file_size)
                added = audience.size
            # DONE commits with the members: never an audience without its upload finished.
            AudienceUpload.objects.filter(pk=upload.pk).update(
                status=AudienceUpload.Status.DONE, progress=100, audience=audience,
                id_count=audience.size if not upload.audience_id else added, added_count=added,
                finished_at=timezone.now())
    except (UploadRejected, AudienceError, permissions.NotAllowed) as exc:
        return _upload_failed(upload, _error_text(exc))
    except Exception:
        # Unexpected (database connection lost — a raw psycopg error as well as Django's —, a
        # hashing process killed, a bug): the upload ends FAILED with its file removed, never
        # stuck "validating" (docs/reliability.md). Only when even that cannot be written does
        # the error go back to Celery, whose retry then finds the upload unfinished.
        logger.exception("audience upload %s failed", upload.pk)
        return _upload_failed_unexpectedly(upload)
    upload.refresh_from_db()
    _delete_file(upload)
    return upload


def _error_text(exc) -> str:
    """The refusal and each line it names, one a line (line numbers and reasons, no values)."""
    return "\n".join([exc.message, *getattr(exc, "details", [])])


def _upload_failed(upload: AudienceUpload, message: str) -> AudienceUpload:
    """End an unfinished upload FAILED (one another execution finished stays as it is)."""
    AudienceUpload.objects.filter(pk=upload.pk).exclude(
        status__in=AudienceUpload.FINISHED).update(
        status=AudienceUpload.Status.FAILED, error=message, finished_at=timezone.now())
    upload.refresh_from_db()
    _delete_file(upload)
    return upload


def _upload_failed_unexpectedly(upload: AudienceUpload) -> AudienceUpload:
    from django.db import connection

    if not connection.in_atomic_block and not connection.is_usable():
        connection.close()  # the next query opens a fresh connection
    return _upload_failed(upload, _("The import stopped because of an unexpected error; "
                                    "nothing was stored. Upload the file again."))


# An upload unfinished this long after it was made is stuck (its task was lost: a worker killed
# past the broker's visibility timeout, a publish that never reached the queue): beat fails it.
UPLOAD_STALE_AFTER = timezone.timedelta(hours=4)
# One whose state has not moved this long (queued, or validating with no import running) is
# stalled: the sweep queues its import again (recorded as an outbox row with the reason).
UPLOAD_STALL_AFTER = timezone.timedelta(minutes=15)


def uploads_sweep(*, now=None) -> int:
    """Beat, every 10 minutes (docs/reliability.md#imports-of-id-files): an upload unfinished
    ``UPLOAD_STALE_AFTER`` after it was made ends FAILED with a message and its raw file removed
    (nothing was stored: an import is one transaction); a stalled one (``UPLOAD_STALL_AFTER``
    without moving, and no import of it running, i.e. its row not locked) is queued again,
    at most once per ``UPLOAD_STALL_AFTER`` (a stalled check queues its check again; an upload
    waiting for its confirmation is only failed when stale). An upload whose import runs is
    left alone. Returns
    how many uploads were failed or re-queued."""
    from lbm import outbox
    from lbm.models import OutboxMessage

    from .tasks import check_upload, import_upload

    now = now or timezone.now()
    swept = 0
    unfinished = AudienceUpload.objects.exclude(status__in=AudienceUpload.FINISHED).filter(
        created_at__lt=now - UPLOAD_STALL_AFTER).order_by("pk")
    for pk in list(unfinished.values_list("pk", flat=True)):
        with transaction.atomic():
            rows = AudienceUpload.objects.filter(pk=pk).exclude(
                status__in=AudienceUpload.FINISHED)
            if connection.features.has_select_for_update_skip_locked:
                rows = rows.select_for_update(skip_locked=True)  # locked: its import runs
            upload = rows.first()
            if upload is None:
                continue
            if upload.created_at < now - UPLOAD_STALE_AFTER:
                _upload_failed(upload, _("The import did not finish in time and was stopped; "
                                         "nothing was stored. Upload the file again."))
                swept += 1
                continue
            if upload.status == AudienceUpload.Status.AWAITING:
                continue  # waits for the person's confirmation, not for a worker
            checking = upload.status == AudienceUpload.Status.CHECKING
            task = check_upload if checking else import_upload
            recent = OutboxMessage.objects.filter(
                task=task.name, kwargs__upload_id=pk,
                created_at__gte=now - UPLOAD_STALL_AFTER).exists()
            if recent or outbox.waiting(task, upload_id=pk):
                continue  # just queued (again), or waiting for the broker: the outbox has it
            outbox.enqueue(task, {"upload_id": pk},
                           reason=f"sweep: upload {upload.status} "
                                  f"{int(UPLOAD_STALL_AFTER.total_seconds() // 60)} min, re-queued")
            logger.warning("upload %s stalled (%s): its import is queued again", pk,
                           upload.status)
            swept += 1
    return swept


def _delete_file(upload: AudienceUpload) -> None:
    """The raw file may hold phone numbers or addresses: it goes as soon as it is processed."""
    if upload.file:
        upload.file.storage.delete(upload.file.name)
        AudienceUpload.objects.filter(pk=upload.pk).update(file="")
        upload.file = None


# --- Sharing ----------------------------------------------------------------------------------


@dataclass
class ShareResult:
    shared: list[AudienceShare] = field(default_factory=list)
    skipped: list[tuple[Account, str]] = field(default_factory=list)


def share_problems(audience: Audience, account: Account) -> list[str]:
    """Why ``audience`` may not be shared to ``account`` (empty when it may)."""
    problems = []
    if audience.via_cross_targeting:
        problems.append(_("Audiences received through Cross Targeting cannot be shared again."))
    if audience.from_data_provider:
        problems.append(_("Audiences supplied by a data provider cannot be shared."))
    if not selectors.audience_usages(audience, account.kind):
        problems.append(_("%(type)s audiences cannot be used on %(kind)s accounts "
                          "(%(account)s).")
                        % {"type": audience.get_type_display(),
                           "kind": account.get_kind_display(), "account": account.name}
                        + " " + _usage_reason(audience, account))
    if audience.status != Audience.Status.READY:
        problems.append(_("Only a ready audience can be shared (this one is %(status)s).")
                        % {"status": audience.get_status_display()})
    if (account.kind == Account.Kind.OFFICIAL_ACCOUNT
            and audience.size < MIN_SIZE_TO_SHARE_TO_OA):
        problems.append(_("An audience needs at least %(min)d members to be shared to an "
                          "Official Account (%(account)s); this one has %(size)d.")
                        % {"min": MIN_SIZE_TO_SHARE_TO_OA, "account": account.name,
                           "size": audience.size})
    return problems


def _usage_reason(audience: Audience, account: Account) -> str:
    """Why seed 000's table leaves ``audience`` no use on ``account`` (docs/audiences.md)."""
    if account.kind not in (Account.Kind.LAP, Account.Kind.OFFICIAL_ACCOUNT):
        return _("Shared audiences are used only on LAP ad accounts and Official Accounts.")
    if audience.type == Audience.Type.COMBINED:
        return _("A combined audience may be used only where every audience it is built from "
                 "may be used.")
    return _("%(type)s audiences are for LAP ad accounts only.") % {
        "type": audience.get_type_display()}


def _share(audience: Audience, account: Account, actor) -> AudienceShare:
    share = AudienceShare.objects.filter(audience=audience, account=account).first()
    if share is not None:
        return share
    share = AudienceShare(audience=audience, account=account, shared_by=actor)
    _record(share, actor=actor, reason=_("Shared"))
    share.reachable_size = selectors.reachable_count(audience=audience, account_id=account.pk)
    share.reachable_computed_at = timezone.now()
    share.save()
    return share


@transaction.atomic
def audience_share(*, actor, audience_id: int, account_ids: list[int] | None = None,
                   check_rights: bool = True) -> ShareResult:
    """Share to the chosen linked accounts (every rule must pass for each, or nothing is
    shared), or with ``account_ids=None`` to every linked account that the rules allow (the
    others are returned as skipped). Sharing an already shared audience changes nothing."""
    audience = Audience.objects.select_for_update(of=("self",)).select_related(
        "organization").get(pk=audience_id)
    if check_rights:
        permissions.require(actor, Action.SHARE_AUDIENCES, audience)
    if audience.organization_id is None:
        raise SharingRefused(_("This audience does not belong to an organization."))
    if not audience.shareable:
        raise SharingRefused(_("This audience cannot be shared."),
                             details=share_problems(audience, Account(kind="lap")))
    linked = set(selectors.linked_account_ids(audience.organization_id))
    linked.discard(audience.source_account_id)  # it is that account's own audience already
    result = ShareResult()
    if account_ids is None:
        for account in Account.objects.filter(pk__in=linked).order_by("pk"):
            problems = share_problems(audience, account)
            if problems:
                result.skipped.append((account, " ".join(problems)))
            else:
                result.shared.append(_share(audience, account, actor))
        return result
    accounts = list(Account.objects.filter(pk__in=account_ids).order_by("pk"))
    problems = []
    for account in accounts:
        if account.pk == audience.source_account_id:
            problems.append(_("%(account)s: the audience comes from this account.")
                            % {"account": account.name})
        elif account.pk not in linked:
            problems.append(_("%(account)s is not linked to the organization.")
                            % {"account": account.name})
        else:
            problems.extend(share_problems(audience, account))
    if not accounts:
        problems.append(_("Choose at least one linked account."))
    if problems:
        raise SharingRefused(_("The audience was not shared."), details=problems)
    result.shared = [_share(audience, account, actor) for account in accounts]
    return result


@transaction.atomic
def audience_unshare(*, actor, audience_id: int, account_id: int) -> None:
    audience = Audience.objects.select_for_update().get(pk=audience_id)
    permissions.require(actor, Action.SHARE_AUDIENCES, audience)
    share = AudienceShare.objects.filter(audience=audience, account_id=account_id).first()
    if share is None:
        return
    _record(share, actor=actor, reason=_("Unshared"))
    share.delete()


def _after_created(audience: Audience) -> None:
    """A new organization audience: ``resource_created`` shares it to every linked account set
    to share all (a setting decided by an Admin or Operator, so it applies whoever created the
    audience)."""
    if audience.organization_id is None or audience.source_account_id is not None:
        return
    resource_created.send(sender=Audience, instance=audience)


def resource_share_to_share_all_accounts(resource: Audience | LineTag) -> None:
    """Share a new organization audience or LINE Tag to each linked account set to share all;
    an account a sharing rule excludes is skipped (the share page names the rule)."""
    account_ids = selectors.share_all_account_ids(resource.organization_id)
    if isinstance(resource, LineTag):
        for account_id in account_ids:
            _tag_share(resource, account_id, resource.created_by)
        return
    if not resource.shareable:
        return
    for account in Account.objects.filter(pk__in=account_ids).order_by("pk"):
        if account.pk != resource.source_account_id and not share_problems(resource, account):
            _share(resource, account, resource.created_by)


def _share_everything(organization: Organization, account: Account, actor) -> None:
    """Every organization audience the rules allow and every LINE Tag, to ``account``."""
    for audience in Audience.objects.filter(
            organization=organization, source_account__isnull=True,
            status=Audience.Status.READY, via_cross_targeting=False,
            from_data_provider=False):
        if not share_problems(audience, account):
            _share(audience, account, actor)
    for tag in LineTag.objects.filter(organization=organization):
        _tag_share(tag, account.pk, actor)


@transaction.atomic
def link_sharing_set(*, actor, link_id: int, mode: str, reason: str = "") -> LinkSharing:
    """Set how one linked account receives the organization's resources (Admins and
    Operators). ``share_all`` shares everything the rules allow now and every resource created
    later; ``share_selected`` stops that (shares already made stay; unshare them one by one).
    Recorded in the setting's history; setting the current mode changes nothing."""
    link = AccountLink.objects.select_related("organization", "account").get(pk=link_id)
    permissions.require(actor, Action.SHARE_AUDIENCES, link.organization)
    if link.status != AccountLink.Status.APPROVED:
        raise SharingRefused(_("Only a linked account has a sharing setting."))
    if mode not in SharingMode.values:
        raise SharingRefused(_("Choose share all or share selected."))
    sharing = (LinkSharing.objects.select_for_update().filter(link=link).first()
               or LinkSharing(link=link))
    if sharing.pk and sharing.mode == mode:
        return sharing
    sharing.mode = mode
    sharing.changed_by = actor
    sharing.changed_at = timezone.now()
    _record(sharing, actor=actor, reason=reason or _("Sharing set to: %(mode)s")
            % {"mode": sharing.get_mode_display()})
    sharing.save()
    if mode == SharingMode.SHARE_ALL:
        _share_everything(link.organization, link.account, actor)
    return sharing


def size_snapshot(audience: Audience) -> bool:
    """Record the audience's size when it differs from the last one recorded (an audience in
    progress has no size yet). Returns whether a row was written."""
    if audience.pk is None or audience.status == Audience.Status.IN_PROGRESS:
        return False
    last = (AudienceSizeSnapshot.objects.filter(audience_id=audience.pk)
            .order_by("-recorded_at", "-pk").values_list("size", flat=True).first())
    if last == audience.size:
        return False
    AudienceSizeSnapshot.objects.create(audience_id=audience.pk, size=audience.size)
    return True


def _refresh_reachable(audience_id: int) -> None:
    audience = Audience.objects.get(pk=audience_id)
    for share in AudienceShare.objects.filter(audience=audience):
        count = selectors.reachable_count(audience=audience, account_id=share.account_id)
        AudienceShare.objects.filter(pk=share.pk).update(
            reachable_size=count, reachable_computed_at=timezone.now())


# --- LINE Tags --------------------------------------------------------------------------------


@transaction.atomic
def line_tag_create(*, actor, organization_id: int, name: str, tag_id: str = "") -> LineTag:
    organization = Organization.objects.get(pk=organization_id)
    permissions.require(actor, Action.CREATE_AUDIENCES, organization)
    name = (name or "").strip()
    if not name:
        raise AudienceError(_("A LINE Tag needs a name."))
    if LineTag.objects.filter(organization=organization, name__iexact=name).exists():
        raise AudienceError(_("A LINE Tag named “%(name)s” already exists.") % {"name": name})
    tag = LineTag(organization=organization, name=name, tag_id=tag_id or uuid.uuid4().hex,
                  created_by=actor)
    _record(tag, actor=actor, reason=_("Created"))
    tag.save()
    resource_created.send(sender=LineTag, instance=tag)
    return tag


@transaction.atomic
def line_tag_issue_token(*, actor, tag_id: int) -> str:
    """A new server-to-server access token for the tag, returned once; only its SHA-256 is
    kept, and the previous token stops working."""
    import secrets

    from .intake import token_hash

    tag = LineTag.objects.select_for_update().get(pk=tag_id)
    permissions.require(actor, Action.CREATE_AUDIENCES, tag)
    token = secrets.token_urlsafe(32)
    tag.token_hash = token_hash(token)
    tag.token_issued_at = timezone.now()
    _record(tag, actor=actor, reason=_("Access token issued"))
    tag.save(update_fields=["token_hash", "token_issued_at"])
    return token


def tag_events_purge(now=None) -> int:
    """Delete LINE Tag events older than the retention (180 days); one DELETE."""
    from .models import EVENT_RETENTION

    cutoff = (now or timezone.now()) - EVENT_RETENTION
    deleted, _by_model = TagEvent.objects.filter(occurred_at__lt=cutoff).delete()
    return deleted


def web_traffic_recompute_all() -> int:
    """Recompute every live web-traffic audience from the events (each in the database)."""
    ids = list(Audience.objects.filter(type=Audience.Type.WEB_TRAFFIC, line_tag__isnull=False)
               .exclude(status=Audience.Status.EXPIRED).values_list("pk", flat=True))
    for pk in ids:
        audience_rebuild(audience_id=pk)
        _refresh_reachable(pk)
    return len(ids)


def _tag_share(tag: LineTag, account_id: int, actor) -> None:
    if LineTagShare.objects.filter(tag=tag, account_id=account_id).exists():
        return
    share = LineTagShare(tag=tag, account_id=account_id, shared_by=actor)
    _record(share, actor=actor, reason=_("Shared"))
    share.save()


@transaction.atomic
def line_tag_share(*, actor, tag_id: int, account_ids: list[int] | None = None) -> int:
    """Share a LINE Tag to the chosen linked accounts (or all); return how many shares exist."""
    tag = LineTag.objects.select_for_update().get(pk=tag_id)
    permissions.require(actor, Action.SHARE_AUDIENCES, tag)
    linked = set(selectors.linked_account_ids(tag.organization_id))
    chosen = linked if account_ids is None else set(account_ids)
    if not chosen <= linked:
        raise SharingRefused(_("A LINE Tag can be shared only to accounts linked to the "
                               "organization."))
    for account_id in sorted(chosen):
        _tag_share(tag, account_id, actor)
    return LineTagShare.objects.filter(tag=tag).count()


@transaction.atomic
def line_tag_unshare(*, actor, tag_id: int, account_id: int) -> None:
    tag = LineTag.objects.select_for_update().get(pk=tag_id)
    permissions.require(actor, Action.SHARE_AUDIENCES, tag)
    share = LineTagShare.objects.filter(tag=tag, account_id=account_id).first()
    if share is not None:
        _record(share, actor=actor, reason=_("Unshared"))
        share.delete()


# --- Audiences computed in the database -------------------------------------------------------


def _insert_members(audience_id: int, queryset) -> None:
    """INSERT ... SELECT the identifiers ``queryset`` yields (one statement, in the database)."""
    from django.core.exceptions import EmptyResultSet

    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # e.g. a lookalike sized 0: nothing to insert
        return
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {MEMBER_TABLE} (audience_id, identifier) "
                       f"SELECT %s, q.identifier FROM ({sql}) q", [audience_id, *params])


def _combined_members(audience: Audience):
    ids = list(AudienceComponent.objects.filter(combined=audience).order_by("position")
               .values_list("component_id", flat=True))
    sets = [AudienceMember.objects.filter(audience_id=pk).values("identifier") for pk in ids]
    first, rest = sets[0], sets[1:]
    if audience.operator == Audience.Operator.AND:
        return first.intersection(*rest)
    if audience.operator == Audience.Operator.OR:
        return first.union(*rest)
    return first.difference(*rest)


def _web_traffic_members(audience: Audience):
    since = timezone.now() - timezone.timedelta(days=audience.retention_days)
    events = TagEvent.objects.filter(tag_id=audience.line_tag_id, occurred_at__gte=since)
    if audience.tag_event:
        events = events.filter(event=audience.tag_event)
    lookup = {"equals": "url", "contains": "url__contains",
              "starts_with": "url__startswith"}.get(audience.url_match)
    if lookup:
        events = events.filter(**{lookup: audience.url_value})
    from .models import LineUser

    return (LineUser.objects.filter(pk__in=events.values("line_user_id"))
            .values("user_id").annotate(identifier=F("user_id")).values("identifier"))


@transaction.atomic
def audience_rebuild(*, audience_id: int) -> Audience:
    """Recompute the members of a combined or web-traffic audience in the database."""
    audience = Audience.objects.select_for_update().get(pk=audience_id)
    if audience.status == Audience.Status.EXPIRED:
        return audience
    if audience.type == Audience.Type.COMBINED:
        members = _combined_members(audience)
    elif audience.type == Audience.Type.WEB_TRAFFIC and audience.line_tag_id:
        members = _web_traffic_members(audience)
    elif audience.type == Audience.Type.LOOKALIKE and audience.lookalike_source_id:
        if not _lookalike_source_available(audience):
            return audience  # the source left the account: the members stay as they were
        members = _lookalike_members(audience)
    else:
        return audience
    AudienceMember.objects.filter(audience_id=audience.pk).delete()
    _insert_members(audience.pk, members)
    audience.size = AudienceMember.objects.filter(audience_id=audience.pk).count()
    audience.status = Audience.Status.READY
    audience.version += 1
    _record(audience, actor=None, reason=_("Recomputed: %(size)d members")
            % {"size": audience.size})
    audience.save(update_fields=["size", "status", "version", "updated_at"])
    return audience


@transaction.atomic
def audience_combine(*, actor, organization_id: int, name: str, operator: str,
                     component_ids: list[int], description: str = "") -> Audience:
    """A new audience from others with AND / OR / AND NOT (the first minus the others), computed
    with set operations in the database."""
    organization, _account = _owner(actor=actor, organization_id=organization_id,
                                    account_id=None)
    if operator not in Audience.Operator.values:
        raise AudienceError(_("Choose AND, OR or AND NOT."))
    if len(component_ids) < 2 or len(set(component_ids)) != len(component_ids):
        raise AudienceError(_("Choose at least two different audiences to combine."))
    name = audience_check_name(name=name, organization_id=organization.pk)
    components = {a.pk: a for a in Audience.objects.filter(pk__in=component_ids,
                                                           organization=organization)}
    if len(components) != len(component_ids):
        raise AudienceError(_("Every audience combined must belong to the organization."))
    id_types = {a.id_type for a in components.values()}
    if len(id_types) != 1:
        raise AudienceError(_("Audiences of different ID types (e.g. phone numbers and user "
                              "IDs) cannot be combined."))
    if any(a.status != Audience.Status.READY for a in components.values()):
        raise AudienceError(_("Every audience combined must be ready."))
    audience = _new_audience(organization=organization, account=None, name=name,
                             audience_type=Audience.Type.COMBINED, id_type=id_types.pop(),
                             actor=actor, description=description, operator=operator)
    AudienceComponent.objects.bulk_create(
        AudienceComponent(combined=audience, component_id=pk, position=i)
        for i, pk in enumerate(component_ids))
    audience = audience_rebuild(audience_id=audience.pk)
    _after_created(audience)
    return audience


# --- Lookalike audiences (docs/audiences.md#lookalike-audiences) --------------------------------


def _lookalike_source_available(audience: Audience) -> bool:
    """The source is the LAP account's own audience or shared to it, ready, in the same
    organization."""
    source = audience.lookalike_source
    if source is None or source.status != Audience.Status.READY:
        return False
    if source.organization_id is None or source.organization_id != audience.organization_id:
        return False
    return (source.source_account_id == audience.source_account_id
            or AudienceShare.objects.filter(audience=source,
                                            account_id=audience.source_account_id).exists())


def lookalike_target_size(*, account_id: int, percent: int) -> int:
    """``percent`` % of the account's reachable users (friends who have not blocked it),
    rounded down."""
    reachable = Friendship.objects.filter(account_id=account_id,
                                          state__in=Friendship.REACHABLE).count()
    return reachable * percent // 100


def _lookalike_members(audience: Audience):
    """The account's reachable users who are not in the source, most alike first: ranked by
    how many of the source's members came to the account by the same friend path, then by
    user (stable). At most ``lookalike_target_size`` of them; one query in the database."""
    from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    account_id = audience.source_account_id
    source_users = selectors.matched_users(audience.lookalike_source).values("pk")
    alike = (Friendship.objects.filter(account_id=account_id, line_user__in=source_users,
                                       friend_path=OuterRef("friend_path"))
             .order_by().values("friend_path").annotate(n=Count("pk")).values("n"))
    target = lookalike_target_size(account_id=account_id,
                                   percent=audience.lookalike_percent)
    return (Friendship.objects.filter(account_id=account_id, state__in=Friendship.REACHABLE)
            .exclude(line_user__in=source_users)
            .annotate(weight=Coalesce(Subquery(alike, output_field=IntegerField()), Value(0)),
                      identifier=F("line_user__user_id"))
            .order_by("-weight", "line_user_id").values("identifier")[:target])


@transaction.atomic
def audience_lookalike_create(*, actor, account_id: int, source_id: int, name: str,
                              percent: int, description: str = "") -> Audience:
    """A lookalike audience on a LAP ad account: users like those of ``source`` (the account's
    own audience or one shared to it, of a type seed 000 lets be a lookalike source), sized
    ``percent`` (1–15) % of the account's reachable users. It is the account's audience, in
    the organization, and may be used on LAP ad accounts only."""
    account = Account.objects.get(pk=account_id)
    if account.kind != Account.Kind.LAP:
        raise AudienceError(_("A lookalike audience is made on a LAP ad account."))
    source = Audience.objects.select_related("organization").get(pk=source_id)
    if source.organization_id is None:
        raise AudienceError(_("The source audience does not belong to an organization."))
    organization, account = _owner(actor=actor, organization_id=source.organization_id,
                                   account_id=account.pk)
    if not isinstance(percent, int) or not (LOOKALIKE_MIN_PERCENT <= percent
                                            <= LOOKALIKE_MAX_PERCENT):
        raise AudienceError(_("A lookalike audience is %(min)d%% to %(max)d%% of the account's "
                              "reachable users.") % {"min": LOOKALIKE_MIN_PERCENT,
                                                     "max": LOOKALIKE_MAX_PERCENT})
    if Usage.LOOKALIKE not in selectors.audience_usages(source, Account.Kind.LAP):
        raise AudienceError(_("%(type)s audiences cannot be the source of a lookalike "
                              "audience.") % {"type": source.get_type_display()})
    if source.status != Audience.Status.READY:
        raise AudienceError(_("The source audience must be ready."))
    probe = Audience(organization=organization, source_account=account,
                     lookalike_source=source)
    if not _lookalike_source_available(probe):
        raise AudienceError(_("Share “%(source)s” to %(account)s first: a lookalike is made "
                              "from an audience the account can use.")
                            % {"source": source.name, "account": account.name})
    name = audience_check_name(name=name, organization_id=organization.pk,
                               account_id=account.pk)
    audience = _new_audience(organization=organization, account=account, name=name,
                             audience_type=Audience.Type.LOOKALIKE, id_type=IdType.USER_ID,
                             actor=actor, description=description, lookalike_source=source,
                             lookalike_percent=percent)
    return audience_rebuild(audience_id=audience.pk)


@transaction.atomic
def audience_web_traffic_create(*, actor, organization_id: int, name: str, tag_id: int,
                                event: str = "", retention_days: int = 30,
                                description: str = "", url_match: str = "",
                                url_value: str = "") -> Audience:
    organization, _account = _owner(actor=actor, organization_id=organization_id,
                                    account_id=None)
    tag = LineTag.objects.filter(pk=tag_id, organization=organization).first()
    if tag is None:
        raise AudienceError(_("Choose a LINE Tag of the organization."))
    if not 1 <= retention_days <= 180:
        raise AudienceError(_("Retention is 1 to 180 days."))
    url_value = (url_value or "").strip()
    if url_match not in Audience.UrlMatch.values:
        raise AudienceError(_("Choose how the page URL is matched."))
    if bool(url_match) != bool(url_value):
        raise AudienceError(_("A page URL rule needs both how to match and the URL."))
    name = audience_check_name(name=name, organization_id=organization.pk)
    audience = _new_audience(organization=organization, account=None, name=name,
                             audience_type=Audience.Type.WEB_TRAFFIC,
                             id_type="user_id", actor=actor, description=description,
                             line_tag=tag, tag_event=event.strip(),
                             retention_days=retention_days, url_match=url_match,
                             url_value=url_value)
    audience = audience_rebuild(audience_id=audience.pk)
    _after_created(audience)
    return audience


# --- Sync with linked accounts and the periodic refresh ---------------------------------------


@transaction.atomic
def account_sync(*, link_id: int) -> int:
    """Bring every audience of a newly linked account into its organization, then apply the
    share-all setting to the account. Idempotent; return how many audiences were brought in."""
    link = AccountLink.objects.select_related("organization", "account").get(pk=link_id)
    if link.status != AccountLink.Status.APPROVED:
        return 0
    organization, account = link.organization, link.account
    brought = 0
    for audience in Audience.objects.select_for_update().filter(source_account=account).exclude(
            organization=organization):
        audience.organization = organization
        _record(audience, actor=None, reason=_("Synced into %(org)s")
                % {"org": organization.name})
        audience.save(update_fields=["organization", "updated_at"])
        brought += 1
    # The account's own setting, from the organization's default the first time.
    sharing, _created = LinkSharing.objects.get_or_create(
        link=link, defaults={"mode": organization.share_mode})
    if sharing.mode == SharingMode.SHARE_ALL:
        _share_everything(organization, account, None)
    return brought


def audience_refresh(*, audience_id: int) -> Audience:
    """Bring one audience's status, size and reachable counts up to date (idempotent)."""
    with transaction.atomic():
        audience = Audience.objects.select_for_update().get(pk=audience_id)
        now = timezone.now()
        if audience.status != Audience.Status.EXPIRED and audience.expires_at <= now:
            audience.status = Audience.Status.EXPIRED
            _record(audience, actor=None, reason=_("Expired (180 days)"))
            audience.save(update_fields=["status", "updated_at"])
            return audience
        if audience.status == Audience.Status.EXPIRED:
            return audience
    if audience.type in (Audience.Type.COMBINED, Audience.Type.WEB_TRAFFIC,
                         Audience.Type.LOOKALIKE):
        audience = audience_rebuild(audience_id=audience.pk)
    else:
        size = AudienceMember.objects.filter(audience_id=audience.pk).count()
        if size != audience.size:
            Audience.objects.filter(pk=audience.pk).update(size=size,
                                                           version=F("version") + 1)
            audience.size = size
            size_snapshot(audience)
    _refresh_reachable(audience.pk)
    return audience


def audiences_reconcile_links() -> None:
    """Accounts unlinked since: their audiences leave the organization and shares to them end.
    """
    approved = AccountLink.objects.filter(status=AccountLink.Status.APPROVED)
    pairs = set(approved.values_list("organization_id", "account_id"))
    for audience in Audience.objects.filter(source_account__isnull=False,
                                            organization__isnull=False):
        if (audience.organization_id, audience.source_account_id) not in pairs:
            _record(audience, actor=None, reason=_("Account unlinked"))
            audience.organization = None
            audience.save(update_fields=["organization", "updated_at"])
    for share in AudienceShare.objects.select_related("audience"):
        if (share.audience.organization_id, share.account_id) not in pairs:
            _record(share, actor=None, reason=_("Account unlinked"))
            share.delete()


@transaction.atomic
def account_detach(*, link_id: int) -> int:
    """An account's link ended: its audiences leave the organization and the organization's
    shares to it end. Returns how many rows changed; a second run (or a link that is approved
    again) changes nothing."""
    link = AccountLink.objects.get(pk=link_id)
    if AccountLink.objects.filter(account_id=link.account_id,
                                  organization_id=link.organization_id,
                                  status=AccountLink.Status.APPROVED).exists():
        return 0
    changed = 0
    # The account's own audiences leave the organization: their shares to other accounts end.
    for share in AudienceShare.objects.filter(audience__source_account_id=link.account_id,
                                              audience__organization_id=link.organization_id):
        _record(share, actor=None, reason=_("Account unlinked"))
        share.delete()
        changed += 1
    for audience in Audience.objects.select_for_update().filter(
            source_account_id=link.account_id, organization_id=link.organization_id):
        _record(audience, actor=None, reason=_("Account unlinked"))
        audience.organization = None
        audience.save(update_fields=["organization", "updated_at"])
        changed += 1
    for share in AudienceShare.objects.filter(account_id=link.account_id,
                                              audience__organization_id=link.organization_id):
        _record(share, actor=None, reason=_("Account unlinked"))
        share.delete()
        changed += 1
    for share in LineTagShare.objects.filter(account_id=link.account_id,
                                             tag__organization_id=link.organization_id):
        _record(share, actor=None, reason=_("Account unlinked"))
        share.delete()
        changed += 1
    return changed


def audiences_refresh_all() -> int:
    """The periodic job: reconcile links, then refresh every audience that is not expired."""
    audiences_reconcile_links()
    count = 0
    for pk in Audience.objects.exclude(status=Audience.Status.EXPIRED).values_list(
            "pk", flat=True).iterator():
        audience_refresh(audience_id=pk)
        count += 1
    return count


# --- Export -----------------------------------------------------------------------------------


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
        raise AudienceError(_("The members' hashes cannot be opened with the current key "
                              "(was PII_HASH_KEY changed?); nothing was exported."))
    left_out = selectors.members_without_sealed_copy(audience)
    reason = (_("Members exported as LINE-style hashes (%(size)d; %(left_out)d stored "
                "before sealed copies existed left out)")
              if left_out else _("Members exported as LINE-style hashes (%(size)d)"))
    _record(audience, actor=actor, reason=reason % {"size": audience.size - left_out,
                                                    "left_out": left_out})
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
        raise AudienceError(_("An account's own audience is changed in that account, not in the "
                              "organization."))


@transaction.atomic
def audience_rename(*, actor, audience_id: int, name: str, reason: str = "") -> Audience:
    """Rename an organization's audience (same rules as a new name). Recorded in its history;
    renaming to the current name changes nothing."""
    audience = Audience.objects.select_for_update().get(pk=audience_id)
    _editable(audience, actor)
    name = audience_check_name(name=name, organization_id=audience.organization_id,
                               account_id=audience.source_account_id, exclude_pk=audience.pk)
    if name == audience.name:
        return audience
    old = audience.name
    audience.name = name
    _record(audience, actor=actor, reason=reason or _("Renamed from “%(old)s”") % {"old": old})
    try:
        with transaction.atomic():
            audience.save(update_fields=["name", "updated_at"])
    except IntegrityError as exc:  # a concurrent creation took the name
        raise AudienceError(_("An audience named “%(name)s” already exists (names are compared "
                              "without regard to case).") % {"name": name}) from exc
    return audience


@transaction.atomic
def audience_delete(*, actor, audience_id: int, reason: str = "") -> None:
    """Delete an organization's audience with its members and shares. Each share's end and the
    deletion are recorded in the history with who and why. Refused while a combined audience is
    built from it (delete that first)."""
    audience = Audience.objects.select_for_update().get(pk=audience_id)
    _editable(audience, actor)
    used_by = list(Audience.objects.filter(
        pk__in=AudienceComponent.objects.filter(component=audience).values("combined_id"))
        .values_list("name", flat=True))
    if used_by:
        raise AudienceError(_("“%(name)s” is part of the combined audience(s) %(used)s; delete "
                              "those first.") % {"name": audience.name,
                                                 "used": ", ".join(used_by)})
    lookalikes = list(audience.lookalikes.values_list("name", flat=True))
    if lookalikes:
        raise AudienceError(_("“%(name)s” is the source of the lookalike audience(s) %(used)s; "
                              "delete those first.") % {"name": audience.name,
                                                        "used": ", ".join(lookalikes)})
    why = reason or _("Deleted")
    for share in AudienceShare.objects.filter(audience=audience):
        _record(share, actor=actor, reason=_("Audience deleted"))
        share.delete()
    uploads = AudienceUpload.objects.filter(audience=audience)
    if uploads.exclude(status__in=AudienceUpload.FINISHED).exists():
        raise AudienceError(_("“%(name)s” has an upload in progress; wait until it finishes, "
                              "then delete the audience.") % {"name": audience.name})
    # The uploads stay as history, naming the audience they went to (an addition has no name
    # of its own, and the row must name one or the other).
    uploads.filter(name="").update(name=audience.name[:120])
    uploads.update(audience=None)
    AudienceMember.objects.filter(audience_id=audience.pk).delete()  # one DELETE, no FK
    _record(audience, actor=actor, reason=why)
    audience.delete()


# --- Audiences that exist in an account (sync from LINE, demo data) ---------------------------


@transaction.atomic
def audience_create_tracking(*, account_id: int, name: str, kind: str, request_id: str,
                             click_url: str = "") -> Audience:
    """A click or impression retargeting audience of the users who opened (or clicked
    ``click_url`` in) the messages sent with ``request_id``, created through the account's
    channel. This back office keeps no message-open events, so it starts empty and ready; the
    request it follows is kept with it."""
    account = Account.objects.get(pk=account_id)
    audience_type = {"click": Audience.Type.CLICK, "imp": Audience.Type.IMPRESSION}[kind]
    _check_type(audience_type, account)
    link = AccountLink.objects.filter(account=account,
                                      status=AccountLink.Status.APPROVED).first()
    organization = link.organization if link else None
    name = audience_check_name(name=name, organization_id=organization and organization.pk,
                               account_id=account.pk)
    if not (request_id or "").strip():
        raise AudienceError(_("The request ID of the message is required."))
    audience = _new_audience(
        organization=organization, account=account, name=name, audience_type=audience_type,
        id_type=IdType.USER_ID, actor=None, route=Audience.Route.MESSAGING_API,
        description=f"requestId={request_id.strip()}"
        + (f"\nclickUrl={click_url.strip()}" if click_url else ""))
    audience.status = Audience.Status.READY
    audience.save(update_fields=["status", "updated_at"])
    return audience


def account_audience_upsert(*, account_id: int, external_id: int, name: str,
                            audience_type: str, ids, id_type: str = "user_id",
                            route: str = Audience.Route.OA_MANAGER,
                            via_cross_targeting: bool = False,
                            from_data_provider: bool = False) -> Audience:
    """Record an audience as the account holds it in LINE (``external_id`` is its
    audienceGroupId), replacing its members. Idempotent. The account's organization, if it is
    linked, receives it at once."""
    account = Account.objects.get(pk=account_id)
    _check_type(audience_type, account)
    link = AccountLink.objects.filter(account=account,
                                      status=AccountLink.Status.APPROVED).first()
    with transaction.atomic():
        audience = Audience.objects.select_for_update().filter(
            source_account=account, external_id=external_id).first()
        if audience is None:
            audience = _new_audience(organization=link.organization if link else None,
                                     account=account, name=name, audience_type=audience_type,
                                     id_type=id_type, actor=None, route=route,
                                     external_id=external_id,
                                     via_cross_targeting=via_cross_targeting,
                                     from_data_provider=from_data_provider)
        else:
            AudienceMember.objects.filter(audience_id=audience.pk).delete()
        loaded = importers.load_ids(ids, id_type=id_type, audience_id=audience.pk,
                                    new_audience=True)
        audience.size = loaded.added
        audience.status = Audience.Status.READY
        audience.version += 1
        _record(audience, actor=None, reason=_("Synced from the account (%(count)d members)")
                % {"count": loaded.count})
        audience.save(update_fields=["size", "status", "version", "updated_at"])
    return audience
