from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")
    default_auto_field = "django.db.models.BigAutoField"

    # Merged into the staff groups by ``lbm.permissions.ensure_staff_groups()``: reviewers see
    # every application, template, notice and webhook (rights to act come from
    # ``lbm.review_notifications``).
    staff_permissions = {
        "LINE reviewers": [
            "notifications.view_application", "notifications.view_applicationreview",
            "notifications.view_template", "notifications.view_templateversion",
            "notifications.view_templateversionreview", "notifications.view_notice",
            "notifications.view_webhookdelivery", "notifications.view_webhookattempt",
        ],
        "LINE account managers": [
            "notifications.view_application", "notifications.view_notice",
        ],
    }
