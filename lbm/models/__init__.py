"""Organizations, their members, linked accounts and account links (docs/organizations.md).

Models hold data and invariants only. Every state change goes through ``lbm.services``.

The package is split along the workflows; every name is re-exported here, so
``from lbm.models import X`` works whatever module ``X`` lives in:

- ``organizations``: ``Organization`` with its ``OrganizationStatus``, ``OrganizationKind``
  and ``Industry``.
- ``members``: ``Membership`` and ``MemberRole``, invitations (the abstract ``Invitation``,
  ``MembershipInvitation``), and django-guardian's ``OrganizationUserObjectPermission``.
- ``accounts``: ``Provider``, ``Account`` (``AccountKind``, ``AccountBadge``), ``AccountLink``
  (``LinkStatus``), and the review-queue proxies ``OrganizationReview`` and
  ``AccountLinkReview``.
- ``channels``: an Official Account's Messaging API ``Channel`` and its
  ``ChannelAccessToken``.
- ``outbox``: ``OutboxMessage``, the tasks published after commit (``lbm.outbox``).
- ``agency``: ``AgencyAccess`` (``AgencyRole``, ``AgencyAccessStatus``), the accounts it is
  limited to (``AgencyAccessAccount``) and the agency members assigned to it
  (``AgencyAssignment``).

Each submodule imports only the ones listed before it; no import cycle.
"""

# isort: off
# In the order of the former single module, so that the models register in the same order (the
# app registry's order is the order of related objects, hence of cascades and content types).
from .organizations import Industry, Organization, OrganizationKind, OrganizationStatus
from .members import (
    Invitation,
    MemberRole,
    Membership,
    MembershipInvitation,
    OrganizationUserObjectPermission,
)
from .accounts import (
    Account,
    AccountBadge,
    AccountKind,
    AccountLink,
    AccountLinkReview,
    LinkStatus,
    OrganizationReview,
    Provider,
)
from .channels import Channel, ChannelAccessToken
from .outbox import OutboxMessage
from .agency import (
    AgencyAccess,
    AgencyAccessAccount,
    AgencyAccessStatus,
    AgencyAssignment,
    AgencyRole,
)

# isort: on

__all__ = [
    "Account",
    "AccountBadge",
    "AccountKind",
    "AccountLink",
    "AccountLinkReview",
    "AgencyAccess",
    "AgencyAccessAccount",
    "AgencyAccessStatus",
    "AgencyAssignment",
    "AgencyRole",
    "Channel",
    "ChannelAccessToken",
    "Industry",
    "Invitation",
    "LinkStatus",
    "MemberRole",
    "Membership",
    "MembershipInvitation",
    "Organization",
    "OrganizationKind",
    "OrganizationReview",
    "OrganizationStatus",
    "OrganizationUserObjectPermission",
    "OutboxMessage",
    "Provider",
]
