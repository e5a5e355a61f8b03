"""The LINE staff groups and their global permissions, created or refreshed after every migrate
(``lbm.apps``). The groups' names and lbm's own permissions are in ``lbm.permissions``
(``REVIEWERS_GROUP``, ``ACCOUNT_MANAGERS_GROUP``, ``STAFF_GROUP_PERMISSIONS``); other apps add
theirs in their AppConfig's ``staff_permissions``."""

from django.contrib.auth.models import Group, Permission
from django.db import models

from .permissions import STAFF_GROUP_PERMISSIONS


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
