"""Who and why for the audit trail (django-simple-history), shared by every app's services."""


def record_change(obj, *, actor, reason) -> None:
    """Attach who and why to the history row that the next ``save()`` or ``delete()`` of
    ``obj`` writes. The reason is cut to the 100 characters the history column holds."""
    obj._history_user = actor
    obj._change_reason = str(reason or "")[:100]
