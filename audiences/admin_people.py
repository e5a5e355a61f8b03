"""Audience members and the LINE user directory (LINE staff only): read-only lists of millions
of rows, searched by an exact ID (docs/operations.md#admin-at-scale).
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from lbm import permissions
from lbm.admin_helpers import ReadOnlyAdminMixin, ScopedAdminMixin
from lbm.paginators import EstimatedCountPaginator

from . import importers, selectors
from .models import AudienceMember, Friendship, IdType, LineUser

# --- Members ----------------------------------------------------------------------------------


class AudienceChoiceFilter(admin.SimpleListFilter):
    """Audiences listed from the audience table (never a DISTINCT over millions of members)."""

    title = _("audience")
    parameter_name = "audience"

    def lookups(self, request, model_admin):
        return [
            (a.pk, a.name)
            for a in selectors.audiences_for(request.user).only("pk", "name").order_by("name")[:200]
        ]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(audience_id=self.value())
        return queryset


@admin.register(AudienceMember)
class AudienceMemberAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    organization_path = "audience__organization"
    list_display = ("identifier", "audience")
    list_select_related = ("audience",)
    list_filter = (AudienceChoiceFilter,)
    search_fields = ("=identifier",)
    search_help_text = _(
        "An exact ID: a user ID, an IDFA/AAID, a phone number or an e-mail "
        "address (phone numbers and addresses are matched by their hash)."
    )
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    sortable_by = ()

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        candidates = {term, term.lower()}
        for id_type in (IdType.PHONE, IdType.EMAIL):
            try:
                candidates.add(importers.stored_identifier(id_type, term))
            except importers.Malformed:
                pass
        # Through the audiences the user sees: one probe of the (audience, identifier) index per
        # audience instead of reading every member (docs/operations.md#admin-at-scale).
        return queryset.filter(
            identifier__in=candidates,
            audience__in=selectors.audiences_for(request.user).order_by().values("pk"),
        ), False


# --- The LINE user directory (LINE staff only) ------------------------------------------------


class FriendshipInline(admin.TabularInline):
    model = Friendship
    extra = 0
    fields = ("account", "state", "friend_path", "since")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LineUser)
class LineUserAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ("user_id", "notification_consent", "sms_verified_at", "created_at")
    search_fields = ("=user_id",)
    list_filter = ("notification_consent",)
    readonly_fields = (
        "user_id",
        "ifa",
        "phone_hash",
        "email_hash",
        "notification_consent",
        "sms_verified_at",
        "app_version",
        "created_at",
    )
    inlines = [FriendshipInline]
    show_full_result_count = False
    paginator = EstimatedCountPaginator

    def has_module_permission(self, request):
        return permissions.sees_everything(request.user, LineUser)

    def has_view_permission(self, request, obj=None):
        return permissions.sees_everything(request.user, LineUser)

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            phone = importers.stored_identifier(IdType.PHONE, term)
        except importers.Malformed:
            phone = None
        return queryset.filter(user_id=term) | queryset.filter(phone_hash=phone), False
