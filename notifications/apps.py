from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotificationsConfig(AppConfig):
    name = "notifications"
    verbose_name = _("Notifications")
    default_auto_field = "django.db.models.BigAutoField"

    # Merged into the staff groups by ``lbm.staff_groups.ensure_staff_groups()``: reviewers see
    # every application, template, notice and webhook (rights to act come from
    # ``lbm.review_notifications``).
    staff_permissions = {
        "LINE reviewers": [
            "notifications.view_application",
            "notifications.view_applicationreview",
            "notifications.view_template",
            "notifications.view_templateversion",
            "notifications.view_templateversionreview",
            "notifications.view_notice",
            "notifications.view_webhookdelivery",
            "notifications.view_webhookattempt",
        ],
        "LINE account managers": [
            "notifications.view_application",
            "notifications.view_notice",
        ],
    }

    def ready(self) -> None:
        from lbm import generations

        from .models import Application, Template, TemplateVersion

        # What a phone-number push keeps per worker (notifications.services.push.Sender).
        generations.watch(Application, lambda application: application.account_id)
        generations.watch(Template, lambda template: template.account_id)
        generations.watch(
            TemplateVersion,
            lambda version: (
                Template.objects.filter(pk=version.template_id)
                .values_list("account_id", flat=True)
                .first()
            ),
        )

        from billing.signals import before_billing

        before_billing.connect(_charge_before_billing, dispatch_uid="notifications.finish")


def _charge_before_billing(sender, **kwargs) -> None:
    """Delivered pushes not yet charged are charged before the month is billed."""
    from .services import notices_finish

    notices_finish()
