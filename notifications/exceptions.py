"""Refusals of the notifications app: ``DomainError`` subclasses with translated messages."""

from lbm.exceptions import DomainError


class NotificationError(DomainError):
    """Base class of the notifications app's refusals."""


class ApplicationRefused(NotificationError):
    """The account may not apply, or the application cannot move to that stage."""


class TemplateRefused(NotificationError):
    """A template version breaks a rule (scenario restriction, masking rule, link, …)."""


class SendRefused(NotificationError):
    """A send was refused before anything was recorded (bad input or a sender not allowed)."""


class NotAFriend(NotificationError):
    """An ordinary (non-LON) push to a user who is not a friend of the account."""
