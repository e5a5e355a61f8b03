"""Who may do what: the one place that reads a role or builds a permission string.

Customers' rights come from their role in an organization (docs/permissions.md), read from the
membership at check time through ``ROLE_ACTIONS`` (one indexed look-up, nothing copied that could
fall behind the table). Staff rights (LINE reviewers and account managers) are global
Django permissions held through two groups. Objects that belong to an organization (members,
account links, later audiences) are judged by their organization's permissions.

Two neighbours use these checks and are re-exported here (lazily, as they import this module):
``lbm.admin_gates`` (which right each admin URL needs: ``Gate``, ``admin_gate`` …) and
``lbm.staff_groups`` (creating the staff groups: ``ensure_staff_groups``).
"""

from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils.translation import gettext as _

from .exceptions import NotAllowed


class Action(StrEnum):
    VIEW = "view_organization"
    CHANGE = "change_organization"  # rename, business information, settings
    DELETE = "delete_organization"
    MANAGE_MEMBERS = "manage_members"
    MANAGE_LINKS = "manage_links"
    CREATE_AUDIENCES = "create_audiences"
    SHARE_AUDIENCES = "share_audiences"
    EXPORT_AUDIENCES = "export_audiences"  # members as hashes; Admins only (personal data)
    # Notification messages (LON) of the Official Accounts linked to the organization.
    MANAGE_NOTIFICATIONS = "manage_notifications"  # applications, templates
    EXPORT_NOTICES = "export_notices"  # failed notices with their phone hashes; Admins only
    REVIEW_ORGANIZATIONS = "review_organization"
    REVIEW_LINKS = "review_accountlink"
    REVIEW_NOTIFICATIONS = "review_notifications"  # LON applications and templates
    MANAGE_ACCOUNTS = "manage_accounts"


# The role matrix (docs/organizations.md#roles). Each role holds all of the roles below it and more.
ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    "viewer": frozenset({Action.VIEW}),
    "operator_data": frozenset({Action.VIEW, Action.CREATE_AUDIENCES}),
    "operator": frozenset(
        {Action.VIEW, Action.CREATE_AUDIENCES, Action.SHARE_AUDIENCES, Action.MANAGE_NOTIFICATIONS}
    ),
    "admin": frozenset(
        {
            Action.VIEW,
            Action.CREATE_AUDIENCES,
            Action.SHARE_AUDIENCES,
            Action.MANAGE_NOTIFICATIONS,
            Action.EXPORT_AUDIENCES,
            Action.EXPORT_NOTICES,
            Action.MANAGE_LINKS,
            Action.MANAGE_MEMBERS,
            Action.CHANGE,
            Action.DELETE,
        }
    ),
}

ORGANIZATION_ACTIONS = frozenset(ROLE_ACTIONS["admin"])
STAFF_ACTIONS = frozenset(
    {
        Action.REVIEW_ORGANIZATIONS,
        Action.REVIEW_LINKS,
        Action.REVIEW_NOTIFICATIONS,
        Action.MANAGE_ACCOUNTS,
    }
)
# Actions that still make sense on a deleted organization: looking at it.
DELETED_ORG_ACTIONS = frozenset({Action.VIEW})

REVIEWERS_GROUP = "LINE reviewers"
ACCOUNT_MANAGERS_GROUP = "LINE account managers"
STAFF_GROUP_PERMISSIONS = {
    REVIEWERS_GROUP: [
        "lbm.review_organization",
        "lbm.review_accountlink",
        "lbm.view_organization",
        "lbm.view_organizationreview",
        "lbm.view_accountlink",
        "lbm.view_accountlinkreview",
        "lbm.view_account",
        "lbm.view_provider",
        "lbm.view_membership",
        "lbm.review_notifications",
    ],
    ACCOUNT_MANAGERS_GROUP: [
        "lbm.manage_accounts",
        "lbm.view_account",
        "lbm.add_account",
        "lbm.change_account",
        "lbm.view_provider",
        "lbm.add_provider",
        "lbm.change_provider",
        "lbm.view_organization",
        "lbm.view_accountlink",
        "lbm.view_membership",
        "lbm.view_channel",
        "lbm.change_channel",
        "lbm.view_channelaccesstoken",
        "lbm.change_channelaccesstoken",
    ],
}


def _organization_of(obj) -> "models.Model | None":
    """The organization whose roles decide about ``obj``: itself, its ``organization``, or for an
    object of an account (``obj.account``, or an Account) the organization the account is linked
    to (approved link)."""
    from .models import Account, AccountLink, Organization

    if obj is None:
        return None
    if isinstance(obj, Organization):
        return obj
    if hasattr(obj, "organization_id") or "organization" in type(obj).__dict__:
        return getattr(obj, "organization", None)
    account = obj if isinstance(obj, Account) else getattr(obj, "account", None)
    if isinstance(account, Account):
        link = (
            AccountLink.objects.filter(account=account, status=AccountLink.Status.APPROVED)
            .select_related("organization")
            .first()
        )
        return link.organization if link else None
    return None


def _global_perm(action: Action) -> str:
    return f"lbm.{action.value}"


@dataclass(frozen=True)
class Decision:
    """``explain``'s answer: whether the action is allowed, and why, in the reader's language."""

    allowed: bool
    reason: str

    def __bool__(self) -> bool:
        return self.allowed


def _role_label(role: str) -> str:
    from .models import MemberRole

    return str(MemberRole(role).label) if role in MemberRole.values else role


def can(user, action: Action, obj=None) -> bool:
    """Whether ``user`` may do ``action`` on ``obj`` (an organization or one of its objects).

    With ``obj=None`` the question is "anywhere at all?", which the admin asks to decide whether
    to show a page or a button. Staff act through global permissions; customers through object
    permissions on the organization. Nothing but viewing is allowed on a deleted organization.
    The answer is ``explain``'s, so the explanation page can never disagree with a check.
    """
    return explain(user, action, obj).allowed


def explain(user, action: Action, obj=None) -> Decision:
    """``can``'s answer with its reason: the role, the agency access and its limits, the
    organization's state or the staff permission that decided (docs/permissions.md)."""
    if user is None or not user.is_authenticated or not user.is_active:
        return Decision(False, _("Not signed in, or the user is inactive."))
    organization = _organization_of(obj)
    if organization is not None and organization.is_deleted and action not in DELETED_ORG_ACTIONS:
        return Decision(False, _("The organization is deleted: nothing but viewing is possible."))
    if user.is_superuser:
        return Decision(True, _("Superuser: holds every right."))
    perm = _global_perm(action)
    if user.is_staff and user.has_perm(perm):
        return Decision(True, _("LINE staff permission “%(perm)s”.") % {"perm": perm})
    if action in STAFF_ACTIONS or action not in ORGANIZATION_ACTIONS:
        return Decision(
            False, _("Only LINE staff with the permission “%(perm)s” may do this.") % {"perm": perm}
        )
    if obj is None:
        if _role_actions_anywhere(user, action):
            return Decision(True, _("A role in at least one organization grants this."))
        return Decision(False, _("No role in any organization grants this."))
    if organization is None or organization.pk is None:
        return Decision(False, _("This belongs to no organization."))
    role = _role_in(user, organization)
    if role:  # the organization's own member: their role decides, never an agency's access
        if action in ROLE_ACTIONS.get(role, frozenset()):
            return Decision(
                True, _("The role “%(role)s” grants this.") % {"role": _role_label(role)}
            )
        return Decision(
            False, _("The role “%(role)s” does not grant this.") % {"role": _role_label(role)}
        )
    grants = _agency_grants(user, organization)
    if grants:
        return _agency_decision(grants, action, obj)
    return Decision(False, _("Not a member of this organization, and no agency access to it."))


# What agency access never grants, whatever its role (docs/organizations.md#agencies): the
# organization itself, its members, its links and exports of personal data stay the client's.
AGENCY_NEVER = frozenset(
    {
        Action.CHANGE,
        Action.DELETE,
        Action.MANAGE_MEMBERS,
        Action.MANAGE_LINKS,
        Action.EXPORT_AUDIENCES,
        Action.EXPORT_NOTICES,
    }
)


@dataclass(frozen=True)
class AgencyGrant:
    """One active agency access of the user to an organization, as read at check time."""

    agency: str
    role: str
    accounts: "frozenset[int] | None"  # None: every linked account of the client


def _account_of(obj):
    """The linked account an object belongs to, if any (itself, ``account``, ``source_account``,
    or its audience's source account)."""
    from .models import Account

    if isinstance(obj, Account):
        return obj
    for name in ("account", "source_account"):
        value = getattr(obj, name, None) if hasattr(type(obj), name) else None
        if isinstance(value, Account):
            return value
    audience = getattr(obj, "audience", None) if hasattr(type(obj), "audience") else None
    if audience is not None and audience is not obj:
        return _account_of(audience)
    return None


def _agency_decision(grants, action: Action, obj) -> Decision:
    names = "、".join(sorted({g.agency for g in grants}))
    if action in AGENCY_NEVER:
        return Decision(
            False, _("Agency access (%(agency)s) never grants this.") % {"agency": names}
        )
    holding = [g for g in grants if action in ROLE_ACTIONS.get(g.role, frozenset())]
    if not holding:
        roles = "、".join(sorted({_role_label(g.role) for g in grants}))
        return Decision(
            False,
            _("The agency access role “%(role)s” (%(agency)s) does not grant this.")
            % {"role": roles, "agency": names},
        )
    account = _account_of(obj)
    if account is not None and account.pk is not None:
        holding = [g for g in holding if g.accounts is None or account.pk in g.accounts]
        if not holding:
            return Decision(
                False,
                _(
                    "The account “%(account)s” is not among the accounts of "
                    "the agency access (%(agency)s)."
                )
                % {"account": account.name, "agency": names},
            )
    grant = holding[0]
    return Decision(
        True,
        _("Agency access of %(agency)s as “%(role)s”.")
        % {"agency": grant.agency, "role": _role_label(grant.role)},
    )


def active_agency_access(user, now=None):
    """The agency access through which ``user`` works now: active, within its period, the user
    assigned as a member of the agency, both organizations live. Read at every check, so an end
    or an expiry takes every right away at once."""
    from django.db.models import F
    from django.utils import timezone

    from .models import AgencyAccess

    now = now or timezone.now()
    live = _live_statuses()
    return AgencyAccess.objects.filter(
        status=AgencyAccess.Status.ACTIVE,
        starts_at__lte=now,
        ends_at__gt=now,
        assignments__membership__user=user,
        assignments__membership__organization_id=F("agency_id"),
        agency__status__in=live,
        client__status__in=live,
    )


def _agency_grants(user, organization) -> list[AgencyGrant]:
    cache = user.__dict__.setdefault("_lbm_agency", {})
    if organization.pk not in cache:
        grants = []
        for access in (
            active_agency_access(user)
            .filter(client_id=organization.pk)
            .select_related("agency")
            .prefetch_related("accounts")
        ):
            ids = frozenset(a.pk for a in access.accounts.all())
            grants.append(
                AgencyGrant(agency=access.agency.name, role=access.role, accounts=ids or None)
            )
        cache[organization.pk] = grants
    return cache[organization.pk]


def _role_in(user, organization) -> "str | None":
    from .models import Membership

    cache = user.__dict__.setdefault("_lbm_org_roles", {})
    if organization.pk not in cache:
        cache[organization.pk] = (
            Membership.objects.filter(user=user, organization_id=organization.pk)
            .values_list("role", flat=True)
            .first()
        )
    return cache[organization.pk]


def require(user, action: Action, obj=None) -> None:
    """Raise ``NotAllowed`` unless ``can(user, action, obj)``."""
    if not can(user, action, obj):
        raise NotAllowed(_("You do not have permission to do this."))


def staff_may(user, perm: str) -> bool:
    """A LINE staff member's global permission ``"app.codename"`` (superusers hold all). The
    apps' staff-only pages and services ask this rather than reading permissions themselves."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or (user.is_staff and user.has_perm(perm))


def require_staff(user, perm: str) -> None:
    """Raise ``NotAllowed`` unless ``staff_may(user, perm)``."""
    if not staff_may(user, perm):
        raise NotAllowed(_("You do not have permission to do this."))


def roles_with(action: Action) -> list[str]:
    """The roles of ``ROLE_ACTIONS`` that grant ``action``."""
    return [role for role, actions in ROLE_ACTIONS.items() if action in actions]


def actions_on(user, organization) -> frozenset[Action]:
    """The organization actions the user's role there, or their agency access to it, grants
    (cached per request; account limits of agency access are judged per object by ``explain``).

    Read from the membership's role at check time, never from a stored copy, so a change to
    ``ROLE_ACTIONS`` reaches every existing member at once (docs/permissions.md)."""
    role = _role_in(user, organization)
    actions = ROLE_ACTIONS.get(role, frozenset())
    for grant in () if role else _agency_grants(user, organization):
        actions = actions | (ROLE_ACTIONS.get(grant.role, frozenset()) - AGENCY_NEVER)
    return actions


def _rights(user) -> tuple[tuple[int, str, bool], ...]:
    """(organization id, role, through agency access) of each live organization where the user
    is a member and each client of their active agency access: one query per user, then cached
    on the user object for the request (``forget_rights`` clears it). The roles are kept, not
    the rights, so a change to ``ROLE_ACTIONS`` applies at once (docs/permissions.md)."""
    from .models import Membership

    cache = user.__dict__.get("_lbm_rights")
    if cache is None:
        rows = (
            Membership.objects.filter(user=user, organization__status__in=_live_statuses())
            .order_by()
            .annotate(by_agency=models.Value(False))
            .values_list("organization_id", "role", "by_agency")
            .union(
                active_agency_access(user)
                .order_by()
                .annotate(by_agency=models.Value(True))
                .values_list("client_id", "role", "by_agency")
            )
        )
        cache = user.__dict__["_lbm_rights"] = tuple(rows)
    return cache


def _role_actions_anywhere(user, action: Action) -> bool:
    """Whether the user's role in any live organization, or an active agency access, grants
    ``action``."""
    return any(
        action in ROLE_ACTIONS.get(role, frozenset()) - (AGENCY_NEVER if agency else frozenset())
        for _org, role, agency in _rights(user)
    )


def _member_organizations(user, action: Action) -> list[int]:
    """The ids of the live organizations where the user's own role grants ``action``: a short
    list (a person belongs to a few organizations), inlined into the visibility filters so the
    planner estimates a large organization's rows from its statistics for that id
    (docs/permissions.md#visibility-at-scale)."""
    return sorted(
        {
            org
            for org, role, agency in _rights(user)
            if not agency and action in ROLE_ACTIONS.get(role, frozenset())
        }
    )


def _live_statuses() -> list[str]:
    from .models import Organization

    return [s for s in Organization.Status.values if s != Organization.Status.DELETED]


def _works_as_agency(user, action: Action) -> bool:
    """Whether an active agency access of the user grants ``action``. Most customers hold none:
    their visibility filters then keep only their own organizations, instead of an OR of
    branches that reads every account link (docs/permissions.md#visibility-at-scale)."""
    if action in AGENCY_NEVER:
        return False
    return any(
        agency and action in ROLE_ACTIONS.get(role, ()) for _o, role, agency in _rights(user)
    )


def _agency_access_for(user, action: Action):
    """The user's active agency access whose role grants ``action`` (a queryset)."""
    from .models import AgencyAccess

    if action in AGENCY_NEVER:
        return AgencyAccess.objects.none()
    return active_agency_access(user).filter(role__in=roles_with(action))


def organization_ids(user, action: Action = Action.VIEW):
    """The ids of the live organizations where ``user``'s role, or their agency access, grants
    ``action``: a list when they work through no agency access, else a subquery."""
    from .models import Organization

    members = _member_organizations(user, action)
    if not _works_as_agency(user, action):
        return members
    agency = _agency_access_for(user, action).values("client_id")
    return Organization.objects.filter(
        models.Q(pk__in=members) | models.Q(pk__in=agency), status__in=_live_statuses()
    ).values("pk")


def _account_ids(user, action: Action, statuses=None):
    """A subquery of the ids of the accounts linked to organizations where ``user`` may do
    ``action``: every account of their own organizations, and of a client only those its agency
    access is limited to (or all of them when it is not limited)."""
    from .models import AccountLink, AgencyAccessAccount

    statuses = statuses or [AccountLink.Status.APPROVED]
    members = _member_organizations(user, action)
    reach = models.Q(organization_id__in=members)
    if _works_as_agency(user, action):
        access = _agency_access_for(user, action)
        unlimited = access.filter(accounts__isnull=True).values("client_id")
        chosen = AgencyAccessAccount.objects.filter(access__in=access.values("pk")).values(
            "account_id"
        )
        reach |= models.Q(organization_id__in=unlimited) | (
            models.Q(organization_id__in=access.values("client_id"))
            & models.Q(account_id__in=chosen)
        )
    return AccountLink.objects.filter(reach, status__in=statuses).values("account_id")


def _account_path_for(model, organization_path: str) -> "str | None":
    """The lookup from ``model`` to the linked account its rows belong to, next to its
    organization (``account`` or ``source_account``), if it has one."""
    from .models import Account

    *prefix, _last = organization_path.split("__")
    target = model
    for name in prefix:
        try:
            target = target._meta.get_field(name).related_model
        except FieldDoesNotExist:  # an unusual path: no account limit applies
            return None
        if target is None:
            return None
    for name in ("account", "source_account"):
        try:
            field = target._meta.get_field(name)
        except FieldDoesNotExist:
            continue
        if getattr(field, "related_model", None) is Account and not field.many_to_many:
            return "__".join([*prefix, name])
    return None


def sees_everything(user, model) -> bool:
    """Staff with the model's global view permission (and superusers) see every row."""
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    opts = model._meta
    return user.is_staff and user.has_perm(f"{opts.app_label}.view_{opts.model_name}")


def visible(
    user,
    queryset: models.QuerySet,
    action: Action = Action.VIEW,
    organization_path: str | None = None,
    account_path: str | None = None,
) -> models.QuerySet:
    """``queryset`` narrowed to the rows ``user`` may see (or act on with ``action``).

    ``organization_path`` is the lookup from the model to its organization (``"pk"`` for
    organizations, ``"organization"`` by default). For rows that belong to an account rather
    than an organization, ``account_path`` (e.g. ``"account"``) narrows them to accounts linked
    (approved) to the user's organizations. The filter is subqueries on the ids of the user's
    few organizations, read once per request, never a query per row
    (docs/permissions.md#visibility-at-scale).
    """
    from .models import Account, Organization

    model = queryset.model
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if action == Action.VIEW and sees_everything(user, model):
        return queryset
    if user.is_superuser or (user.is_staff and user.has_perm(_global_perm(action))):
        return queryset
    if action not in ORGANIZATION_ACTIONS:
        return queryset.none()
    if not _works_as_agency(user, action) and not _member_organizations(user, action):
        return queryset.none()  # no organization of theirs grants it, nor any agency access
    ids = organization_ids(user, action)
    if account_path is not None:
        return queryset.filter(**{f"{account_path}__in": _account_ids(user, action)})
    if issubclass(model, Organization):
        return queryset.filter(pk__in=ids)
    if issubclass(model, Account):
        from .models import AccountLink

        return queryset.filter(pk__in=_account_ids(user, action, list(AccountLink.ACTIVE)))
    path = organization_path or "organization"
    narrowed = queryset.filter(**{f"{path}__in": ids})
    linked = _account_path_for(model, path)
    if linked is None or not _works_as_agency(user, action):
        # Without agency access every visible row is in one of the user's own organizations,
        # where no account limit applies.
        return narrowed
    # Rows of a client's accounts that the user's agency access leaves out are invisible.
    members = _member_organizations(user, action)
    return narrowed.filter(
        models.Q(**{f"{path}__in": members})
        | models.Q(**{f"{linked}__isnull": True})
        | models.Q(**{f"{linked}__in": _account_ids(user, action, ["pending", "approved"])})
    )


def grant_role(membership) -> None:
    """The member's rights follow their role from now on: rights are read from the role at
    check time (``actions_on``), so this only forgets what this request had cached."""
    forget_rights(membership.user)


def forget_rights(user) -> None:
    """Forget the rights cached on ``user`` for this request (after a role or an agency access
    changed)."""
    for key in ("_lbm_org_roles", "_lbm_agency", "_lbm_rights"):
        user.__dict__.pop(key, None)


def revoke_role(membership) -> None:
    grant_role(membership)


# --- Official Account administrators (billing self-service; docs/billing.md) ------------------
# A right of its own on one Official Account, never derived from an organization role.

ACCOUNT_ADMIN_GRANT_PERM = "billing.change_subscription"  # account managers grant it


def is_account_administrator(user, account_id: int) -> bool:
    """Whether ``user`` is an administrator of the Official Account ``account_id``."""
    from billing.models import AccountAdministrator

    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return AccountAdministrator.objects.filter(account_id=account_id, user=user).exists()


def administered_account_ids(user) -> list[int]:
    from billing.models import AccountAdministrator

    if user is None or not user.is_authenticated or not user.is_active:
        return []
    return list(AccountAdministrator.objects.filter(user=user).values_list("account_id", flat=True))


def may_grant_account_administrator(user, account_id: int) -> bool:
    """An account manager, or an existing administrator of that account."""
    return staff_may(user, ACCOUNT_ADMIN_GRANT_PERM) or is_account_administrator(user, account_id)


def require_account_administrator(user, account_id: int) -> None:
    if not is_account_administrator(user, account_id):
        raise NotAllowed(_("Only an administrator of this Official Account may do this."))
