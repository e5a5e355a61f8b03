"""The lbm app's admin pages, one module per workflow (Django's autodiscovery imports this one):

- ``admin_organizations``: organizations (form, next steps, submit, delete);
- ``admin_members``: members and invitations;
- ``admin_accounts``: providers, accounts and account links;
- ``admin_reviews``: LINE reviewers' queues of organizations and links;
- ``admin_channels``: Messaging API channels, their tokens, and the outbox.

The base classes and helpers other apps' admins use are public in ``lbm.admin_helpers``.
Thin by design: querysets come from ``permissions.visible``, rights from ``permissions.can``,
and every change from ``lbm.services``. Objects the user may not see answer 404, never 403.
"""

from .admin_accounts import (  # noqa: F401  (registered on import; names kept importable here)
    AccountAdmin,
    AccountLinkAdmin,
    LinkRequestForm,
    ProviderAdmin,
    link_end_consequences,
)
from .admin_channels import (  # noqa: F401
    AccessTokenInline,
    ChannelAccessTokenAdmin,
    ChannelAdmin,
    OutboxMessageAdmin,
)
from .admin_helpers import ScopedAdminMixin, StaffOnlyMixin  # noqa: F401
from .admin_members import InvitationForm, MembershipAdmin, MembershipInvitationAdmin  # noqa: F401
from .admin_organizations import OrganizationAdmin, OrganizationForm  # noqa: F401
from .admin_reviews import AccountLinkReviewAdmin, OrganizationReviewAdmin  # noqa: F401
