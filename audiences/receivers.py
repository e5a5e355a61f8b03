"""What the audiences app does on its own signals (``audiences.signals``), on the lbm app's
(``lbm.signals``: account links) and on Django's."""

from django.db.models.signals import post_delete, post_save


def share_new_resource(sender, instance, **kwargs) -> None:
    """A new organization audience or LINE Tag goes to every linked account set to share all
    (the rules decide per account; an account a rule excludes is skipped)."""
    from . import services

    services.resource_share_to_share_all_accounts(instance)


def snapshot_size(sender, instance, created=False, update_fields=None, raw=False, **kwargs) -> None:
    """Every save that may change an audience's size records it when it changed."""
    if raw or (update_fields is not None and "size" not in update_fields):
        return
    from . import services

    services.size_snapshot(instance)


def enqueue_account_sync(sender, link_id: int, **kwargs) -> None:
    """On ``lbm.signals.link_approved`` (inside the link's transaction): an outbox row for the
    account's sync, published after commit."""
    from lbm import outbox

    from .tasks import sync_account

    outbox.enqueue(sync_account, {"link_id": link_id}, reason="account linked")


def enqueue_account_detach(sender, link_id: int, **kwargs) -> None:
    """On ``lbm.signals.link_ended`` (inside the link's transaction): an outbox row for
    detaching the account, published after commit."""
    from lbm import outbox

    from .tasks import detach_account

    outbox.enqueue(detach_account, {"link_id": link_id}, reason="account unlinked")


def connect() -> None:
    from lbm.models import AccountLink
    from lbm.signals import link_approved, link_ended

    from .models import Audience, LineTag
    from .signals import resource_created

    link_approved.connect(
        enqueue_account_sync, sender=AccountLink, dispatch_uid="audiences.sync_linked_account"
    )
    link_ended.connect(
        enqueue_account_detach, sender=AccountLink, dispatch_uid="audiences.detach_unlinked_account"
    )

    resource_created.connect(
        share_new_resource, sender=Audience, dispatch_uid="audiences.share_new_audience"
    )
    resource_created.connect(
        share_new_resource, sender=LineTag, dispatch_uid="audiences.share_new_line_tag"
    )
    post_save.connect(snapshot_size, sender=Audience, dispatch_uid="audiences.snapshot_size")
    from . import intake

    post_save.connect(intake.tags_changed, sender=LineTag, dispatch_uid="audiences.tags_saved")
    post_delete.connect(intake.tags_changed, sender=LineTag, dispatch_uid="audiences.tags_deleted")
