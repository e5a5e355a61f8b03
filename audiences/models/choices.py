"""Audience types, member ID types, usages, statuses, and the tables between them
(docs/audiences.md): which types each source holds, the upload type for each ID type, the
Messaging API's name for each type, and what each type may be used for on each kind of account.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class AudienceType(models.TextChoices):
    UPLOAD_UID = "upload_uid", _("User ID upload")
    UPLOAD_IFA = "upload_ifa", _("IDFA/AAID upload")
    UPLOAD_PHONE = "upload_phone", _("Phone number upload")
    UPLOAD_EMAIL = "upload_email", _("E-mail upload")
    CLICK = "click", _("Click retargeting")
    IMPRESSION = "imp", _("Impression retargeting")
    CHAT_TAG = "chat_tag", _("Chat tag")
    FRIEND_PATH = "friend_path", _("Friend path (join channel)")
    WEB_TRAFFIC = "webtraffic", _("Web traffic (LINE Tag)")
    RICHMENU_IMP = "richmenu_imp", _("Rich menu impression retargeting")
    RICHMENU_CLICK = "richmenu_click", _("Rich menu click retargeting")
    IMAGE_CLICK = "image_click", _("Image click")
    VIDEO_VIEW = "video_view", _("Video view")
    APP_EVENT = "app_event", _("App event")
    FRIENDS_BLOCKED = "friends_blocked", _("Friends and blocked users")
    LOOKALIKE = "lookalike", _("Lookalike")
    CONTENT_CLICK = "content_click", _("Content click")
    COMBINED = "combined", _("Combined audience")


class IdType(models.TextChoices):
    USER_ID = "user_id", _("LINE user ID")
    IFA = "ifa", _("IDFA/AAID")
    PHONE = "phone", _("Phone number")
    EMAIL = "email", _("E-mail address")


T = AudienceType
# docs/audiences.md: the types each source may hold. ``None`` is the organization itself.
TYPES_BY_SOURCE: dict[str | None, frozenset[str]] = {
    "oa": frozenset(
        {
            T.UPLOAD_UID,
            T.CLICK,
            T.IMPRESSION,
            T.CHAT_TAG,
            T.FRIEND_PATH,
            T.WEB_TRAFFIC,
            T.RICHMENU_IMP,
            T.RICHMENU_CLICK,
            T.UPLOAD_IFA,
        }
    ),
    "lap": frozenset(
        {
            T.UPLOAD_IFA,
            T.UPLOAD_PHONE,
            T.UPLOAD_EMAIL,
            T.WEB_TRAFFIC,
            T.IMAGE_CLICK,
            T.VIDEO_VIEW,
            T.APP_EVENT,
            T.FRIENDS_BLOCKED,
            T.LOOKALIKE,
        }
    ),
    "mvp": frozenset({T.IMAGE_CLICK, T.VIDEO_VIEW, T.CONTENT_CLICK}),
    "points_ads": frozenset(),
    None: frozenset({T.WEB_TRAFFIC, T.UPLOAD_IFA, T.UPLOAD_PHONE, T.UPLOAD_EMAIL, T.COMBINED}),
}
UPLOAD_TYPE_FOR_ID = {
    IdType.USER_ID: T.UPLOAD_UID,
    IdType.IFA: T.UPLOAD_IFA,
    IdType.PHONE: T.UPLOAD_PHONE,
    IdType.EMAIL: T.UPLOAD_EMAIL,
}
# The Messaging API's ``AudienceGroupType`` for each type (manage-audience.yml), for the API.
LINE_API_TYPE = {
    T.UPLOAD_UID: "UPLOAD",
    T.UPLOAD_IFA: "UPLOAD",
    T.CLICK: "CLICK",
    T.IMPRESSION: "IMP",
    T.CHAT_TAG: "CHAT_TAG",
    T.FRIEND_PATH: "FRIEND_PATH",
    T.APP_EVENT: "APP_EVENT",
    T.VIDEO_VIEW: "VIDEO_VIEW",
    T.WEB_TRAFFIC: "WEBTRAFFIC",
    T.IMAGE_CLICK: "IMAGE_CLICK",
    T.RICHMENU_IMP: "RICHMENU_IMP",
    T.RICHMENU_CLICK: "RICHMENU_CLICK",
}


class Usage(models.TextChoices):
    RETARGETING = "retargeting", _("Retargeting")
    EXCLUSION = "exclusion", _("Exclusion")
    LOOKALIKE = "lookalike", _("Lookalike source")


# Seed 000, "支援的廣告受眾種類說明": what each audience type may be used for on each kind of
# account. Every type not listed below: LAP retargeting, exclusion and lookalike; Official
# Accounts retargeting and exclusion. Friends and blocked users, and lookalike audiences, are
# for LAP only (retargeting and exclusion). No other kind of account takes shared audiences.
_EVERYWHERE = {
    "lap": (Usage.RETARGETING, Usage.EXCLUSION, Usage.LOOKALIKE),
    "oa": (Usage.RETARGETING, Usage.EXCLUSION),
}
_LAP_ONLY = {"lap": (Usage.RETARGETING, Usage.EXCLUSION)}
USAGE_BY_TYPE: dict[str, dict[str, tuple[str, ...]]] = {
    t: (_LAP_ONLY if t in (T.FRIENDS_BLOCKED, T.LOOKALIKE) else _EVERYWHERE)
    for t in AudienceType.values
}
del T


def usages(audience_type: str, account_kind: str) -> tuple[str, ...]:
    """What an audience of ``audience_type`` may be used for on an account of that kind."""
    return USAGE_BY_TYPE.get(audience_type, {}).get(account_kind, ())


class UrlMatch(models.TextChoices):
    ANY = "", _("Any page")
    EQUALS = "equals", _("URL equals")
    CONTAINS = "contains", _("URL contains")
    STARTS_WITH = "starts_with", _("URL starts with")


# A lookalike audience's size: this share of its LAP account's reachable users
# (docs/audiences.md#lookalike-audiences).
LOOKALIKE_MIN_PERCENT = 1
LOOKALIKE_MAX_PERCENT = 15


class AudienceStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", _("In progress")
    READY = "ready", _("Ready")
    FAILED = "failed", _("Failed")
    EXPIRED = "expired", _("Expired")


class CreateRoute(models.TextChoices):
    OA_MANAGER = "oa_manager", _("Official Account Manager")
    MESSAGING_API = "messaging_api", _("Messaging API")
    BUSINESS_MANAGER = "business_manager", _("Business Manager")


class CombineOperator(models.TextChoices):
    AND = "and", _("AND (in every audience)")
    OR = "or", _("OR (in any audience)")
    AND_NOT = "and_not", _("AND NOT (in the first, in none of the others)")
