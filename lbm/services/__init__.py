"""Every write to organizations, members and account links.

Each function locks what it changes, returns early when nothing changes (a repeated click or a
retried task), checks permissions through ``lbm.permissions``, records who and why in the
history, and sends side effects only once the transaction commits.

Where each workflow lives: ``organizations`` (create, edit, submit, review, delete),
``contact`` (the contact e-mail verification link), ``members`` (add, change the role of,
remove), ``member_invitations`` (invite, accept, revoke, sign-ins for invited people),
``links`` (find an account, request, review and end a link) and ``_base`` (the history row and
status transitions they share). Every service is re-exported below, with the exceptions they
raise and the reads of ``lbm.selectors`` that callers took from here, so ``from lbm import
services`` keeps working. A test that monkeypatches a name must patch the submodule that uses
it (``services.links.link_eligibility``), not this package.
"""

from ..exceptions import (
    AccountAlreadyLinked,
    DomainError,
    IncompleteBusinessInfo,
    IneligibleLink,
    InvalidTransition,
    InvalidVerificationLink,
    LastAdmin,
)
from ..selectors import (
    BUSINESS_INFO_FIELDS,
    RuleResult,
    business_info_missing,
    contact_email_is_verified,
    link_eligibility,
    submission_problems,
)
from .contact import (
    VERIFICATION_SALT,
    contact_verification_email_send,
    contact_verification_token,
    organization_send_contact_verification,
    organization_verify_contact,
)
from .links import find_account, link_end, link_request, link_review
from .member_invitations import (
    invited_user_register,
    membership_invitation_accept,
    membership_invitation_find,
    membership_invitation_revoke,
    membership_invite,
)
from .members import membership_add, membership_change, membership_remove
from .organizations import (
    organization_create,
    organization_delete,
    organization_review,
    organization_submit,
    organization_update,
    organization_validate_entity,
)

__all__ = [
    "AccountAlreadyLinked",
    "DomainError",
    "IncompleteBusinessInfo",
    "IneligibleLink",
    "InvalidTransition",
    "InvalidVerificationLink",
    "LastAdmin",
    "BUSINESS_INFO_FIELDS",
    "VERIFICATION_SALT",
    "RuleResult",
    "business_info_missing",
    "contact_email_is_verified",
    "contact_verification_email_send",
    "contact_verification_token",
    "find_account",
    "invited_user_register",
    "link_eligibility",
    "link_end",
    "link_request",
    "link_review",
    "membership_add",
    "membership_change",
    "membership_invitation_accept",
    "membership_invitation_find",
    "membership_invitation_revoke",
    "membership_invite",
    "membership_remove",
    "organization_create",
    "organization_delete",
    "organization_review",
    "organization_send_contact_verification",
    "organization_submit",
    "organization_update",
    "organization_validate_entity",
    "organization_verify_contact",
    "submission_problems",
]
