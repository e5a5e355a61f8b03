"""Reads: reachable sizes, where an audience may be used and shared, name checks, lookalike
sources and sizes, visible audiences, member exports, upload progress and summaries."""

import functools
import logging
from collections import namedtuple
from collections.abc import Iterator
from datetime import UTC, datetime

from django.core.cache import cache
from django.db import connection
from django.db.models import Count, QuerySet, Window
from django.utils.translation import gettext as _

from lbm import hotsql, permissions
from lbm.models import Account, AccountLink, Organization
from lbm.permissions import Action

from .exceptions import AudienceError
from .models import (
    MIN_REACHABLE_TO_SEND,
    MIN_SIZE_TO_SHARE_TO_OA,
    Audience,
    AudienceComponent,
    AudienceMember,
    AudienceShare,
    AudienceSizeSnapshot,
    AudienceUpload,
    Friendship,
    IdType,
    LineTagShare,
    LineUser,
    SharingMode,
    usages,
)

logger = logging.getLogger(__name__)

# Which LineUser column a member identifier of each type matches.
DIRECTORY_FIELD = {
    IdType.USER_ID: "user_id",
    IdType.IFA: "ifa",
    IdType.PHONE: "phone_hash",
    IdType.EMAIL: "email_hash",
}


def matched_users(audience: Audience) -> QuerySet[LineUser]:
    """The LINE users the audience's members identify."""
    members = AudienceMember.objects.filter(audience_id=audience.pk).values("identifier")
    return LineUser.objects.filter(**{f"{DIRECTORY_FIELD[audience.id_type]}__in": members})


def reachable_count(*, audience: Audience, account_id: int) -> int:
    """Members who are friends of the account and have not blocked it (the intersection that a
    message sent with this audience reaches; docs/audiences.md). One query."""
    return Friendship.objects.filter(
        account_id=account_id,
        state__in=Friendship.REACHABLE,
        line_user__in=matched_users(audience),
    ).count()


def lookalike_source_available(audience: Audience) -> bool:
    """The source is the LAP account's own audience or shared to it, ready, in the same
    organization."""
    source = audience.lookalike_source
    if source is None or source.status != Audience.Status.READY:
        return False
    if source.organization_id is None or source.organization_id != audience.organization_id:
        return False
    return (
        source.source_account_id == audience.source_account_id
        or AudienceShare.objects.filter(
            audience=source, account_id=audience.source_account_id
        ).exists()
    )


def lookalike_target_size(*, account_id: int, percent: int) -> int:
    """``percent`` % of the account's reachable users (friends who have not blocked it),
    rounded down."""
    reachable = Friendship.objects.filter(
        account_id=account_id, state__in=Friendship.REACHABLE
    ).count()
    return reachable * percent // 100


def linked_account_ids(organization_id: int) -> list[int]:
    return list(
        AccountLink.objects.filter(
            organization_id=organization_id, status=AccountLink.Status.APPROVED
        ).values_list("account_id", flat=True)
    )


def audience_usages(audience: Audience, account_kind: str, _seen=None) -> tuple[str, ...]:
    """What ``audience`` may be used for on an account of ``account_kind``: its type's row of
    seed 000's table; for a combined audience, only what every audience it is built from
    allows (a combination never carries a LAP-only audience to an Official Account)."""
    allowed = usages(audience.type, account_kind)
    if audience.type != Audience.Type.COMBINED or not allowed:
        return allowed
    seen = (_seen or set()) | {audience.pk}
    components = Audience.objects.filter(
        pk__in=AudienceComponent.objects.filter(combined_id=audience.pk).values("component_id")
    ).exclude(pk__in=seen)
    for component in components:
        theirs = set(audience_usages(component, account_kind, seen))
        allowed = tuple(u for u in allowed if u in theirs)
    return allowed


def share_problems(audience: Audience, account: Account) -> list[str]:
    """Why ``audience`` may not be shared to ``account`` (empty when it may)."""
    problems = []
    if audience.via_cross_targeting:
        problems.append(_("Audiences received through Cross Targeting cannot be shared again."))
    if audience.from_data_provider:
        problems.append(_("Audiences supplied by a data provider cannot be shared."))
    if not audience_usages(audience, account.kind):
        problems.append(
            _("%(type)s audiences cannot be used on %(kind)s accounts (%(account)s).")
            % {
                "type": audience.get_type_display(),
                "kind": account.get_kind_display(),
                "account": account.name,
            }
            + " "
            + _usage_reason(audience, account)
        )
    if audience.status != Audience.Status.READY:
        problems.append(
            _("Only a ready audience can be shared (this one is %(status)s).")
            % {"status": audience.get_status_display()}
        )
    if account.kind == Account.Kind.OFFICIAL_ACCOUNT and audience.size < MIN_SIZE_TO_SHARE_TO_OA:
        problems.append(
            _(
                "An audience needs at least %(min)d members to be shared to an "
                "Official Account (%(account)s); this one has %(size)d."
            )
            % {"min": MIN_SIZE_TO_SHARE_TO_OA, "account": account.name, "size": audience.size}
        )
    return problems


def _usage_reason(audience: Audience, account: Account) -> str:
    """Why seed 000's table leaves ``audience`` no use on ``account`` (docs/audiences.md)."""
    if account.kind not in (Account.Kind.LAP, Account.Kind.OFFICIAL_ACCOUNT):
        return _("Shared audiences are used only on LAP ad accounts and Official Accounts.")
    if audience.type == Audience.Type.COMBINED:
        return _(
            "A combined audience may be used only where every audience it is built from "
            "may be used."
        )
    return _("%(type)s audiences are for LAP ad accounts only.") % {
        "type": audience.get_type_display()
    }


def share_all_account_ids(organization_id: int) -> list[int]:
    """Linked accounts of the organization set to share all (a link without its own setting
    yet follows the organization's default)."""
    from django.db.models import Q

    return list(
        AccountLink.objects.filter(
            organization_id=organization_id, status=AccountLink.Status.APPROVED
        )
        .filter(
            Q(sharing__mode=SharingMode.SHARE_ALL)
            | Q(sharing__isnull=True, organization__share_mode=SharingMode.SHARE_ALL)
        )
        .values_list("account_id", flat=True)
    )


def link_sharing_mode(link: AccountLink) -> str:
    try:
        return link.sharing.mode
    except AccountLink.sharing.RelatedObjectDoesNotExist:
        return link.organization.share_mode


# --- What will stop (the confirmation pages) ---------------------------------------------------


def unshare_consequences(audiences, account_ids) -> list[dict]:
    """What unsharing ``audiences`` from the accounts ``account_ids`` ends: for each existing
    share, the audience, the account (where it disappears), its reachable count as insight may
    show it, and the lookalike audiences made from it there, which stop being recomputed."""
    shares = (
        AudienceShare.objects.filter(audience__in=audiences, account_id__in=account_ids)
        .select_related("audience", "account")
        .order_by("audience__name", "account__name")
    )
    rows = []
    for share in shares:
        lookalikes = list(
            Audience.objects.filter(
                lookalike_source=share.audience, source_account_id=share.account_id
            ).values_list("name", flat=True)
        )
        rows.append(
            {
                "audience": share.audience,
                "account": share.account,
                "reachable": insight_number(share.reachable_size),
                "lookalikes": lookalikes,
            }
        )
    return rows


def unlink_consequences(link: AccountLink) -> dict:
    """What ending an approved link stops: the organization's audiences and LINE Tags shared
    to the account (they disappear from it), the account's own audiences (they leave the
    organization) and their shares to other accounts (they disappear from those)."""
    if link.status != AccountLink.Status.APPROVED:
        return {"shares": [], "tag_shares": [], "own_audiences": [], "own_shares": []}
    org, account = link.organization_id, link.account_id
    return {
        "shares": list(
            AudienceShare.objects.filter(account_id=account, audience__organization_id=org)
            .select_related("audience")
            .order_by("audience__name")
        ),
        "tag_shares": list(
            LineTagShare.objects.filter(account_id=account, tag__organization_id=org)
            .select_related("tag")
            .order_by("tag__name")
        ),
        "own_audiences": list(
            Audience.objects.filter(source_account_id=account, organization_id=org).order_by("name")
        ),
        "own_shares": list(
            AudienceShare.objects.filter(
                audience__source_account_id=account, audience__organization_id=org
            )
            .select_related("audience", "account")
            .order_by("audience__name", "account__name")
        ),
    }


def unlink_consequence_lines(links) -> list[str]:
    """``unlink_consequences`` of each link as sentences for the unlink confirmation page."""
    from django.utils.translation import gettext as _

    lines = []
    for link in links:
        found = unlink_consequences(link)
        name = link.account.name
        for share in found["shares"]:
            lines.append(
                _("The audience “%(audience)s” disappears from %(account)s.")
                % {"audience": share.audience.name, "account": name}
            )
        for share in found["tag_shares"]:
            lines.append(
                _("The LINE Tag “%(tag)s” is no longer shared with %(account)s.")
                % {"tag": share.tag.name, "account": name}
            )
        for audience in found["own_audiences"]:
            lines.append(
                _("%(account)s's audience “%(audience)s” leaves the organization.")
                % {"audience": audience.name, "account": name}
            )
        for share in found["own_shares"]:
            lines.append(
                _("The share of “%(audience)s” to %(other)s ends (it disappears from %(other)s).")
                % {"audience": share.audience.name, "other": share.account.name}
            )
    return lines


def audience_check_name(
    *,
    name: str,
    organization_id: int | None,
    account_id: int | None = None,
    exclude_pk: int | None = None,
) -> str:
    """Return the trimmed name, or raise if it is empty, too long or already used by the owner
    (case-insensitively, as LINE compares audience names)."""
    name = (name or "").strip()
    if not name:
        raise AudienceError(_("An audience needs a name."))
    if len(name) > 120:
        raise AudienceError(_("An audience name has at most 120 characters."))
    owner = (
        {"source_account_id": account_id}
        if account_id
        else {"organization_id": organization_id, "source_account__isnull": True}
    )
    taken = Audience.objects.filter(name__iexact=name, **owner)
    if exclude_pk:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise AudienceError(
            _(
                "An audience named “%(name)s” already exists (names are compared "
                "without regard to case)."
            )
            % {"name": name}
        )
    return name


def audiences_for(user, action: Action = Action.VIEW) -> QuerySet[Audience]:
    return permissions.visible(user, Audience.objects.all(), action)


def organizations_where(user, action: Action) -> QuerySet[Organization]:
    return permissions.visible(
        user,
        Organization.objects.filter(status=Organization.Status.APPROVED),
        action,
        organization_path="pk",
    )


def upload_refusal(user) -> str:
    """Why ``user`` may not upload an audience, in words (the upload page and the audience list
    say it instead of a bare 403)."""
    from django.utils.translation import gettext as _

    from lbm.models import Membership

    memberships = list(
        Membership.objects.filter(user=user)
        .select_related("organization")
        .exclude(organization__status=Organization.Status.DELETED)
    )
    if not memberships:
        return _("You are not a member of any organization, so you cannot upload audiences.")
    lines = []
    for membership in memberships:
        organization = membership.organization
        if organization.status != Organization.Status.APPROVED:
            lines.append(
                _("“%(org)s” is not approved yet; audiences can be uploaded once LINE approves it.")
                % {"org": organization.name}
            )
        elif Action.CREATE_AUDIENCES not in permissions.ROLE_ACTIONS[membership.role]:
            lines.append(
                _(
                    "Your role in “%(org)s” is “%(role)s”: you may look at its audiences "
                    "but not upload them. Ask one of its Admins to change your role if "
                    "you need to."
                )
                % {"org": organization.name, "role": membership.get_role_display()}
            )
    return " ".join(lines) or _("Your role does not allow uploading audiences.")


def member_lines(audience: Audience, *, chunk: int = 20_000) -> Iterator[str]:
    """Every member identifier as stored, one line each, streamed in keyset-paginated chunks so
    that an export of millions of rows holds one chunk in memory."""
    for rows in _member_chunks(audience, chunk=chunk, sealed=False):
        yield "".join(f"{identifier}\n" for (identifier,) in rows)


def _member_chunks(audience: Audience, *, chunk: int, sealed: bool):
    fields = ("identifier", "sealed") if sealed else ("identifier",)
    last = ""
    while True:
        rows = list(
            AudienceMember.objects.filter(audience_id=audience.pk, identifier__gt=last)
            .order_by("identifier")
            .values_list(*fields)[:chunk]
        )
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def members_without_sealed_copy(audience: Audience) -> int:
    """Phone/e-mail members stored before sealed copies existed (none for other ID types)."""
    if audience.id_type not in (IdType.PHONE, IdType.EMAIL):
        return 0
    return AudienceMember.objects.filter(audience_id=audience.pk, sealed__isnull=True).count()


def export_lines(audience: Audience, *, chunk: int = 20_000) -> Iterator[str]:
    """The members as LINE exchanges them: lower-case hex SHA-256 for phone numbers and e-mail
    addresses (opened from their sealed copies), user IDs and IFAs as stored. Members without
    a sealed copy, or whose copy does not open under the current key, are left out (see
    ``members_without_sealed_copy``)."""
    from .importers import open_sealed

    if audience.id_type not in (IdType.PHONE, IdType.EMAIL):
        yield from member_lines(audience, chunk=chunk)
        return
    unopened = 0
    for rows in _member_chunks(audience, chunk=chunk, sealed=True):
        lines = []
        for identifier, sealed in rows:
            line_hash = open_sealed(identifier, sealed) if sealed is not None else None
            if line_hash is None:
                unopened += sealed is not None
                continue
            lines.append(f"{line_hash}\n")
        if lines:
            yield "".join(lines)
    if unopened:
        logger.error(
            "audience %s: %d sealed copies did not open (wrong PII_HASH_KEY?)",
            audience.pk,
            unopened,
        )


def sealed_copies_open(audience: Audience) -> bool:
    """Whether the audience's sealed copies open under the current PII_HASH_KEY (checked on
    one row; True when there is none)."""
    from .importers import open_sealed

    row = (
        AudienceMember.objects.filter(audience_id=audience.pk, sealed__isnull=False)
        .values_list("identifier", "sealed")
        .first()
    )
    return row is None or open_sealed(*row) is not None


def estimated_member_count() -> int | None:
    """PostgreSQL's estimate of the member table's rows (pg_class.reltuples), or None."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE relname = %s",
            ["audiences_audiencemember"],
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None


# --- Upload progress ---------------------------------------------------------------------------


# The cache keys of an upload's progress and of when it last moved; written by
# ``services.upload_progress_set`` (best effort: the row's status is in the database).
def progress_key(upload_id: int) -> str:
    return f"audiences:upload-progress:{upload_id}"


def moved_key(upload_id: int) -> str:
    return f"audiences:upload-moved:{upload_id}"


def upload_summary(upload: AudienceUpload) -> dict:
    """What a person reads before confirming an upload: how many IDs, how many new, how many
    the audience already has, and a few masked samples recomputed from the kept file (never
    stored, never logged; docs/audiences.md#uploading)."""
    from . import preview

    samples: list[str] = []
    if upload.file:
        try:
            with upload.file.open("rb") as handle:
                samples = preview.masked_samples(preview.read_head(handle), upload.id_type)
        except (FileNotFoundError, OSError):
            samples = []
    return {
        "count": upload.id_count,
        "new": upload.added_count,
        "existing": max(upload.id_count - upload.added_count, 0),
        "samples": samples,
        "id_type": upload.get_id_type_display(),
        "guessed": upload.id_type_guessed,
    }


def upload_status(upload: AudienceUpload, *, now=None) -> dict:
    """What the progress bar shows: status, percent, counts, and the error (no personal data);
    ``stalled`` (and ``next``: what happens now) when it waits for the queue or has not moved
    for a while (docs/reliability.md#imports-of-id-files)."""
    from django.utils import timezone

    from lbm import outbox

    from .services.uploads import UPLOAD_STALE_AFTER, UPLOAD_STALL_AFTER

    now = now or timezone.now()
    percent = upload.progress
    moved_at = upload.created_at
    if not upload.is_finished:
        try:
            cached = cache.get_many([progress_key(upload.pk), moved_key(upload.pk)])
            percent = max(percent, cached.get(progress_key(upload.pk), 0) or 0)
            if cached.get(moved_key(upload.pk)):
                moved_at = max(
                    moved_at, datetime.fromtimestamp(cached[moved_key(upload.pk)], tz=UTC)
                )
        except Exception:  # noqa: BLE001 - the cache unreachable: the row's progress stands
            logger.warning("upload %s: progress not read from the cache", upload.pk)
    stalled, next_step = False, ""
    if not upload.is_finished:
        deadline = timezone.localtime(upload.created_at + UPLOAD_STALE_AFTER)
        if upload.status == AudienceUpload.Status.QUEUED and outbox.waiting(
            "audiences.import_upload", upload_id=upload.pk
        ):
            stalled = True
            next_step = _(
                "The queue is unreachable; the import will start when it is back. "
                "If it has not finished by %(deadline)s it is stopped and you can "
                "upload the file again."
            ) % {"deadline": f"{deadline:%Y-%m-%d %H:%M}"}
        elif upload.status == AudienceUpload.Status.CHECKING and outbox.waiting(
            "audiences.check_upload", upload_id=upload.pk
        ):
            stalled = True
            next_step = _(
                "The queue is unreachable; the file will be checked when it is back. "
                "If it has not finished by %(deadline)s it is stopped and you can "
                "upload the file again."
            ) % {"deadline": f"{deadline:%Y-%m-%d %H:%M}"}
        elif (
            moved_at
            and now - moved_at > UPLOAD_STALL_AFTER
            and upload.status != AudienceUpload.Status.AWAITING
        ):  # waits for the person
            stalled = True
            next_step = _(
                "No progress for %(minutes)d minutes. The import is queued again "
                "automatically; if it has not finished by %(deadline)s it is stopped "
                "and you can upload the file again."
            ) % {
                "minutes": (now - moved_at).total_seconds() // 60,
                "deadline": f"{deadline:%Y-%m-%d %H:%M}",
            }
    return {
        "id": upload.pk,
        "status": upload.status,
        "status_display": str(_("Stalled")) if stalled else str(upload.get_status_display()),
        "progress": 100 if upload.status == AudienceUpload.Status.DONE else min(percent, 99),
        "finished": upload.is_finished,
        "stalled": stalled,
        "next": next_step,
        "id_count": upload.id_count,
        "added_count": upload.added_count,
        "error": upload.error,
        "audience_id": upload.audience_id,
    }


# What a page of an account's audiences shows of each (the LINE API's ``audience_group``).
PAGE_FIELDS = (
    "pk",
    "type",
    "name",
    "status",
    "size",
    "created_at",
    "create_route",
    "id_type",
    "source_account_id",
    "organization_id",
)
PageRow = namedtuple("PageRow", PAGE_FIELDS)
_PAGE_COLUMNS = ("id",) + PAGE_FIELDS[1:]


def filtered_audiences(queryset, name_contains: str = "", status: str = "", create_route: str = ""):
    """``queryset`` narrowed by the API list's filters: name contains (case-insensitive),
    status, create route; an empty filter is no filter."""
    if name_contains:
        queryset = queryset.filter(name__icontains=name_contains)
    if status:
        queryset = queryset.filter(status=status)
    if create_route:
        queryset = queryset.filter(create_route=create_route)
    return queryset


def audience_page(
    queryset,
    page: int,
    size: int,
    name_contains: str = "",
    status: str = "",
    create_route: str = "",
) -> tuple[list, int]:
    """One page of ``queryset`` (audiences) with the list's filters, newest first, and how many
    there are in all: one query (``COUNT(*) OVER ()``; a page past the end counts apart), rows
    as named tuples of ``PAGE_FIELDS``."""
    filtered = filtered_audiences(queryset, name_contains, status, create_route)
    rows = list(
        filtered.order_by("-created_at", "-pk")
        .annotate(total_count=Window(Count("pk")))
        .values_list(*PAGE_FIELDS, "total_count", named=True)[(page - 1) * size : page * size]
    )
    total = rows[0].total_count if rows else (filtered.count() if page > 1 else 0)
    return [PageRow(*row[:-1]) for row in rows], total


@functools.cache
def _page_sql(vendor: str, by_name: bool, by_status: bool, by_route: bool) -> tuple[str, str]:
    """``own_audience_page``'s two statements for one database and set of filters."""
    ops, quote = connection.ops, connection.ops.quote_name
    where = [f"{quote('source_account_id')} = %s"]
    if by_name:
        lhs = ops.lookup_cast("icontains", "CharField") % quote("name")
        where.append(f"{lhs} {connection.operators['icontains'] % '%s'}")
    where += [
        f"{quote(column)} = %s"
        for column, used in (("status", by_status), ("create_route", by_route))
        if used
    ]
    table, condition = quote(Audience._meta.db_table), " AND ".join(where)
    columns = ", ".join(quote(c) for c in _PAGE_COLUMNS)
    return (
        f"SELECT {columns}, COUNT(*) OVER () FROM {table} WHERE {condition}"
        f" ORDER BY {quote('created_at')} DESC, {quote('id')} DESC LIMIT %s OFFSET %s",
        f"SELECT COUNT(*) FROM {table} WHERE {condition}",
    )


def own_audience_page(
    *,
    account_id: int,
    page: int,
    size: int,
    name_contains: str = "",
    status: str = "",
    create_route: str = "",
) -> tuple[list[PageRow], int]:
    """``audience_page(Audience.objects.filter(source_account_id=account_id), …)`` as one
    prepared statement (the page and ``COUNT(*) OVER ()``): the API's list runs it on every
    call, and the ORM's compilation cost more than the query. The SQL's pieces for the name
    filter are the ORM's own (``icontains``); a test holds the two to the same rows."""
    params = [account_id]
    if name_contains:
        params.append(f"%{connection.ops.prep_for_like_query(name_contains)}%")
    params += [value for value in (status, create_route) if value]
    page_sql, count_sql = _page_sql(
        connection.vendor, bool(name_contains), bool(status), bool(create_route)
    )
    rows = hotsql.fetchall(page_sql, [*params, size, (page - 1) * size])
    if rows:
        total = rows[0][-1]
    elif page > 1:  # past the end: the window had no row to count on
        total = hotsql.fetchone(count_sql, params)[0]
    else:
        total = 0
    created = _PAGE_COLUMNS.index("created_at")
    return [
        PageRow(*row[:created], hotsql.aware(row[created]), *row[created + 1 : -1]) for row in rows
    ], total


# --- Insight ----------------------------------------------------------------------------------

# Insight never shows a number below this exactly, so that no figure singles out a person.
INSIGHT_MINIMUM = 50


def insight_number(count: int) -> int | None:
    """``count`` as insight may show it: ``None`` (shown as "under 50") below the minimum."""
    return count if count >= INSIGHT_MINIMUM else None


def audience_overlap(user, first: Audience, second: Audience) -> dict[str, int | None]:
    """How two audiences of the same organization overlap: members in both, in the first only
    and in the second only, counted in the database (three COUNTs over the member index).
    Audiences of the same ID type are compared by identifier, others through the LINE users
    they identify. Admins and Operators only (``SHARE_AUDIENCES``); counts under 50 are
    ``None``."""
    for audience in (first, second):
        permissions.require(user, Action.SHARE_AUDIENCES, audience)
    if first.organization_id != second.organization_id:
        raise permissions.NotAllowed("Both audiences must belong to the same organization.")
    if first.id_type == second.id_type:
        a = AudienceMember.objects.filter(audience_id=first.pk).values("identifier")
        b = AudienceMember.objects.filter(audience_id=second.pk).values("identifier")
        a_total, b_total = a.count(), b.count()
        both = a.filter(identifier__in=b).count()
    else:
        a, b = matched_users(first), matched_users(second)
        a_total, b_total = a.count(), b.count()
        both = a.filter(pk__in=b.values("pk")).count()
    return {
        "both": insight_number(both),
        "first_only": insight_number(a_total - both),
        "second_only": insight_number(b_total - both),
    }


def size_history(audience: Audience) -> list[dict]:
    """The audience's recorded sizes, oldest first, each as insight may show it (``None``
    under 50)."""
    return [
        {"at": at, "size": insight_number(size)}
        for at, size in AudienceSizeSnapshot.objects.filter(audience_id=audience.pk)
        .order_by("recorded_at", "pk")
        .values_list("recorded_at", "size")
    ]


def reachable_by_account(user, audience: Audience) -> list[dict]:
    """For each account linked to the audience's organization (other than its own), the
    audience's reachable part there (friends who have not blocked the account), counted now
    in the database, as insight may show it, with the thresholds it meets: 50 to send a
    message, 100 (of the audience's size) to be shared to an Official Account. Admins and
    Operators only."""
    from lbm.models import Account

    permissions.require(user, Action.SHARE_AUDIENCES, audience)
    if audience.organization_id is None:
        return []
    shared = set(
        AudienceShare.objects.filter(audience=audience).values_list("account_id", flat=True)
    )
    rows = []
    for account in (
        Account.objects.filter(pk__in=linked_account_ids(audience.organization_id))
        .exclude(pk=audience.source_account_id)
        .order_by("name")
    ):
        count = reachable_count(audience=audience, account_id=account.pk)
        rows.append(
            {
                "account": account,
                "reachable": insight_number(count),
                "shared": account.pk in shared,
                "can_send": count >= MIN_REACHABLE_TO_SEND,
                "meets_100": count >= MIN_SIZE_TO_SHARE_TO_OA,
                "usages": audience_usages(audience, account.kind),
            }
        )
    return rows


# --- The Messaging API's reads (api/views_audiences.py, notifications.services.narrowcast) ---

# How a channel may use an audience (``audience_usable_by_channel``): its account's own
# audience (made through the API or OA Manager: the source account) or one its organization
# shared with the account (Business Manager, an ``AudienceShare``).
OWN = "own"
SHARED = "shared"


def audience_by_id(audience_id: int, *, with_organization: bool = False) -> Audience | None:
    """The audience with that id, or None."""
    queryset = Audience.objects.filter(pk=audience_id)
    if with_organization:
        queryset = queryset.select_related("organization")
    return queryset.first()


def audience_usable_by_channel(
    *, account_id: int, audience: Audience, via: tuple[str, ...] = (OWN, SHARED)
) -> bool:
    """May the channel of ``account_id`` use ``audience`` in one of the ways ``via`` lists
    (``OWN``, ``SHARED``)? The one rule the API's audience endpoints (own: ``OWN``; shared:
    ``SHARED``) and the narrowcast (either) apply; at most one query
    (docs/api.md#audiences-a-channel-may-use)."""
    if OWN in via and audience.source_account_id == account_id:
        return True
    return (
        SHARED in via
        and AudienceShare.objects.filter(audience_id=audience.pk, account_id=account_id).exists()
    )


def audiences_shared_with(account_id: int, *, include_own: bool = False) -> QuerySet[Audience]:
    """Audiences the account's organization shares with it (Business Manager), and with
    ``include_own`` the account's own audiences as well."""
    shared = AudienceShare.objects.filter(account_id=account_id).values("audience_id")
    if not include_own:
        return Audience.objects.filter(pk__in=shared)
    from django.db.models import Q

    return Audience.objects.filter(Q(pk__in=shared) | Q(source_account_id=account_id))
