"""Who may do what: the one place that reads a role or builds a permission string.

Customers' rights come from their role in an organization (docs/permissions.md), stored as
django-guardian object permissions on the organization in a direct foreign-key table, so that a
check is one indexed look-up. Staff rights (LINE reviewers and account managers) are global
Django permissions held through two groups. Objects that belong to an organization (members,
account links, later audiences) are judged by their organization's permissions.
"""

from enum import Enum

from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils.translation import gettext as _

from .exceptions import NotAllowed


class Action(str, Enum):
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
    "operator": frozenset({Action.VIEW, Action.CREATE_AUDIENCES, Action.SHARE_AUDIENCES,
                           Action.MANAGE_NOTIFICATIONS}),
    "admin": frozenset({Action.VIEW, Action.CREATE_AUDIENCES, Action.SHARE_AUDIENCES,
                        Action.MANAGE_NOTIFICATIONS, Action.EXPORT_AUDIENCES,
                        Action.EXPORT_NOTICES, Action.MANAGE_LINKS, Action.MANAGE_MEMBERS,
                        Action.CHANGE, Action.DELETE}),
}
# Ranked so that "one step too low" is well defined: higher number, more rights.
ROLE_RANK = {"viewer": 0, "operator_data": 1, "operator": 2, "admin": 3}

ORGANIZATION_ACTIONS = frozenset(ROLE_ACTIONS["admin"])
STAFF_ACTIONS = frozenset({Action.REVIEW_ORGANIZATIONS, Action.REVIEW_LINKS,
                           Action.REVIEW_NOTIFICATIONS, Action.MANAGE_ACCOUNTS})
# Actions that still make sense on a deleted organization: looking at it.
DELETED_ORG_ACTIONS = frozenset({Action.VIEW})

REVIEWERS_GROUP = "LINE reviewers"
ACCOUNT_MANAGERS_GROUP = "LINE account managers"
STAFF_GROUP_PERMISSIONS = {
    REVIEWERS_GROUP: [
        "lbm.review_organization", "lbm.review_accountlink",
        "lbm.view_organization", "lbm.view_organizationreview", "lbm.view_accountlink",
        "lbm.view_accountlinkreview", "lbm.view_account", "lbm.view_provider",
        "lbm.view_membership", "lbm.review_notifications",
    ],
    ACCOUNT_MANAGERS_GROUP: [
        "lbm.manage_accounts", "lbm.view_account", "lbm.add_account", "lbm.change_account",
        "lbm.view_provider", "lbm.add_provider", "lbm.change_provider",
        "lbm.view_organization", "lbm.view_accountlink", "lbm.view_membership",
        "lbm.view_channel", "lbm.change_channel", "lbm.view_channelaccesstoken",
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
        link = (AccountLink.objects.filter(account=account, status=AccountLink.Status.APPROVED)
                .select_related("organization").first())
        return link.organization if link else None
    return None


def _global_perm(action: Action) -> str:
    return f"lbm.{action.value}"


def can(user, action: Action, obj=None) -> bool:
    """Whether ``user`` may do ``action`` on ``obj`` (an organization or one of its objects).

    With ``obj=None`` the question is "anywhere at all?", which the admin asks to decide whether
    to show a page or a button. Staff act through global permissions; customers through object
    permissions on the organization. Nothing but viewing is allowed on a deleted organization.
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    organization = _organization_of(obj)
    if organization is not None and organization.is_deleted and action not in DELETED_ORG_ACTIONS:
        return False
    if user.is_superuser:
        return True
    if user.is_staff and user.has_perm(_global_perm(action)):
        return True
    if action in STAFF_ACTIONS or action not in ORGANIZATION_ACTIONS:
        return False
    if obj is None:
        return _role_actions_anywhere(user, action)
    if organization is None or organization.pk is None:
        return False
    return action in actions_on(user, organization)


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


def actions_on(user, organization) -> frozenset[Action]:
    """The organization actions the user's object permissions grant (one query, cached)."""
    from .models import OrganizationUserObjectPermission

    cache = user.__dict__.setdefault("_lbm_org_actions", {})
    if organization.pk not in cache:
        codenames = OrganizationUserObjectPermission.objects.filter(
            user=user, content_object_id=organization.pk
        ).values_list("permission__codename", flat=True)
        cache[organization.pk] = frozenset(Action(c) for c in codenames
                                           if c in {a.value for a in ORGANIZATION_ACTIONS})
    return cache[organization.pk]


def _role_actions_anywhere(user, action: Action) -> bool:
    """Whether any live organization grants ``action`` (one query per user, then cached on the
    user object for the request)."""
    from .models import OrganizationUserObjectPermission

    cache = user.__dict__.get("_lbm_actions_anywhere")
    if cache is None:
        codenames = OrganizationUserObjectPermission.objects.filter(
            user=user, content_object__status__in=_live_statuses(),
        ).values_list("permission__codename", flat=True).distinct()
        cache = user.__dict__["_lbm_actions_anywhere"] = frozenset(codenames)
    return action.value in cache


def _live_statuses() -> list[str]:
    from .models import Organization

    return [s for s in Organization.Status.values if s != Organization.Status.DELETED]


def organization_ids(user, action: Action = Action.VIEW):
    """A subquery of the ids of the live organizations where ``user`` may do ``action``."""
    from .models import OrganizationUserObjectPermission

    return OrganizationUserObjectPermission.objects.filter(
        user=user, permission__codename=action.value,
        content_object__status__in=_live_statuses(),
    ).values("content_object_id")


def sees_everything(user, model) -> bool:
    """Staff with the model's global view permission (and superusers) see every row."""
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    opts = model._meta
    return user.is_staff and user.has_perm(f"{opts.app_label}.view_{opts.model_name}")


def visible(user, queryset: models.QuerySet, action: Action = Action.VIEW,
            organization_path: str | None = None,
            account_path: str | None = None) -> models.QuerySet:
    """``queryset`` narrowed to the rows ``user`` may see (or act on with ``action``).

    ``organization_path`` is the lookup from the model to its organization (``"pk"`` for
    organizations, ``"organization"`` by default). For rows that belong to an account rather
    than an organization, ``account_path`` (e.g. ``"account"``) narrows them to accounts linked
    (approved) to the user's organizations. The filter is one subquery, never a query per row.
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
    ids = organization_ids(user, action)
    if account_path is not None:
        from .models import AccountLink

        linked = AccountLink.objects.filter(
            status=AccountLink.Status.APPROVED, organization_id__in=ids).values("account_id")
        return queryset.filter(**{f"{account_path}__in": linked})
    if issubclass(model, Organization):
        return queryset.filter(pk__in=ids)
    if issubclass(model, Account):
        from .models import AccountLink

        linked = AccountLink.objects.filter(
            status__in=AccountLink.ACTIVE, organization_id__in=ids
        ).values("account_id")
        return queryset.filter(pk__in=linked)
    path = organization_path or "organization"
    return queryset.filter(**{f"{path}__in": ids})


def grant_role(membership) -> None:
    """Make the member's guardian permissions on the organization exactly those of their role."""
    from .models import Organization, OrganizationUserObjectPermission

    OrganizationUserObjectPermission.objects.filter(
        user_id=membership.user_id, content_object_id=membership.organization_id
    ).delete()
    codenames = [a.value for a in ROLE_ACTIONS[membership.role]]
    permissions = Permission.objects.filter(
        content_type=ContentType.objects.get_for_model(Organization), codename__in=codenames
    )
    OrganizationUserObjectPermission.objects.bulk_create(
        OrganizationUserObjectPermission(permission=p, user_id=membership.user_id,
                                         content_object_id=membership.organization_id)
        for p in permissions
    )
    membership.user.__dict__.pop("_lbm_org_actions", None)
    membership.user.__dict__.pop("_lbm_actions_anywhere", None)


def revoke_role(membership) -> None:
    from .models import OrganizationUserObjectPermission

    OrganizationUserObjectPermission.objects.filter(
        user_id=membership.user_id, content_object_id=membership.organization_id
    ).delete()
    membership.user.__dict__.pop("_lbm_org_actions", None)


def staff_group_permissions() -> dict[str, list[str]]:
    """The staff groups' global permissions: lbm's own plus what each app's AppConfig declares
    in ``staff_permissions`` (``{group name: ["app.codename", ...]}``)."""
    from django.apps import apps

    merged = {name: list(perms) for name, perms in STAFF_GROUP_PERMISSIONS.items()}
    for config in apps.get_app_configs():
        for name, perms in getattr(config, "staff_permissions", {}).items():
            merged.setdefault(name, []).extend(perms)
    return merged


def ensure_staff_groups() -> dict[str, Group]:
    """Create or refresh the staff groups with their global permissions (idempotent).

    Permissions not created yet (an app still migrating) are skipped; the next run adds them."""
    groups = {}
    for name, perms in staff_group_permissions().items():
        group, _created = Group.objects.get_or_create(name=name)
        query = models.Q(pk__in=[])
        for perm in perms:
            app_label, codename = perm.split(".")
            query |= models.Q(content_type__app_label=app_label, codename=codename)
        group.permissions.set(Permission.objects.filter(query))
        groups[name] = group
    return groups


def role_outranks(role: str, other: str) -> bool:
    return ROLE_RANK[role] > ROLE_RANK[other]


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
    return list(AccountAdministrator.objects.filter(user=user)
                .values_list("account_id", flat=True))


def may_grant_account_administrator(user, account_id: int) -> bool:
    """An account manager, or an existing administrator of that account."""
    return staff_may(user, ACCOUNT_ADMIN_GRANT_PERM) or is_account_administrator(user,
                                                                                  account_id)


def require_account_administrator(user, account_id: int) -> None:
    if not is_account_administrator(user, account_id):
        raise NotAllowed(_("Only an administrator of this Official Account may do this."))
