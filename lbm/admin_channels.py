"""Account managers' pages: Messaging API channels and their access tokens (docs/api.md), and
the outbox of queued tasks, read-only (docs/reliability.md#the-outbox)."""

from django.contrib import admin, messages
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import channels, permissions
from .admin_helpers import StaffOnlyMixin, run_service
from .history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from .models import Channel, ChannelAccessToken, OutboxMessage
from .permissions import Action


class AccessTokenInline(admin.TabularInline):
    model = ChannelAccessToken
    fields = ("prefix", "label", "created_by", "created_at", "last_used_at", "revoked_at")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Channel)
class ChannelAdmin(StaffOnlyMixin, SimpleHistoryAdmin):
    list_display = ("channel_id", "account", "bot_user_id", "webhook_url", "active_tokens")
    search_fields = ("channel_id", "=account__basic_id", "=account__premium_id", "account__name")
    list_select_related = ("account",)
    fields = ("account", "channel_id", "bot_user_id", "webhook_url")
    readonly_fields = ("account", "channel_id", "bot_user_id")
    inlines = [AccessTokenInline]
    actions = ["issue_token"]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name == "webhook_url":
            kwargs["assume_scheme"] = "https"  # webhooks are https; also Django 6's default
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description=_("active tokens"))
    def active_tokens(self, obj):
        return obj.tokens.filter(revoked_at__isnull=True).count()

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, Action.MANAGE_ACCOUNTS)

    def has_manage_accounts_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_ACCOUNTS)

    @admin.action(
        description=_("Issue a channel access token (shown once)"), permissions=["manage_accounts"]
    )
    def issue_token(self, request, queryset):
        for channel in queryset.select_related("account"):
            _row, token = channels.token_issue(account=channel.account, actor=request.user)
            self.message_user(
                request,
                gettext("New token for %(channel)s — copy it now, it is not shown again: %(token)s")
                % {"channel": channel.channel_id, "token": token},
                messages.WARNING,
            )


@admin.register(ChannelAccessToken)
class ChannelAccessTokenAdmin(StaffOnlyMixin, SimpleHistoryAdmin):
    list_display = (
        "prefix",
        "channel",
        "label",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    list_filter = ("revoked_at",)
    list_select_related = ("channel__account", "created_by")
    readonly_fields = (
        "channel",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    )
    fields = ("channel", "prefix", "label") + readonly_fields[2:]
    actions = ["revoke"]

    def has_change_permission(self, request, obj=None):
        return permissions.can(request.user, Action.MANAGE_ACCOUNTS)

    def has_manage_accounts_permission(self, request):
        return permissions.can(request.user, Action.MANAGE_ACCOUNTS)

    @admin.action(description=_("Revoke"), permissions=["manage_accounts"])
    def revoke(self, request, queryset):
        run_service(
            self,
            request,
            queryset,
            lambda row: channels.token_revoke(token_id=row.pk, actor=request.user),
            gettext("%(count)d token(s) revoked."),
        )


@admin.register(OutboxMessage)
class OutboxMessageAdmin(StaffOnlyMixin, admin.ModelAdmin):
    """Queued tasks, read-only: what was published when, what the sweep re-queued and why, what
    still waits for the broker (docs/reliability.md#the-outbox)."""

    list_display = ("task", "reason", "created_at", "published_at", "attempts", "last_error")
    list_filter = ("task", ("published_at", admin.EmptyFieldListFilter))
    fields = (
        "task",
        "kwargs",
        "reason",
        "created_at",
        "published_at",
        "attempts",
        "last_error",
        "consumed_at",
    )
    readonly_fields = fields

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
