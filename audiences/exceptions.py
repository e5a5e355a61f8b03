"""Domain errors of the audiences app (translated messages that tests assert)."""

from lbm.exceptions import DomainError

from .importers import UploadRejected


class AudienceError(DomainError):
    """An audience cannot be created or changed as asked."""


class SharingRefused(DomainError):
    """A sharing rule (docs/audiences.md) refuses the share; ``details`` names each reason."""


__all__ = ["AudienceError", "DomainError", "SharingRefused", "UploadRejected"]
