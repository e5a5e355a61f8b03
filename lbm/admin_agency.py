"""Admin pages of agency access and of "what can this person do here"
(docs/organizations.md#agencies, docs/permissions.md#what-can-this-person-do-here). Thin: rows
and rights from lbm.permissions, changes through lbm.agency."""

from datetime import datetime, time

from django import forms
from django.contrib import admin, messages
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import agency, permissions
from .admin_gates import Gate
from .admin_helpers import ReadOnlyAdminMixin, show_refusal
from .exceptions import DomainError
from .history_admin import ReadOnlyHistoryAdmin
from .models import Account, AccountLink, AgencyAccess, AgencyAssignment, Membership, Organization
from .permissions import Action
from .workdays import TAIPEI

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
    return [
        {
            "action": action,
            "label": ACTION_LABELS.get(action, action.value),
            "decision": permissions.explain(user, action, organization),
        }
        for action in Action
    ]


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
        return [
            path(
                "<int:object_id>/rights/",
                self.admin_site.admin_view(self.rights_view),
                name="lbm_membership_rights",
            )
        ] + super().get_urls()

    @property
    def admin_gates(self):
        return {**getattr(super(), "admin_gates", {}), "rights": Gate("rights", obj="object_id")}

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
        return format_html(
            '<a id="lbm-rights-link" href="{}">{}</a>',
            reverse("admin:lbm_membership_rights", args=[obj.pk]),
            gettext("Every action, allowed or refused, and why"),
        )

    def rights_view(self, request, object_id):
        membership = Membership.objects.select_related("user", "organization").get(pk=object_id)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("What %(person)s can do here") % {"person": membership.user},
            "membership": membership,
            "rows": rights_rows(membership.user, membership.organization),
            "change_url": reverse("admin:lbm_membership_change", args=[membership.pk]),
        }
        return render(request, "admin/lbm/membership/rights.html", context)


@admin.register(AgencyAccess)
class AgencyAccessAdmin(ReadOnlyAdminMixin, ReadOnlyHistoryAdmin):
    """Every agency with access to the client: who, what role, which accounts, until when, and
    what they did. Read-only here; changes go through lbm.agency."""

    list_display = ("agency", "client", "role", "account_list", "member_list", "ends_at", "status")
    list_filter = ("status", "role")
    list_select_related = ("agency", "client")
    readonly_fields = (
        "client",
        "agency",
        "role",
        "account_list",
        "member_list",
        "status",
        "starts_at",
        "ends_at",
        "granted_by",
        "accepted_by",
        "accepted_at",
        "ended_by",
        "ended_at",
        "reason",
        "agency_actions",
    )
    fields = readonly_fields
    change_list_template = "admin/lbm/agencyaccess/change_list.html"
    # The pages of docs/organizations.md#agencies: each a form on GET, the service on POST.
    admin_gates = {
        "grant": Gate("grant"),
        "accept": Gate("agency_admin", obj="object_id"),
        "members": Gate("agency_admin", obj="object_id"),
        "end": Gate("either_admin", obj="object_id"),
        "renew": Gate("client_admin", obj="object_id"),
    }

    def get_urls(self):
        def url(route, view, name):
            return path(route, self.admin_site.admin_view(view), name=f"lbm_agencyaccess_{name}")

        return [
            url("grant/", self.grant_view, "grant"),
            url("<int:object_id>/accept/", self.accept_view, "accept"),
            url("<int:object_id>/members/", self.members_view, "members"),
            url("<int:object_id>/end/", self.end_view, "end"),
            url("<int:object_id>/renew/", self.renew_view, "renew"),
        ] + super().get_urls()

    # Who may open each page: the same check the service makes (lbm.permissions).
    def has_grant_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_MEMBERS)

    def has_client_admin_permission(self, request, obj=None):
        return obj is not None and permissions.can(request.user, Action.MANAGE_MEMBERS, obj.client)

    def has_agency_admin_permission(self, request, obj=None):
        return obj is not None and permissions.can(request.user, Action.MANAGE_MEMBERS, obj.agency)

    def has_either_admin_permission(self, request, obj=None):
        return self.has_client_admin_permission(request, obj) or self.has_agency_admin_permission(
            request, obj
        )

    def get_queryset(self, request):
        queryset = (
            super()
            .get_queryset(request)
            .prefetch_related("accounts", "assignments__membership__user")
        )
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
        return permissions.sees_everything(request.user, AgencyAccess) or permissions.can(
            request.user, Action.MANAGE_MEMBERS
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = dict(extra_context or {})
        if self.has_grant_permission(request):
            extra_context["grant_url"] = reverse("admin:lbm_agencyaccess_grant")
        return super().changelist_view(request, extra_context)

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
        return format_html(
            '<table id="lbm-agency-actions">{}</table>',
            format_html_join(
                "",
                "<tr><td>{}</td><td>{}</td><td>{} {}「{}」</td><td>{}</td></tr>",
                (
                    (
                        row.history_date,
                        row.history_user,
                        row.get_history_type_display(),
                        model._meta.verbose_name,
                        row,
                        row.history_change_reason or "",
                    )
                    for model, row in rows
                ),
            ),
        )

    change_form_template = "admin/lbm/agencyaccess/change_form.html"

    def step_links(self, request, obj) -> list[tuple[str, str]]:
        """The buttons of the access page: (url, label), only those the user may use."""
        links = []
        if obj.status in AgencyAccess.OPEN:
            agency_admin = self.has_agency_admin_permission(request, obj)
            if obj.status == AgencyAccess.Status.PENDING and agency_admin:
                links.append(("accept", gettext("Accept and assign members")))
            if obj.status == AgencyAccess.Status.ACTIVE and agency_admin:
                links.append(("members", gettext("Assign or unassign members")))
            if self.has_client_admin_permission(request, obj):
                links.append(("renew", gettext("Renew")))
            if self.has_either_admin_permission(request, obj):
                links.append(("end", gettext("End access now")))
        return [
            (name, reverse(f"admin:lbm_agencyaccess_{name}", args=[obj.pk]), label)
            for name, label in links
        ]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = dict(extra_context or {})
        obj = self.get_queryset(request).filter(pk=object_id).first()
        if obj is not None:
            extra_context["agency_steps"] = self.step_links(request, obj)
        return super().change_view(request, object_id, form_url, extra_context)

    # --- The pages: a form on GET, the service on POST; a refusal shows on its field. ------------

    def _page(self, request, form, title, access=None, submit=None, extra=None):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            "form": form,
            "access": access,
            "submit_label": submit or title,
            "cancel_url": reverse("admin:lbm_agencyaccess_change", args=[access.pk])
            if access
            else reverse("admin:lbm_agencyaccess_changelist"),
            **(extra or {}),
        }
        return render(request, "admin/lbm/agencyaccess/step.html", context)

    def _run(self, request, form, call, done, access_id=None, field_map=None):
        """The service on a valid POST: its refusal onto ``form`` (None), else the redirect."""
        try:
            access = call()
        except DomainError as exc:
            show_refusal(form, exc, field_map)
            return None
        self.message_user(request, done, messages.SUCCESS)
        pk = access_id or access.pk
        return HttpResponseRedirect(reverse("admin:lbm_agencyaccess_change", args=[pk]))

    def _access(self, object_id):
        return AgencyAccess.objects.select_related("client", "agency").get(pk=object_id)

    def grant_view(self, request):
        form = GrantForm(request.user, request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            response = self._run(
                request,
                form,
                lambda: agency.access_grant(
                    client_id=data["client"].pk,
                    agency_id=data["agency"].pk,
                    actor=request.user,
                    role=data["role"],
                    ends_at=end_of_day(data["ends_on"]),
                    account_ids=[a.pk for a in data["accounts"]],
                    reason=data["reason"],
                ),
                gettext("Access offered; it starts when the agency's Admin accepts it."),
                field_map={"ends_at": "ends_on"},
            )
            if response is not None:
                return response
        return self._page(
            request, form, gettext("Grant an agency access"), submit=gettext("Grant access")
        )

    def accept_view(self, request, object_id):
        access = self._access(object_id)
        form = AcceptForm(access, request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            response = self._run(
                request,
                form,
                lambda: agency.access_accept(
                    access_id=access.pk,
                    actor=request.user,
                    membership_ids=[m.pk for m in data["members"]],
                    reason=data["reason"],
                ),
                gettext("Access accepted."),
                field_map={"membership": "members", "ends_at": None},
            )
            if response is not None:
                return response
        return self._page(
            request,
            form,
            gettext("Accept the access to %(client)s") % {"client": access.client},
            access,
            gettext("Accept"),
        )

    def members_view(self, request, object_id):
        access = self._access(object_id)
        form = MembersForm(access, request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data

            response = self._run(
                request,
                form,
                lambda: agency.members_change(
                    access_id=access.pk,
                    actor=request.user,
                    assign_ids=[m.pk for m in data["assign"]],
                    unassign_ids=[a.pk for a in data["unassign"]],
                ),
                gettext("Members changed."),
                field_map={"membership": "assign"},
            )
            if response is not None:
                return response
        return self._page(
            request,
            form,
            gettext("Members working on %(client)s") % {"client": access.client},
            access,
            gettext("Save"),
        )

    def end_view(self, request, object_id):
        access = self._access(object_id)
        form = EndForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            response = self._run(
                request,
                form,
                lambda: agency.access_end(
                    access_id=access.pk, actor=request.user, reason=form.cleaned_data["reason"]
                ),
                gettext("Access ended: the agency's rights are gone."),
            )
            if response is not None:
                return response
        return self._page(
            request, form, gettext("End access now"), access, gettext("End access now")
        )

    def renew_view(self, request, object_id):
        access = self._access(object_id)
        form = RenewForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            response = self._run(
                request,
                form,
                lambda: agency.access_renew(
                    access_id=access.pk,
                    actor=request.user,
                    ends_at=end_of_day(data["ends_on"]),
                    reason=data["reason"],
                ),
                gettext("Access renewed."),
                field_map={"ends_at": "ends_on"},
            )
            if response is not None:
                return response
        return self._page(request, form, gettext("Renew"), access, gettext("Renew"))


def end_of_day(day):
    """The last second of ``day`` in Taipei: an access "until 2027-03-31" lasts that whole day."""
    return datetime.combine(day, time(23, 59, 59), tzinfo=TAIPEI)


def _reason_field():
    return forms.CharField(
        label=_("Reason"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )


class GrantForm(forms.Form):
    """Only the choices; the rules (role cap, one year, the client's accounts) are lbm.agency's."""

    client = forms.ModelChoiceField(
        label=_("client organization"), queryset=Organization.objects.none()
    )
    agency = forms.ModelChoiceField(
        label=_("agency's organization"), required=False, queryset=Organization.objects.none()
    )
    agency_business_number = forms.CharField(
        label=_("or the agency's business number (統一編號)"), max_length=8, required=False
    )
    role = forms.ChoiceField(label=_("role"), choices=AgencyAccess.Role.choices)
    ends_on = forms.DateField(
        label=_("ends on"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("At most one year from today."),
    )
    accounts = forms.ModelMultipleChoiceField(
        label=_("limited to accounts"),
        queryset=Account.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None chosen: every account linked to the client."),
    )
    reason = _reason_field()

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        ids = permissions.organization_ids(user, Action.MANAGE_MEMBERS)
        self.fields["client"].queryset = Organization.objects.filter(pk__in=ids).exclude(
            kind=Organization.Kind.AGENCY
        )
        self.fields["agency"].queryset = Organization.objects.filter(
            kind=Organization.Kind.AGENCY, deleted_at__isnull=True
        ).order_by("name")
        self.fields["accounts"].queryset = Account.objects.filter(
            links__organization_id__in=ids, links__status=AccountLink.Status.APPROVED
        ).distinct()

    def clean(self):
        data = super().clean()
        number = (data.get("agency_business_number") or "").strip()
        if not data.get("agency") and number:
            data["agency"] = Organization.objects.filter(
                kind=Organization.Kind.AGENCY, business_number=number
            ).first()
            if data["agency"] is None:
                self.add_error(
                    "agency_business_number",
                    gettext("No agency's organization has this business number."),
                )
        elif not data.get("agency") and "agency" not in self.errors:
            self.add_error("agency", gettext("Choose the agency, or type its business number."))
        return data


class AcceptForm(forms.Form):
    members = forms.ModelMultipleChoiceField(
        label=_("agency members"),
        queryset=Membership.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("The members who work on this client; only they get its rights."),
    )
    reason = _reason_field()

    def __init__(self, access, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["members"].queryset = Membership.objects.filter(
            organization_id=access.agency_id
        ).select_related("user")


class MembersForm(forms.Form):
    assign = forms.ModelMultipleChoiceField(
        label=_("assign"),
        queryset=Membership.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    unassign = forms.ModelMultipleChoiceField(
        label=_("unassign"),
        queryset=AgencyAssignment.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, access, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assign"].queryset = (
            Membership.objects.filter(organization_id=access.agency_id)
            .exclude(agency_assignments__access=access)
            .select_related("user")
        )
        self.fields["unassign"].queryset = access.assignments.select_related("membership__user")


class EndForm(forms.Form):
    reason = _reason_field()


class RenewForm(forms.Form):
    ends_on = forms.DateField(
        label=_("new end date"),
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("At most one year from today."),
    )
    reason = _reason_field()
