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


class NarrowcastRefused(NotificationError):
    """A narrowcast refused before anything was recorded (``notifications.services.narrowcast``).
    Only the Messaging API sends narrowcasts, and LINE's answers are in English, so the message
    is LINE's wording, not translated; ``status`` is the HTTP status LINE answers with and
    ``problems`` its ``details`` as (message, property) pairs."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        problems: list[tuple[str, str | None]] | None = None,
    ):
        self.status = status
        self.problems = list(problems or [])
        super().__init__(message, details=[text for text, _property in self.problems])
