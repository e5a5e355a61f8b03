"""The admin site shared by LINE staff and customers.

Customers are not ``is_staff``: that flag means LINE staff here. Any active user may sign in;
what each one sees is decided model by model through ``lbm.permissions``.
"""

import logging
from functools import update_wrapper

from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import redirect_to_login
from django.urls import URLPattern, URLResolver, reverse
from django.utils.translation import gettext_lazy as _

from . import admin_gates, permissions
from .permissions import Action

logger = logging.getLogger(__name__)


class LBMAuthenticationForm(AuthenticationForm):
    """Sign-in for staff and customers alike (the stock admin form admits staff only)."""


class LBMAdminSite(admin.AdminSite):
    site_header = _("LINE Business Manager back office")
    site_title = _("LBM back office")
    index_title = _("Dashboard")
    login_form = LBMAuthenticationForm
    index_template = "admin/lbm_index.html"
    site_url = None  # the admin is the whole site: no "view site" link

    def has_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_authenticated

    def get_urls(self):
        """Django's URLs, each wrapped in ``admin_gates.admin_gate`` (docs/permissions.md#the-admin-
        gate): every ModelAdmin's own URLs, those its mixins and libraries add, and the site's."""
        admins = {
            f"{model._meta.app_label}/{model._meta.model_name}/": model_admin
            for model, model_admin in self._registry.items()
        }
        return [
            self._gated(
                entry, admins.get(str(entry.pattern)) if isinstance(entry, URLResolver) else None
            )
            for entry in super().get_urls()
        ]

    def _gated(self, entry, model_admin):
        if isinstance(entry, URLResolver):
            return URLResolver(
                entry.pattern,
                [self._gated(e, model_admin) for e in entry.url_patterns],
                entry.default_kwargs,
                entry.app_name,
                entry.namespace,
            )
        key = gate_key(entry, model_admin)
        gate = admin_gates.admin_gate_for(model_admin, key)
        view = entry.callback
        site = self

        def gated(request, *args, **kwargs):
            if gate is None:
                logger.error("admin URL %s (%s) has no gate: refused", key, entry.pattern)
            elif gate.need != admin_gates.PUBLIC and not site.has_permission(request):
                return redirect_to_login(
                    request.get_full_path(), reverse("admin:login", current_app=site.name)
                )
            admin_gates.admin_gate(request, gate, model_admin, args, kwargs)
            return view(request, *args, **kwargs)

        update_wrapper(gated, view)
        gated.lbm_gate, gated.lbm_gate_key, gated.lbm_model_admin = gate, key, model_admin
        return URLPattern(entry.pattern, gated, entry.default_args, entry.name)

    def index(self, request, extra_context=None):
        from .selectors import review_backlog

        context = dict(extra_context or {})
        user = request.user
        if can_review(user):
            context["backlog"] = review_backlog(user)
        from .selectors import deleted_organizations_of

        context["deleted_organizations"] = list(deleted_organizations_of(user))
        return super().index(request, context)


def can_review(user) -> bool:
    """Whether the dashboard shows ``user`` a review backlog: reviewers, and account managers
    (the billing proposals waiting for a second approval)."""
    return (
        permissions.can(user, Action.REVIEW_ORGANIZATIONS)
        or permissions.can(user, Action.REVIEW_LINKS)
        or permissions.can(user, Action.REVIEW_NOTIFICATIONS)
        or permissions.staff_may(user, "billing.view_secondapproval")
    )


def gate_key(pattern: URLPattern, model_admin) -> str | None:
    """The name a URL is declared under: for a ModelAdmin's URL the part of its name after
    ``<app>_<model>_`` (the whole name when it does not start so); ``"object"`` for Django's
    unnamed ``<object_id>/`` redirect and ``"catch_all"`` for the site's final pattern."""
    name = pattern.name
    if name is None:
        route = str(pattern.pattern)
        if model_admin is not None and route == "<path:object_id>/":
            return "object"
        if model_admin is None and route == "(?P<url>.*)$":
            return "catch_all"
        return None
    if model_admin is not None:
        prefix = f"{model_admin.opts.app_label}_{model_admin.opts.model_name}_"
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def undeclared_urls(site) -> list[str]:
    """The site's URL patterns that no gate declares (the matrix test fails on any)."""
    found = []

    def walk(patterns, prefix):
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif not _declared(entry.callback):
                found.append(f"{prefix}{entry.pattern} ({entry.name})")

    walk(site.get_urls(), "")
    return found


def _declared(view) -> bool:
    """A gate, and one whose ``has_<word>_permission`` exists on its ModelAdmin."""
    gate = getattr(view, "lbm_gate", None)
    if gate is None:
        return False
    model_admin = view.lbm_model_admin
    for need in (gate.need, gate.post):
        if (
            isinstance(need, str)
            and not isinstance(need, Action)
            and "." not in need
            and need not in (admin_gates.PUBLIC, admin_gates.SIGNED_IN, admin_gates.NOBODY)
        ):
            method = "has_view_or_change_permission" if need == "view" else f"has_{need}_permission"
            if model_admin is None or not callable(getattr(model_admin, method, None)):
                return False
    if gate.obj is not None and (
        model_admin is None or not callable(getattr(model_admin, gate.objects, None))
    ):
        return False
    return True
