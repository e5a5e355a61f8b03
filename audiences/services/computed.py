"""Audiences whose members are computed in the database: combined (AND / OR / AND NOT), web
traffic (LINE Tag events) and lookalike (docs/audiences.md#lookalike-audiences). Each member set
is the SELECT half of one ``INSERT ... SELECT``; nothing is read into Python."""

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from lbm.models import Account

from .. import importers, selectors
from ..exceptions import AudienceError
from ..models import (
    LOOKALIKE_MAX_PERCENT,
    LOOKALIKE_MIN_PERCENT,
    Audience,
    AudienceComponent,
    AudienceMember,
    Friendship,
    IdType,
    LineTag,
    TagEvent,
    Usage,
)
from ._base import _after_created, _new_audience, _owner, _record

MEMBER_TABLE = importers.MEMBER_TABLE


def _insert_members(audience_id: int, queryset) -> None:
    """INSERT ... SELECT the identifiers ``queryset`` yields (one statement, in the database)."""
    from django.core.exceptions import EmptyResultSet

    try:
        sql, params = queryset.query.sql_with_params()
    except EmptyResultSet:  # e.g. a lookalike sized 0: nothing to insert
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {MEMBER_TABLE} (audience_id, identifier) "
            f"SELECT %s, q.identifier FROM ({sql}) q",
            [audience_id, *params],
        )


def _combined_members(audience: Audience):
    ids = list(
        AudienceComponent.objects.filter(combined=audience)
        .order_by("position")
        .values_list("component_id", flat=True)
    )
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
    lookup = {"equals": "url", "contains": "url__contains", "starts_with": "url__startswith"}.get(
        audience.url_match
    )
    if lookup:
        events = events.filter(**{lookup: audience.url_value})
    from ..models import LineUser

    return (
        LineUser.objects.filter(pk__in=events.values("line_user_id"))
        .values("user_id")
        .annotate(identifier=F("user_id"))
        .values("identifier")
    )


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
        if not selectors.lookalike_source_available(audience):
            return audience  # the source left the account: the members stay as they were
        members = _lookalike_members(audience)
    else:
        return audience
    AudienceMember.objects.filter(audience_id=audience.pk).delete()
    _insert_members(audience.pk, members)
    audience.size = AudienceMember.objects.filter(audience_id=audience.pk).count()
    audience.status = Audience.Status.READY
    audience.version += 1
    _record(
        audience, actor=None, reason=_("Recomputed: %(size)d members") % {"size": audience.size}
    )
    audience.save(update_fields=["size", "status", "version", "updated_at"])
    return audience


@transaction.atomic
def audience_combine(
    *,
    actor,
    organization_id: int,
    name: str,
    operator: str,
    component_ids: list[int],
    description: str = "",
) -> Audience:
    """A new audience from others with AND / OR / AND NOT (the first minus the others), computed
    with set operations in the database."""
    organization, _account = _owner(actor=actor, organization_id=organization_id, account_id=None)
    if operator not in Audience.Operator.values:
        raise AudienceError(_("Choose AND, OR or AND NOT."))
    if len(component_ids) < 2 or len(set(component_ids)) != len(component_ids):
        raise AudienceError(_("Choose at least two different audiences to combine."))
    name = selectors.audience_check_name(name=name, organization_id=organization.pk)
    components = {
        a.pk: a for a in Audience.objects.filter(pk__in=component_ids, organization=organization)
    }
    if len(components) != len(component_ids):
        raise AudienceError(_("Every audience combined must belong to the organization."))
    id_types = {a.id_type for a in components.values()}
    if len(id_types) != 1:
        raise AudienceError(
            _(
                "Audiences of different ID types (e.g. phone numbers and user "
                "IDs) cannot be combined."
            )
        )
    if any(a.status != Audience.Status.READY for a in components.values()):
        raise AudienceError(_("Every audience combined must be ready."))
    audience = _new_audience(
        organization=organization,
        account=None,
        name=name,
        audience_type=Audience.Type.COMBINED,
        id_type=id_types.pop(),
        actor=actor,
        description=description,
        operator=operator,
    )
    AudienceComponent.objects.bulk_create(
        AudienceComponent(combined=audience, component_id=pk, position=i)
        for i, pk in enumerate(component_ids)
    )
    audience = audience_rebuild(audience_id=audience.pk)
    _after_created(audience)
    return audience


def _lookalike_members(audience: Audience):
    """The account's reachable users who are not in the source, most alike first: ranked by
    how many of the source's members came to the account by the same friend path, then by
    user (stable). At most ``selectors.lookalike_target_size`` of them; one query in the
    database."""
    from django.db.models import Count, IntegerField, OuterRef, Subquery, Value
    from django.db.models.functions import Coalesce

    account_id = audience.source_account_id
    source_users = selectors.matched_users(audience.lookalike_source).values("pk")
    alike = (
        Friendship.objects.filter(
            account_id=account_id, line_user__in=source_users, friend_path=OuterRef("friend_path")
        )
        .order_by()
        .values("friend_path")
        .annotate(n=Count("pk"))
        .values("n")
    )
    target = selectors.lookalike_target_size(
        account_id=account_id, percent=audience.lookalike_percent
    )
    return (
        Friendship.objects.filter(account_id=account_id, state__in=Friendship.REACHABLE)
        .exclude(line_user__in=source_users)
        .annotate(
            weight=Coalesce(Subquery(alike, output_field=IntegerField()), Value(0)),
            identifier=F("line_user__user_id"),
        )
        .order_by("-weight", "line_user_id")
        .values("identifier")[:target]
    )


@transaction.atomic
def audience_lookalike_create(
    *, actor, account_id: int, source_id: int, name: str, percent: int, description: str = ""
) -> Audience:
    """A lookalike audience on a LAP ad account: users like those of ``source`` (the account's
    own audience or one shared to it, of a type that may be a lookalike source,
    docs/audiences.md#lookalike-audiences), sized ``percent`` (1–15) % of the account's
    reachable users. It is the account's audience, in
    the organization, and may be used on LAP ad accounts only."""
    account = Account.objects.get(pk=account_id)
    if account.kind != Account.Kind.LAP:
        raise AudienceError(_("A lookalike audience is made on a LAP ad account."))
    source = Audience.objects.select_related("organization").get(pk=source_id)
    if source.organization_id is None:
        raise AudienceError(_("The source audience does not belong to an organization."))
    organization, account = _owner(
        actor=actor, organization_id=source.organization_id, account_id=account.pk
    )
    if not isinstance(percent, int) or not (
        LOOKALIKE_MIN_PERCENT <= percent <= LOOKALIKE_MAX_PERCENT
    ):
        raise AudienceError(
            _("A lookalike audience is %(min)d%% to %(max)d%% of the account's reachable users.")
            % {"min": LOOKALIKE_MIN_PERCENT, "max": LOOKALIKE_MAX_PERCENT}
        )
    if Usage.LOOKALIKE not in selectors.audience_usages(source, Account.Kind.LAP):
        raise AudienceError(
            _("%(type)s audiences cannot be the source of a lookalike audience.")
            % {"type": source.get_type_display()}
        )
    if source.status != Audience.Status.READY:
        raise AudienceError(_("The source audience must be ready."))
    probe = Audience(organization=organization, source_account=account, lookalike_source=source)
    if not selectors.lookalike_source_available(probe):
        raise AudienceError(
            _(
                "Share “%(source)s” to %(account)s first: a lookalike is made "
                "from an audience the account can use."
            )
            % {"source": source.name, "account": account.name}
        )
    name = selectors.audience_check_name(
        name=name, organization_id=organization.pk, account_id=account.pk
    )
    audience = _new_audience(
        organization=organization,
        account=account,
        name=name,
        audience_type=Audience.Type.LOOKALIKE,
        id_type=IdType.USER_ID,
        actor=actor,
        description=description,
        lookalike_source=source,
        lookalike_percent=percent,
    )
    return audience_rebuild(audience_id=audience.pk)


@transaction.atomic
def audience_web_traffic_create(
    *,
    actor,
    organization_id: int,
    name: str,
    tag_id: int,
    event: str = "",
    retention_days: int = 30,
    description: str = "",
    url_match: str = "",
    url_value: str = "",
) -> Audience:
    organization, _account = _owner(actor=actor, organization_id=organization_id, account_id=None)
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
    name = selectors.audience_check_name(name=name, organization_id=organization.pk)
    audience = _new_audience(
        organization=organization,
        account=None,
        name=name,
        audience_type=Audience.Type.WEB_TRAFFIC,
        id_type="user_id",
        actor=actor,
        description=description,
        line_tag=tag,
        tag_event=event.strip(),
        retention_days=retention_days,
        url_match=url_match,
        url_value=url_value,
    )
    audience = audience_rebuild(audience_id=audience.pk)
    _after_created(audience)
    return audience
