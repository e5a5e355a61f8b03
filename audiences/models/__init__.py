"""Audiences, their members, LINE Tags, and the directory of LINE users (docs/audiences.md).

Models hold data and invariants only; every write goes through ``audiences.services``.

The package is split along the workflows; every name is re-exported here, so
``from audiences.models import X`` works whatever module ``X`` lives in:

- ``directory``: the LINE user directory (``LineUser``, ``NotificationConsent``) and
  friendships with linked accounts (``Friendship``, ``FriendshipState``, ``FriendPath``).
- ``line_tags``: LINE Tags, their events and their sharing (``LineTag``, ``TagEvent``,
  ``LineTagShare``, ``EVENT_RETENTION``).
- ``choices``: audience types, member ID types, usages and statuses, and the tables between
  them (``AudienceType``, ``IdType``, ``TYPES_BY_SOURCE``, ``UPLOAD_TYPE_FOR_ID``,
  ``LINE_API_TYPE``, ``Usage``, ``USAGE_BY_TYPE``, ``usages``, ``UrlMatch``, ``AudienceStatus``,
  ``CreateRoute``, ``CombineOperator``, the lookalike size limits).
- ``audiences``: audiences, the inputs of combined audiences, members and size snapshots
  (``Audience``, ``AudienceComponent``, ``AudienceMember``, ``AudienceSizeSnapshot``,
  ``AUDIENCE_LIFETIME``).
- ``uploads``: files of IDs imported in the background (``AudienceUpload``, ``UploadStatus``).
- ``sharing``: audiences shared to linked accounts and how each link receives the
  organization's resources (``AudienceShare``, ``LinkSharing``, ``SharingMode``, the sharing
  thresholds).

The submodules import one another in that order only (none imports a later one); models in
other apps are referred to by name (``"lbm.Account"``).
"""

from .audiences import (
    AUDIENCE_LIFETIME,
    Audience,
    AudienceComponent,
    AudienceMember,
    AudienceSizeSnapshot,
)
from .choices import (
    LINE_API_TYPE,
    LOOKALIKE_MAX_PERCENT,
    LOOKALIKE_MIN_PERCENT,
    TYPES_BY_SOURCE,
    UPLOAD_TYPE_FOR_ID,
    USAGE_BY_TYPE,
    AudienceStatus,
    AudienceType,
    CombineOperator,
    CreateRoute,
    IdType,
    UrlMatch,
    Usage,
    usages,
)
from .directory import FriendPath, Friendship, FriendshipState, LineUser, NotificationConsent
from .line_tags import EVENT_RETENTION, LineTag, LineTagShare, TagEvent
from .sharing import (
    MIN_REACHABLE_TO_SEND,
    MIN_SIZE_TO_SHARE_TO_OA,
    AudienceShare,
    LinkSharing,
    SharingMode,
)
from .uploads import AudienceUpload, UploadStatus

__all__ = [
    "AUDIENCE_LIFETIME",
    "EVENT_RETENTION",
    "LINE_API_TYPE",
    "LOOKALIKE_MAX_PERCENT",
    "LOOKALIKE_MIN_PERCENT",
    "MIN_REACHABLE_TO_SEND",
    "MIN_SIZE_TO_SHARE_TO_OA",
    "TYPES_BY_SOURCE",
    "UPLOAD_TYPE_FOR_ID",
    "USAGE_BY_TYPE",
    "Audience",
    "AudienceComponent",
    "AudienceMember",
    "AudienceShare",
    "AudienceSizeSnapshot",
    "AudienceStatus",
    "AudienceType",
    "AudienceUpload",
    "CombineOperator",
    "CreateRoute",
    "FriendPath",
    "Friendship",
    "FriendshipState",
    "IdType",
    "LineTag",
    "LineTagShare",
    "LineUser",
    "LinkSharing",
    "NotificationConsent",
    "SharingMode",
    "TagEvent",
    "UploadStatus",
    "UrlMatch",
    "Usage",
    "usages",
]
