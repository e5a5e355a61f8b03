"""Helpers the lbm workflows share: the history row and a status change checked against the
model's ``TRANSITIONS``."""

from ..audit import record_change
from ..exceptions import InvalidTransition

_record = record_change  # lbm.audit: who and why for the history row


def _transition(obj, target: str) -> None:
    if target not in obj.TRANSITIONS[obj.status]:
        raise InvalidTransition(obj.get_status_display(), str(obj.Status(target).label))
