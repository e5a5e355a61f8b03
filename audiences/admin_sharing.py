"""Admin pages for sharing per linked account, LINE Tag sharing to chosen accounts, the
"what will stop" confirmations and lookalike audiences (docs/audiences.md).

Kept apart from ``audiences.admin_audiences`` and ``admin_tags``: the actions here are plain
functions that the model admins there list; every change goes through ``audiences.services``.
"""

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.template.response import TemplateResponse
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from lbm import permissions
from lbm.admin_helpers import ReadOnlyAdminMixin, ScopedAdminMixin, run_service
from lbm.exceptions import DomainError
from lbm.history_admin import ReadOnlyHistoryAdmin
from lbm.models import Account, AccountLink
from lbm.permissions import Action

from . import selectors, services
from .models import (
    LOOKALIKE_MAX_PERCENT,
    LOOKALIKE_MIN_PERCENT,
    Audience,
    AudienceShare,
    LineTagShare,
    LinkSharing,
    Usage,
)


def _page(modeladmin, request, queryset, *, template, title, action, **context):
    return TemplateResponse(
        request,
        template,
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "objects": queryset,
            "opts": modeladmin.model._meta,
            "action": action,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            **context,
        },
    )


class AccountsForm(forms.Form):
    accounts = forms.ModelMultipleChoiceField(
        label=_("Linked accounts"),
        queryset=Account.objects.none(),
        widget=forms.CheckboxSelectMultiple,
    )

    def __init__(self, *args, accounts=None, **kwargs):
        super().__init__(*args, **kwargs)
        if accounts is not None:
            self.fields["accounts"].queryset = accounts.order_by("name")


def _linked_accounts(organization_ids):
    ids = set()
    for org_id in organization_ids:
        ids |= set(selectors.linked_account_ids(org_id))
    return Account.objects.filter(pk__in=ids)


# --- Unsharing audiences: choose, see what will stop, confirm ----------------------------------


def unshare_with_preview(modeladmin, request, queryset, *, every_account: bool):
    """Unshare the selected audiences from chosen accounts (or every account), after a page
    that lists each share that ends: the audience disappears from that account, and lookalike
    audiences made from it there are no longer recomputed."""
    shared = Account.objects.filter(
        pk__in=AudienceShare.objects.filter(audience__in=queryset).values("account_id")
    )
    action = "unshare_all" if every_account else "unshare"
    title = gettext("Unshare audiences")
    stage = request.POST.get("stage", "")
    if every_account:
        form = AccountsForm({"accounts": [a.pk for a in shared]}, accounts=shared)
    else:
        form = AccountsForm(request.POST if stage else None, accounts=shared)
    if (every_account or stage) and form.is_valid():
        account_ids = [a.pk for a in form.cleaned_data["accounts"]]
        if stage == "confirm":
            done = 0
            for audience in queryset:
                try:
                    for account_id in account_ids:
                        services.audience_unshare(
                            actor=request.user, audience_id=audience.pk, account_id=account_id
                        )
                except DomainError as exc:
                    modeladmin.message_user(request, f"{audience}: {exc}", messages.ERROR)
                else:
                    done += 1
            if done:
                modeladmin.message_user(
                    request,
                    gettext("%(count)d audience(s) unshared.") % {"count": done},
                    messages.SUCCESS,
                )
            return None
        return _page(
            modeladmin,
            request,
            queryset,
            template="admin/audiences/what_will_stop.html",
            title=title,
            action=action,
            account_ids=account_ids,
            rows=selectors.unshare_consequences(queryset, account_ids),
        )
    if every_account:  # nothing is shared
        modeladmin.message_user(
            request, gettext("The selected audiences are not shared."), messages.WARNING
        )
        return None
    return _page(
        modeladmin,
        request,
        queryset,
        template="admin/audiences/choose_accounts.html",
        title=title,
        action=action,
        form=form,
        next_stage="preview",
    )


# --- LINE Tags to chosen accounts -------------------------------------------------------------


@admin.action(description=_("Share to chosen linked accounts"), permissions=["share"])
def share_tags_to_accounts(modeladmin, request, queryset):
    accounts = _linked_accounts(set(queryset.values_list("organization_id", flat=True)))
    form = AccountsForm(request.POST if request.POST.get("stage") else None, accounts=accounts)
    if request.POST.get("stage") and form.is_valid():
        account_ids = [a.pk for a in form.cleaned_data["accounts"]]
        done = 0
        for tag in queryset:
            linked = set(selectors.linked_account_ids(tag.organization_id))
            try:
                services.line_tag_share(
                    actor=request.user,
                    tag_id=tag.pk,
                    account_ids=[pk for pk in account_ids if pk in linked],
                )
            except DomainError as exc:
                modeladmin.message_user(request, f"{tag}: {exc}", messages.ERROR)
            else:
                done += 1
        if done:
            modeladmin.message_user(
                request,
                gettext("%(count)d LINE Tag(s) shared.") % {"count": done},
                messages.SUCCESS,
            )
        return None
    return _page(
        modeladmin,
        request,
        queryset,
        template="admin/audiences/choose_accounts.html",
        title=gettext("Share LINE Tags"),
        action="share_tags_to_accounts",
        form=form,
        next_stage="confirm",
    )


@admin.action(description=_("Unshare from chosen accounts"), permissions=["share"])
def unshare_tags_from_accounts(modeladmin, request, queryset):
    shared = Account.objects.filter(
        pk__in=LineTagShare.objects.filter(tag__in=queryset).values("account_id")
    )
    stage = request.POST.get("stage", "")
    form = AccountsForm(request.POST if stage else None, accounts=shared)
    if stage and form.is_valid():
        account_ids = [a.pk for a in form.cleaned_data["accounts"]]
        if stage == "confirm":
            run_service(
                modeladmin,
                request,
                queryset,
                lambda tag: [
                    services.line_tag_unshare(actor=request.user, tag_id=tag.pk, account_id=pk)
                    for pk in account_ids
                ],
                gettext("%(count)d LINE Tag(s) unshared."),
            )
            return None
        shares = (
            LineTagShare.objects.filter(tag__in=queryset, account_id__in=account_ids)
            .select_related("tag", "account")
            .order_by("tag__name", "account__name")
        )
        return _page(
            modeladmin,
            request,
            queryset,
            template="admin/audiences/what_will_stop.html",
            title=gettext("Unshare LINE Tags"),
            action="unshare_tags_from_accounts",
            account_ids=account_ids,
            tag_shares=shares,
        )
    return _page(
        modeladmin,
        request,
        queryset,
        template="admin/audiences/choose_accounts.html",
        title=gettext("Unshare LINE Tags"),
        action="unshare_tags_from_accounts",
        form=form,
        next_stage="preview",
    )


# --- Lookalike audiences -----------------------------------------------------------------------


class LookalikeForm(forms.Form):
    account = forms.ModelChoiceField(label=_("LAP ad account"), queryset=Account.objects.none())
    percent = forms.IntegerField(
        label=_("Size (percentage of the account's reachable users)"),
        min_value=LOOKALIKE_MIN_PERCENT,
        max_value=LOOKALIKE_MAX_PERCENT,
        initial=5,
    )
    name = forms.CharField(label=_("Audience name"), max_length=120)

    def __init__(self, *args, source=None, **kwargs):
        super().__init__(*args, **kwargs)
        if source is not None and source.organization_id:
            shared = AudienceShare.objects.filter(audience=source).values("account_id")
            self.fields["account"].queryset = Account.objects.filter(
                pk__in=selectors.linked_account_ids(source.organization_id), kind=Account.Kind.LAP
            ).filter(
                pk__in=[source.source_account_id or 0, *shared.values_list("account_id", flat=True)]
            )


@admin.action(
    description=_("Make a lookalike audience on a LAP ad account"), permissions=["create"]
)
def make_lookalike(modeladmin, request, queryset):
    if queryset.count() != 1:
        modeladmin.message_user(request, gettext("Choose one source audience."), messages.ERROR)
        return None
    source = queryset.get()
    if Usage.LOOKALIKE not in selectors.audience_usages(source, Account.Kind.LAP):
        modeladmin.message_user(
            request,
            gettext("%(type)s audiences cannot be the source of a lookalike audience.")
            % {"type": source.get_type_display()},
            messages.ERROR,
        )
        return None
    form = LookalikeForm(request.POST if request.POST.get("stage") else None, source=source)
    if request.POST.get("stage") and form.is_valid():
        data = form.cleaned_data
        try:
            audience = services.audience_lookalike_create(
                actor=request.user,
                account_id=data["account"].pk,
                source_id=source.pk,
                name=data["name"],
                percent=data["percent"],
            )
        except DomainError as exc:
            form.add_error(None, str(exc))
        else:
            modeladmin.message_user(
                request,
                gettext("Lookalike audience “%(name)s” made on %(account)s with %(size)d members.")
                % {"name": audience.name, "account": data["account"].name, "size": audience.size},
                messages.SUCCESS,
            )
            return None
    return _page(
        modeladmin,
        request,
        queryset,
        template="admin/audiences/choose_accounts.html",
        title=gettext("Lookalike audience from “%(name)s”") % {"name": source.name},
        action="make_lookalike",
        form=form,
        next_stage="confirm",
        explanation=gettext(
            "A lookalike audience holds users like the source's members, %(min)d%% to "
            "%(max)d%% of the LAP ad account's reachable users, and may be used on LAP "
            "ad accounts only. The source must be the account's own audience or shared "
            "to it."
        )
        % {"min": LOOKALIKE_MIN_PERCENT, "max": LOOKALIKE_MAX_PERCENT},
    )


# --- Sharing per linked account ----------------------------------------------------------------


@admin.register(LinkSharing)
class LinkSharingAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, ReadOnlyHistoryAdmin):
    """One row per linked account: share all (every organization resource, now and when
    created) or share selected (chosen one by one)."""

    organization_path = "link__organization"
    list_display = (
        "account",
        "kind",
        "organization",
        "mode",
        "audiences_shared",
        "changed_by",
        "changed_at",
    )
    list_filter = ("mode", "link__account__kind")
    list_select_related = ("link__account", "link__organization", "changed_by")
    search_fields = ("link__account__name", "link__organization__name")
    actions = ["set_share_all", "set_share_selected"]
    fields = ("link", "mode", "changed_by", "changed_at")
    readonly_fields = fields

    @admin.display(description=_("account"), ordering="link__account__name")
    def account(self, obj):
        return obj.link.account.name

    @admin.display(description=_("kind"))
    def kind(self, obj):
        return obj.link.account.get_kind_display()

    @admin.display(description=_("organization"))
    def organization(self, obj):
        return obj.link.organization.name

    @admin.display(description=_("audiences shared"), ordering="shared_count")
    def audiences_shared(self, obj):
        return obj.shared_count

    def get_queryset(self, request):
        # The count of each row's shares in the page's one query, not a query per row.
        shared = (
            AudienceShare.objects.filter(
                account_id=OuterRef("link__account_id"),
                audience__organization_id=OuterRef("link__organization_id"),
            )
            .order_by()
            .values("account_id")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .filter(link__status=AccountLink.Status.APPROVED)
            .annotate(shared_count=Coalesce(Subquery(shared), 0))
        )

    def has_share_permission(self, request):
        return permissions.can(request.user, Action.SHARE_AUDIENCES)

    def _set(self, request, queryset, mode):
        run_service(
            self,
            request,
            queryset,
            lambda sharing: services.link_sharing_set(
                actor=request.user, link_id=sharing.link_id, mode=mode
            ),
            gettext("%(count)d account(s) updated."),
        )

    @admin.action(description=_("Share all resources with these accounts"), permissions=["share"])
    def set_share_all(self, request, queryset):
        self._set(request, queryset, LinkSharing.Mode.SHARE_ALL)

    @admin.action(description=_("Share selected resources only"), permissions=["share"])
    def set_share_selected(self, request, queryset):
        self._set(request, queryset, LinkSharing.Mode.SHARE_SELECTED)


# --- Unlinking: what will stop (listed on lbm's confirmation page) ------------------------------


def unlink_consequences_for(queryset) -> list[str]:
    """``lbm.admin.link_end_consequences`` entry: what ending the selected links stops."""
    links = queryset.select_related("account").filter(status=AccountLink.Status.APPROVED)
    return selectors.unlink_consequence_lines(links)


__all__ = [
    "Audience",
    "LinkSharingAdmin",
    "make_lookalike",
    "share_tags_to_accounts",
    "unlink_consequences_for",
    "unshare_tags_from_accounts",
    "unshare_with_preview",
]


def _register_unlink_listing() -> None:
    from lbm.admin import link_end_consequences

    if unlink_consequences_for not in link_end_consequences:
        link_end_consequences.append(unlink_consequences_for)


_register_unlink_listing()
