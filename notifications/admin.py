"""Admin pages of notification messages, one module per workflow (Django's autodiscovery
imports this one):

- ``admin_applications``: customers' applications, and LINE reviewers' queue of them;
- ``admin_templates``: customers' templates and their versions, and LINE reviewers' queue;
- ``admin_notices``: read-only delivery records and webhooks, and the failed-notice export
  (Admins only);
- ``admin_common``: the account-scoped base admin and the reviewers' queue mixin they share.

Thin: rows from ``permissions.visible``, rights from ``permissions.can``, writes from
``notifications.services``.
"""

from .admin_applications import ApplicationAdmin, ApplicationForm, ApplicationReviewAdmin  # noqa: F401
from .admin_common import AccountScopedAdmin, ReviewerQueueMixin  # noqa: F401
from .admin_notices import (  # noqa: F401  (registered on import; names kept importable here)
    AttemptInline,
    FailedNoticeExportAdmin,
    NoticeAdmin,
    WebhookDeliveryAdmin,
)
from .admin_templates import (  # noqa: F401
    TemplateAdmin,
    TemplateForm,
    TemplateReviewAdmin,
    VersionInline,
    flagged_content,
    highlight,
)
