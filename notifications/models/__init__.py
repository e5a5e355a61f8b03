"""LINE notification messages (LON, docs/notifications.md): applications, reviewed templates,
notices sent by phone number, and the ``delivery`` webhooks they set off; one module per
workflow:

- ``scenarios``: the fixed windows and lists (scenarios 適用情境清單, service types, field rules);
- ``applications``: applications and LINE's review stages;
- ``templates``: templates and their reviewed versions;
- ``notices``: notices and failed-notice exports;
- ``webhooks``: delivery webhooks, their attempts, and the API's retry keys.

Models hold data and invariants only; every write goes through ``notifications.services``.

Personal data: a notice keeps the keyed hash of the phone number (``lbm.pii.keyed_hash``, the
form ``audiences.LineUser.phone_hash`` uses) for matching and counting. The LINE-style hash the
company sent (needed for the webhook's ``delivery.data`` and the failed-notice export) and the
placeholder values are kept only encrypted (``notifications.crypto``); the values are cleared
when the notice is settled, the hash ``RETENTION`` after that.
"""

from .applications import Application, ApplicationReview, Stage, _upload_to
from .notices import FailedNoticeExport, Notice, NoticeReason, NoticeState, UserFlow
from .scenarios import (
    FIELD_RULES,
    FORBIDDEN,
    MASKED,
    ONBOARDING_WORKING_DAYS,
    RESERVATION_SCENARIOS,
    RESERVATION_SERVICE_TYPES,
    RETENTION,
    SCENARIO_CATEGORY,
    SETTLE_WINDOW,
    SMS_VERIFICATION_MONTHS,
    Category,
    FieldKind,
    Scenario,
    ServiceType,
    Utility,
)
from .templates import CtaKind, Template, TemplateVersion, TemplateVersionReview, VersionStatus
from .webhooks import RETRY_KEY_WINDOW, RetryKey, WebhookAttempt, WebhookDelivery, WebhookState

__all__ = [
    "SETTLE_WINDOW",
    "SMS_VERIFICATION_MONTHS",
    "RETENTION",
    "ONBOARDING_WORKING_DAYS",
    "Category",
    "Scenario",
    "SCENARIO_CATEGORY",
    "ServiceType",
    "RESERVATION_SERVICE_TYPES",
    "RESERVATION_SCENARIOS",
    "Utility",
    "FieldKind",
    "FORBIDDEN",
    "MASKED",
    "FIELD_RULES",
    "Stage",
    "_upload_to",
    "Application",
    "ApplicationReview",
    "Template",
    "VersionStatus",
    "CtaKind",
    "TemplateVersion",
    "TemplateVersionReview",
    "NoticeState",
    "NoticeReason",
    "UserFlow",
    "Notice",
    "FailedNoticeExport",
    "WebhookState",
    "WebhookDelivery",
    "WebhookAttempt",
    "RETRY_KEY_WINDOW",
    "RetryKey",
]
