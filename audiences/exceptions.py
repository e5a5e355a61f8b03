"""Domain errors of the audiences app (translated messages that tests assert)."""

from lbm.exceptions import DomainError

from .importers import UploadRejected


class AudienceError(DomainError):
    """An audience cannot be created or changed as asked."""


class IdTypeNotGuessed(AudienceError):
    """The first lines of an upload do not show its ID type: the person chooses it."""


class SharingRefused(DomainError):
    """A sharing rule (docs/audiences.md) refuses the share; ``details`` names each reason."""


__all__ = ["AudienceError", "DomainError", "IdTypeNotGuessed", "SharingRefused", "UploadRejected"]
