"""The admin gate: the right each admin URL needs (docs/permissions.md#the-admin-gate).

It maps an admin URL to a ``Gate`` and asks ``lbm.permissions`` (``can``, ``staff_may``, the
ModelAdmin's own ``has_*_permission``) whether the request meets it; the role rules themselves
stay in ``lbm.permissions``, which re-exports these names for existing callers.
"""

import inspect
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.utils.translation import gettext as _

from .permissions import Action, can, staff_may

# --- The admin gate (docs/permissions.md#the-admin-gate) ---------------------------------------
# Every URL of the admin site passes through ``admin_gate`` before its view runs (the site wraps
# each pattern, lbm.admin_site). A URL is declared by a ``Gate``; a URL nobody declared is refused.

PUBLIC = "public"  # the sign-in page and the site's catch-all (which only 404s or adds a slash)
SIGNED_IN = "signed_in"  # any active signed-in user; the object look-up or the view decides more
NOBODY = "nobody"  # refused to everyone with a 404


@dataclass(frozen=True)
class Gate:
    """What one admin URL needs.

    ``need`` (every method) and ``post`` (POST only, on top of ``need``) are each an ``Action``
    (``can(user, action, obj)``), a staff permission ``"app.codename"`` (``staff_may``),
    ``SIGNED_IN``/``PUBLIC``/``NOBODY``, or a word ``w`` naming the ModelAdmin's own
    ``has_<w>_permission`` (``"view"`` is view-or-change), itself built on this module.
    ``obj`` names the URL argument holding an object id (a keyword, or a position for
    regex patterns): unless the object is among ``objects`` (a ModelAdmin method name returning
    the user's queryset; ``get_queryset`` by default) the answer is 404 on every method, the same
    as for a missing object, before any right is checked.
    """

    need: "Action | str"
    post: "Action | str | None" = None
    obj: "str | int | None" = None
    objects: str = "get_queryset"


# The URLs every ModelAdmin has (Django, django-simple-history, django-import-export), by the
# part of the URL name after "<app>_<model>_". A ModelAdmin's ``admin_gates`` override them.
STANDARD_GATES = {
    "changelist": Gate("view"),
    "add": Gate("add"),
    "change": Gate("view", post="change", obj="object_id"),
    "object": Gate("view", obj="object_id"),  # <object_id>/, a redirect to the change page
    "delete": Gate("delete", obj="object_id"),
    "history": Gate("view", obj="object_id"),
    "simple_history": Gate("view", obj=0),  # a version page: read-only (lbm.history_admin)
    "import": Gate("import"),
    "process_import": Gate("import"),
    "export": Gate("export"),
}

# The site's own URLs, by URL name.
SITE_GATES = {
    "index": Gate(SIGNED_IN),
    "login": Gate(PUBLIC),
    "logout": Gate(SIGNED_IN),
    "password_change": Gate(SIGNED_IN),
    "password_change_done": Gate(SIGNED_IN),
    "autocomplete": Gate(SIGNED_IN),  # Django checks the target admin's view right, rows scoped
    "jsi18n": Gate(SIGNED_IN),
    "view_on_site": Gate(NOBODY),  # would redirect for any object id: an existence oracle
    "app_list": Gate(SIGNED_IN),  # 404 unless the user sees a model of the app
    "catch_all": Gate(PUBLIC),
}

PROJECT_APPS = frozenset({"lbm", "audiences", "billing", "notifications"})


def staff_gates(app_label: str, model_name: str) -> dict[str, Gate]:
    """Admins of other libraries (auth, axes, celery beat): LINE staff with the model's Django
    permission only (superusers, in practice)."""
    perm = f"{app_label}.%s_{model_name}"
    view, change = perm % "view", perm % "change"
    return {
        "changelist": Gate(view),
        "add": Gate(perm % "add"),
        "change": Gate(view, post=change, obj="object_id"),
        "object": Gate(view, obj="object_id"),
        "delete": Gate(perm % "delete", obj="object_id"),
        "history": Gate(view, obj="object_id"),
        "password_change": Gate(change, obj="id"),  # auth's user password page
    }


class UndeclaredAdminURL(PermissionDenied):
    """An admin URL that no ``Gate`` declares: refused (and logged) until someone declares it."""


def admin_gate_for(model_admin, key: str | None) -> "Gate | None":
    """The gate declared for the URL ``key`` of ``model_admin`` (None: a site URL), or None."""
    if key is None:
        return None
    if model_admin is None:
        return SITE_GATES.get(key)
    declared = getattr(model_admin, "admin_gates", {}) or {}
    if key in declared:
        return declared[key]
    opts = model_admin.model._meta
    if opts.app_label not in PROJECT_APPS:
        return staff_gates(opts.app_label, opts.model_name).get(key)
    return STANDARD_GATES.get(key)


def _meets(request, need, model_admin, obj) -> bool:
    user = request.user
    if need == PUBLIC or need == SIGNED_IN:
        return True
    if need == NOBODY:
        return False
    if isinstance(need, Action):
        return can(user, need, obj)
    if "." in need:
        return staff_may(user, need)
    if model_admin is None:
        return False
    check = getattr(
        model_admin,
        ("has_view_or_change_permission" if need == "view" else f"has_{need}_permission"),
    )
    if obj is not None and "obj" in inspect.signature(check).parameters:
        return bool(check(request, obj))
    return bool(check(request))


def _gate_object(request, gate: Gate, model_admin, args, kwargs):
    from django.contrib.admin.utils import unquote

    raw = (
        kwargs.get(gate.obj)
        if isinstance(gate.obj, str)
        else (args[gate.obj] if len(args) > gate.obj else None)
    )
    if raw is None or model_admin is None:
        raise Http404
    queryset = getattr(model_admin, gate.objects)(request)
    try:
        found = queryset.filter(pk=unquote(str(raw))).first()
    except (ValueError, TypeError, ValidationError, OverflowError):
        found = None
    if found is None:
        raise Http404
    return found


def admin_gate(request, gate: "Gate | None", model_admin=None, args=(), kwargs=None) -> None:
    """Let the request through to the view, or raise ``Http404`` / ``PermissionDenied``.

    The caller (the admin site) has already sent an anonymous user to the sign-in page unless
    the gate is ``PUBLIC``."""
    if gate is None:
        raise UndeclaredAdminURL(_("You do not have permission to do this."))
    if gate.need == PUBLIC:
        return
    if gate.need == NOBODY:
        raise Http404
    obj = None
    if gate.obj is not None:
        # Someone who may not look at the model at all learns nothing about its ids either.
        if model_admin is None or not model_admin.has_view_or_change_permission(request):
            raise Http404
        obj = _gate_object(request, gate, model_admin, args, kwargs or {})
    if not _meets(request, gate.need, model_admin, obj):
        raise PermissionDenied
    if (
        gate.post is not None
        and request.method == "POST"
        and not _meets(request, gate.post, model_admin, obj)
    ):
        raise PermissionDenied
