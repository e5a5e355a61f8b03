"""Every write to audiences, members, shares and LINE Tags.

Two front doors call these with plain Python data: the admin (forms, actions) and the Messaging
API's audience endpoints. ``ids`` arguments take a path, a binary file object or any iterable of
ID strings.

``actor`` is the signed-in user whose rights are checked through ``lbm.permissions``. The API
front door authenticates a channel by its access token instead; it passes ``actor=None`` with
``account_id`` for audiences created in that channel (``create_route=MESSAGING_API``).

Where each workflow lives (docs/audiences.md, "Where the code is"): ``audiences`` (upload
audiences from IDs, export, rename, delete), ``uploads`` (background uploads of files: keep,
check, confirm, import, sweep), ``sharing`` (shares and the share-all setting), ``line_tags``,
``computed`` (combined, web-traffic and lookalike audiences, computed in the database),
``accounts`` (link sync and detach, the periodic refresh, audiences that exist in an account)
and ``_base`` (helpers they share). The reads they use — the name check, the sharing rules,
lookalike sources and sizes — are in ``audiences.selectors``; ``audience_check_name`` and
``share_problems`` are re-exported here for existing callers, as are the exceptions the services
raise. The names below are re-exported
so ``from audiences import services`` keeps working; a test that monkeypatches a name must
patch the submodule that uses it (e.g. ``services.uploads.UPLOAD_STALL_AFTER``).
"""

from ..exceptions import AudienceError, IdTypeNotGuessed, SharingRefused, UploadRejected
from ..selectors import audience_check_name, share_problems
from ._base import size_snapshot
from .accounts import (
    account_audience_upsert,
    account_detach,
    account_sync,
    audience_create_tracking,
    audience_refresh,
    audiences_reconcile_links,
    audiences_refresh_all,
)
from .audiences import (
    Export,
    audience_add_ids,
    audience_create_from_ids,
    audience_delete,
    audience_export,
    audience_rename,
)
from .computed import (
    audience_combine,
    audience_lookalike_create,
    audience_rebuild,
    audience_web_traffic_create,
)
from .line_tags import (
    line_tag_create,
    line_tag_issue_token,
    line_tag_share,
    line_tag_unshare,
    tag_events_purge,
    web_traffic_recompute_all,
)
from .sharing import (
    ShareResult,
    audience_share,
    audience_unshare,
    link_sharing_set,
    resource_share_to_share_all_accounts,
)
from .uploads import (
    UPLOAD_STALE_AFTER,
    UPLOAD_STALL_AFTER,
    upload_cancel,
    upload_check,
    upload_check_process,
    upload_confirm,
    upload_process,
    upload_progress_set,
    upload_start,
    uploads_sweep,
)

__all__ = [
    "AudienceError",
    "IdTypeNotGuessed",
    "SharingRefused",
    "UploadRejected",
    "UPLOAD_STALE_AFTER",
    "UPLOAD_STALL_AFTER",
    "Export",
    "ShareResult",
    "account_audience_upsert",
    "account_detach",
    "account_sync",
    "audience_add_ids",
    "audience_check_name",
    "audience_combine",
    "audience_create_from_ids",
    "audience_create_tracking",
    "audience_delete",
    "audience_export",
    "audience_lookalike_create",
    "audience_rebuild",
    "audience_refresh",
    "audience_rename",
    "audience_share",
    "audience_unshare",
    "audience_web_traffic_create",
    "audiences_reconcile_links",
    "audiences_refresh_all",
    "line_tag_create",
    "line_tag_issue_token",
    "line_tag_share",
    "line_tag_unshare",
    "link_sharing_set",
    "resource_share_to_share_all_accounts",
    "share_problems",
    "size_snapshot",
    "tag_events_purge",
    "upload_cancel",
    "upload_check",
    "upload_check_process",
    "upload_confirm",
    "upload_process",
    "upload_progress_set",
    "upload_start",
    "uploads_sweep",
    "web_traffic_recompute_all",
]
