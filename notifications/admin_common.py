"""What the customers' pages and the reviewers' queues of notification messages share: the
account-scoped base admin, the Official Accounts a user may manage, and the reviewers' queue."""

from django.contrib import admin

from lbm import permissions
from lbm.admin_helpers import ReviewQueueMixin, ScopedAdminMixin
from lbm.history_admin import ReadOnlyHistoryAdmin as SimpleHistoryAdmin  # no revert
from lbm.models import Account
from lbm.permissions import Action


class AccountScopedAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    """Rows of Official Accounts linked (approved) to the user's organizations."""

    account_path = "account"

    def get_queryset(self, request):
        qs = admin.ModelAdmin.get_queryset(self, request)
        return permissions.visible(request.user, qs, account_path=self.account_path)

    def has_delete_permission(self, request, obj=None):
        return False


def _manageable_accounts(user):
    return permissions.visible(
        user,
        Account.objects.filter(kind=Account.Kind.OFFICIAL_ACCOUNT),
        Action.MANAGE_NOTIFICATIONS,
        account_path="pk",
    )


class ReviewerQueueMixin(ReviewQueueMixin):
    """A notification reviewers' queue (``lbm.admin_helpers.ReviewQueueMixin``)."""

    review_action = Action.REVIEW_NOTIFICATIONS
