"""The admin site shared by LINE staff and customers.

Customers are not ``is_staff``: that flag means LINE staff here. Any active user may sign in;
what each one sees is decided model by model through ``lbm.permissions``.
"""

from django.contrib import admin
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from . import permissions
from .permissions import Action


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
    return (permissions.can(user, Action.REVIEW_ORGANIZATIONS)
            or permissions.can(user, Action.REVIEW_LINKS)
            or permissions.can(user, Action.REVIEW_NOTIFICATIONS))
