from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def enqueue_account_sync(link_id: int) -> None:
    """``lbm.services.link_approved_hooks`` entry (inside the link's transaction: an outbox row,
    published after commit)."""
    from lbm import outbox

    from .tasks import sync_account

    outbox.enqueue(sync_account, {"link_id": link_id}, reason="account linked")


def enqueue_account_detach(link_id: int) -> None:
    """``lbm.services.link_ended_hooks`` entry (inside the link's transaction)."""
    from lbm import outbox

    from .tasks import detach_account

    outbox.enqueue(detach_account, {"link_id": link_id}, reason="account unlinked")


class AudiencesConfig(AppConfig):
    name = "audiences"
    verbose_name = _("Audiences")
    default_auto_field = "django.db.models.BigAutoField"
    staff_permissions = {
        "LINE reviewers": ["audiences.view_audience", "audiences.view_linetag"],
        "LINE account managers": ["audiences.view_audience", "audiences.view_linetag"],
    }

    def ready(self):
        from lbm import services

        from . import receivers

        receivers.connect()

        if enqueue_account_sync not in services.link_approved_hooks:
            services.link_approved_hooks.append(enqueue_account_sync)
        if enqueue_account_detach not in services.link_ended_hooks:
            services.link_ended_hooks.append(enqueue_account_detach)
