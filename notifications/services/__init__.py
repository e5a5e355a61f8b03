"""Every write of the notifications app (LON, docs/notifications.md).

Services the HTTP API calls with plain Python data (keyword-only; ``actor`` is ``None`` for a
request authenticated by a channel access token, a user for the admin):

``notice_send(*, account_id, to, template_version_id, values=None, delivery_tag="", actor=None,
request_id=None) -> Notice``
    ``POST /bot/pnp/push``: ``to`` is a phone number in any common format or the lower-case
    hex SHA-256 of its E.164 form; ``delivery_tag`` the ``X-Line-Delivery-Tag`` header. Raises
    ``SendRefused`` (nothing recorded, nothing charged) for every bad input.

``notice_send_batch(*, account_id, template_version_id, items, actor=None, request_id=None)
-> BatchResult``
    The same for many recipients, set-based (a constant number of queries per 10,000 notices).
    ``items``: iterable of ``{"to": str, "values": dict, "delivery_tag": str}``. All or nothing:
    one bad item refuses the batch, naming the items.

``notices_settle(*, now=None, phone_hashes=None) -> SettleResult``
    Re-judge pending notices: deliver those whose user consented, verified or unblocked, fail
    those past their 24 hours. Idempotent; the beat-scheduled task calls it every 5 minutes, and
    the LINE user directory may call it with ``phone_hashes`` when a user changes.

``push_check(*, account, user_id) -> None``
    Before an ordinary (non-LON) push: raises ``NotAFriend`` unless the user is a friend.

Reads (daily counts, ``GET /v2/bot/message/delivery/pnp``) are in ``notifications.selectors``.

The code is split along its workflows (docs/notifications.md#where-the-code-is); this package
re-exports the names other modules import, except two modules only the API imports, by name:
``notifications.services.push`` (the phone-number push fast path: ``sender_for``,
``template_match``, ``notice_push``) and ``notifications.services.narrowcast``
(``narrowcast_send``). A module global that changes at run time lives in
its submodule: read, set or monkeypatch it there (``charging._finish_sent_at``,
``webhooks.WEBHOOK_DEADLINE``), not on this package.
"""

from .applications import (
    FILE_FIELDS,
    application_advance,
    application_create,
    application_eligibility,
    application_reinstate,
    application_reject,
    application_submit,
    application_suspend,
    application_transition,
    application_update,
)
from .charging import (
    FINISH_CHUNK,
    FINISH_DELAY,
    finish_soon,
    notices_finish,
)
from .common import (
    FAN_OUT_CHUNK,
    INSERT_BATCH,
    LOOKUP_CHUNK,
    SETTLE_CHUNK,
)
from .exports import (
    failed_notices_export,
    notices_purge,
)
from .ordinary import (
    push_check,
    push_refusals,
)
from .rows import (
    NOTICE_COLUMNS,
)
from .rules import (
    TAG_MAX,
    TAG_MIN,
    Prepared,
    UserState,
    _keyed_hasher,
    delivery_tag_problem,
    e164_of,
    judge,
    line_hash_of,
    months_before,
    template_pattern,
)
from .sending import (
    BatchResult,
    notice_send,
    notice_send_batch,
    user_states,
)
from .settling import (
    SettleResult,
    notices_settle,
)
from .templates import (
    template_create,
    template_review,
    template_revise,
    template_submit,
)
from .webhooks import (
    WEBHOOK_CLAIM,
    WEBHOOK_DEADLINE,
    WEBHOOK_MAX_ATTEMPTS,
    WEBHOOK_STUCK_AFTER,
    WEBHOOK_TIME_LIMIT,
    WEBHOOK_TIMEOUT,
    WebhookTemporaryError,
    _claim,
    new_event_id,
    signature,
    webhook_attempt,
    webhook_body,
    webhook_client,
    webhooks_sweep,
)

__all__ = [
    "BatchResult",
    "FAN_OUT_CHUNK",
    "FILE_FIELDS",
    "FINISH_CHUNK",
    "FINISH_DELAY",
    "INSERT_BATCH",
    "LOOKUP_CHUNK",
    "NOTICE_COLUMNS",
    "Prepared",
    "SETTLE_CHUNK",
    "SettleResult",
    "TAG_MAX",
    "TAG_MIN",
    "UserState",
    "WEBHOOK_CLAIM",
    "WEBHOOK_DEADLINE",
    "WEBHOOK_MAX_ATTEMPTS",
    "WEBHOOK_STUCK_AFTER",
    "WEBHOOK_TIMEOUT",
    "WEBHOOK_TIME_LIMIT",
    "WebhookTemporaryError",
    "_claim",
    "_keyed_hasher",
    "application_advance",
    "application_create",
    "application_eligibility",
    "application_reinstate",
    "application_reject",
    "application_submit",
    "application_suspend",
    "application_transition",
    "application_update",
    "delivery_tag_problem",
    "e164_of",
    "failed_notices_export",
    "finish_soon",
    "judge",
    "line_hash_of",
    "months_before",
    "new_event_id",
    "notice_send",
    "notice_send_batch",
    "notices_finish",
    "notices_purge",
    "notices_settle",
    "push_check",
    "push_refusals",
    "signature",
    "template_create",
    "template_pattern",
    "template_review",
    "template_revise",
    "template_submit",
    "user_states",
    "webhook_attempt",
    "webhook_body",
    "webhook_client",
    "webhooks_sweep",
]
