"""What the audiences app does on its own signals (``audiences.signals``) and on Django's."""

from django.db.models.signals import post_delete, post_save


def share_new_resource(sender, instance, **kwargs) -> None:
    """A new organization audience or LINE Tag goes to every linked account set to share all
    (the rules decide per account; an account a rule excludes is skipped)."""
    from . import services

    services.resource_share_to_share_all_accounts(instance)


def snapshot_size(sender, instance, created=False, update_fields=None, raw=False,
                  **kwargs) -> None:
    """Every save that may change an audience's size records it when it changed."""
    if raw or (update_fields is not None and "size" not in update_fields):
        return
    from . import services

    services.size_snapshot(instance)


def connect() -> None:
    from .models import Audience, LineTag
    from .signals import resource_created

    resource_created.connect(share_new_resource, sender=Audience,
                             dispatch_uid="audiences.share_new_audience")
    resource_created.connect(share_new_resource, sender=LineTag,
                             dispatch_uid="audiences.share_new_line_tag")
    post_save.connect(snapshot_size, sender=Audience, dispatch_uid="audiences.snapshot_size")
    from . import intake

    post_save.connect(intake.tags_changed, sender=LineTag, dispatch_uid="audiences.tags_saved")
    post_delete.connect(intake.tags_changed, sender=LineTag,
                        dispatch_uid="audiences.tags_deleted")
