"""Domain errors: each carries a translated, user-facing message that tests assert."""

from django.utils.translation import gettext as _


class DomainError(Exception):
    """A rule of the back office refused the request; ``str(error)`` says which and why."""

    def __init__(
        self,
        message: str,
        *,
        details: list[str] | None = None,
        field: str | None = None,
        errors: dict[str, list[str]] | None = None,
    ):
        self.message = message
        self.details = list(details or [])
        # The input the refusal is about (a model field or service argument name), so that a
        # form can show it next to that field (lbm.admin_helpers.show_refusal).
        self.field = field
        self.errors = dict(errors or {})  # several fields at once: {field: [messages]}
        super().__init__(message)

    def __str__(self) -> str:
        if not self.details:
            return self.message
        return "{} {}".format(self.message, " ".join(self.details))


class NotAllowed(DomainError):
    """The user's role (or staff capability) does not allow this action on this object."""


class InvalidTransition(DomainError):
    def __init__(self, current: str, target: str):
        super().__init__(
            _("This cannot change from “%(current)s” to “%(target)s”.")
            % {"current": current, "target": target}
        )


class IncompleteBusinessInfo(DomainError):
    pass


class IneligibleLink(DomainError):
    """An account link fails one or more eligibility rules; ``details`` names each one."""


class AccountAlreadyLinked(DomainError):
    pass


class LastAdmin(DomainError):
    pass


class InvalidVerificationLink(DomainError):
    pass
