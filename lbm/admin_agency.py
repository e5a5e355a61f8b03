"""Admin pages of agency access and of "what can this person do here"
(docs/organizations.md#agencies, docs/permissions.md#what-can-this-person-do-here). Thin: rows
and rights from lbm.permissions, changes through lbm.agency."""

from django.contrib import admin
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import agency, permissions
from .history_admin import ReadOnlyHistoryAdmin
from .models import AgencyAccess, Membership
from .permissions import Action, Gate

# Actions in the order the explanation page lists them: the organization's, then LINE staff's.
ACTION_LABELS = {
    Action.VIEW: _("View the organization and its data"),
    Action.CHANGE: _("Change the organization"),
    Action.DELETE: _("Delete the organization"),
    Action.MANAGE_MEMBERS: _("Manage members"),
    Action.MANAGE_LINKS: _("Link and unlink accounts"),
    Action.CREATE_AUDIENCES: _("Create audiences and LINE Tags"),
    Action.SHARE_AUDIENCES: _("Share audiences and LINE Tags"),
    Action.EXPORT_AUDIENCES: _("Export audience members (as hashes)"),
    Action.MANAGE_NOTIFICATIONS: _("Manage notification messages"),
    Action.EXPORT_NOTICES: _("Export failed notification messages"),
    Action.REVIEW_ORGANIZATIONS: _("Review organizations (LINE)"),
    Action.REVIEW_LINKS: _("Review account links (LINE)"),
    Action.REVIEW_NOTIFICATIONS: _("Review notification messages (LINE)"),
    Action.MANAGE_ACCOUNTS: _("Manage accounts (LINE)"),
}


def rights_rows(user, organization) -> list[dict]:
    """Every action with ``explain``'s decision for ``user`` on ``organization`` (the same
    function every check uses, so the page cannot disagree with them)."""
    return [{"action": action, "label": ACTION_LABELS.get(action, action.value),
             "decision": permissions.explain(user, action, organization)} for action in Action]


def may_see_rights(user, membership=None) -> bool:
    """The organization's Admins and LINE staff who may see members."""
    if permissions.staff_may(user, "lbm.view_membership"):
        return True
    if membership is None:
        return permissions.can(user, Action.MANAGE_MEMBERS)
    return permissions.can(user, Action.MANAGE_MEMBERS, membership.organization)


class MemberRightsMixin:
    """On a member's page: what that person can do in that organization, and why."""

    def get_urls(self):
        return [path("<int:object_id>/rights/", self.admin_site.admin_view(self.rights_view),
                     name="lbm_membership_rights")] + super().get_urls()

    @property
    def admin_gates(self):
        return {**getattr(super(), "admin_gates", {}),
                "rights": Gate("rights", obj="object_id")}

    def has_rights_permission(self, request, obj=None):
        return may_see_rights(request.user, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        if obj is not None and may_see_rights(request.user, obj):
            fields.append("rights_link")
        return fields

    def get_fieldsets(self, request, obj=None):
        fieldsets = list(super().get_fieldsets(request, obj))
        if obj is not None and may_see_rights(request.user, obj):
            fieldsets.append((_("What this person can do here"), {"fields": ["rights_link"]}))
        return fieldsets

    @admin.display(description=_("rights"))
    def rights_link(self, obj):
        return format_html('<a id="lbm-rights-link" href="{}">{}</a>',
                           reverse("admin:lbm_membership_rights", args=[obj.pk]),
                           gettext("Every action, allowed or refused, and why"))

    def rights_view(self, request, object_id):
        membership = Membership.objects.select_related("user", "organization").get(pk=object_id)
        context = {**self.admin_site.each_context(request), "opts": self.opts,
                   "title": gettext("What %(person)s can do here") % {"person": membership.user},
                   "membership": membership,
                   "rows": rights_rows(membership.user, membership.organization),
                   "change_url": reverse("admin:lbm_membership_change", args=[membership.pk])}
        return render(request, "admin/lbm/membership/rights.html", context)


@admin.register(AgencyAccess)
class AgencyAccessAdmin(ReadOnlyHistoryAdmin):
    """Every agency with access to the client: who, what role, which accounts, until when, and
    what they did. Read-only here; changes go through lbm.agency."""

    list_display = ("agency", "client", "role", "account_list", "member_list", "ends_at",
                    "status")
    list_filter = ("status", "role")
    list_select_related = ("agency", "client")
    readonly_fields = ("client", "agency", "role", "account_list", "member_list", "status",
                       "starts_at", "ends_at", "granted_by", "accepted_by", "accepted_at",
                       "ended_by", "ended_at", "reason", "agency_actions")
    fields = readonly_fields

    def get_queryset(self, request):
        queryset = super().get_queryset(request).prefetch_related(
            "accounts", "assignments__membership__user")
        user = request.user
        if permissions.sees_everything(user, AgencyAccess):
            return queryset
        from django.db.models import Q

        ids = permissions.organization_ids(user, Action.MANAGE_MEMBERS)
        return queryset.filter(Q(client_id__in=ids) | Q(agency_id__in=ids))

    def has_module_permission(self, request):
        return self.has_view_permission(request)

    def has_view_permission(self, request, obj=None):
        if obj is not None:
            return self.get_queryset(request).filter(pk=obj.pk).exists()
        return (permissions.sees_everything(request.user, AgencyAccess)
                or permissions.can(request.user, Action.MANAGE_MEMBERS))

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("limited to accounts"))
    def account_list(self, obj):
        names = [a.name for a in obj.accounts.all()]
        return "、".join(names) if names else gettext("Every linked account")

    @admin.display(description=_("agency members"))
    def member_list(self, obj):
        return "、".join(str(a.membership.user) for a in obj.assignments.all()) or "—"

    @admin.display(description=_("their actions"))
    def agency_actions(self, obj):
        rows = agency.access_actions(obj)
        if not rows:
            return gettext("No actions yet.")
        return format_html('<table id="lbm-agency-actions">{}</table>', format_html_join(
            "", "<tr><td>{}</td><td>{}</td><td>{} {}「{}」</td><td>{}</td></tr>",
            ((row.history_date, row.history_user, row.get_history_type_display(),
              model._meta.verbose_name, row, row.history_change_reason or "")
             for model, row in rows)))
