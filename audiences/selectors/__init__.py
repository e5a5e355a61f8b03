"""Reads of the audiences app: the audiences a user sees, sizes, where an audience may be used
and shared, members and exports, upload progress, pages for the API and insight.

Where each read lives: ``audiences`` (visible audiences, organizations where a user may act,
why they may not upload, the name check), ``sizes`` (matched LINE users, reachable counts,
lookalike sources and sizes, ``insight_number``), ``sharing`` (usages, share problems, share
all, what unsharing or unlinking stops), ``members`` (member and export lines, sealed copies),
``uploads`` (progress and the summary before confirming), ``pages`` (a page of audiences, the
API's prepared statement), ``insight`` (overlap, size history, reachable by account) and
``channels`` (the Messaging API's reads: what a channel may use). Every name is re-exported
here, so ``from audiences import selectors`` keeps working; a test that monkeypatches a name
must patch the submodule that uses it, not this package.
"""

from .audiences import audience_check_name, audiences_for, organizations_where, upload_refusal
from .channels import OWN, SHARED, audience_by_id, audience_usable_by_channel, audiences_shared_with
from .insight import audience_overlap, reachable_by_account, size_history
from .members import (
    estimated_member_count,
    export_lines,
    member_lines,
    members_without_sealed_copy,
    sealed_copies_open,
)
from .pages import PAGE_FIELDS, PageRow, audience_page, filtered_audiences, own_audience_page
from .sharing import (
    audience_usages,
    link_sharing_mode,
    linked_account_ids,
    share_all_account_ids,
    share_problems,
    unlink_consequence_lines,
    unlink_consequences,
    unshare_consequences,
)
from .sizes import (
    DIRECTORY_FIELD,
    INSIGHT_MINIMUM,
    insight_number,
    lookalike_source_available,
    lookalike_target_size,
    matched_users,
    reachable_count,
)
from .uploads import moved_key, progress_key, upload_status, upload_summary

__all__ = [
    "DIRECTORY_FIELD",
    "INSIGHT_MINIMUM",
    "OWN",
    "PAGE_FIELDS",
    "PageRow",
    "SHARED",
    "audience_by_id",
    "audience_check_name",
    "audience_overlap",
    "audience_page",
    "audience_usable_by_channel",
    "audience_usages",
    "audiences_for",
    "audiences_shared_with",
    "estimated_member_count",
    "export_lines",
    "filtered_audiences",
    "insight_number",
    "link_sharing_mode",
    "linked_account_ids",
    "lookalike_source_available",
    "lookalike_target_size",
    "matched_users",
    "member_lines",
    "members_without_sealed_copy",
    "moved_key",
    "organizations_where",
    "own_audience_page",
    "progress_key",
    "reachable_by_account",
    "reachable_count",
    "sealed_copies_open",
    "share_all_account_ids",
    "share_problems",
    "size_history",
    "unlink_consequence_lines",
    "unlink_consequences",
    "unshare_consequences",
    "upload_refusal",
    "upload_status",
    "upload_summary",
]
