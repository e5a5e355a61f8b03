"""Every write of billing: subscriptions and plan changes, usage, promotion codes, government
contracts, month-end invoices and credit notes.

Services for other apps (stable signatures; keyword-only arguments):

``usage_record(*, account_id: int, kind: str, recipients: int, sent_at: datetime,
sends: int = 1, bubbles: int = 1, dedupe_key: str | None = None) -> UsageRecord``
    Record one send in the usage ledger. ``kind`` is a ``UsageRecord.Kind`` value; LINE
    notification messages (LON) use ``UsageRecord.Kind.NOTIFICATION`` ("notification") with
    ``recipients`` = the number of *delivered* notices, billed 0.2 each and not counted against
    the plan's quota. ``sent_at`` must be aware (stored UTC; the Japan-time day and month are
    derived). With a ``dedupe_key`` (e.g. the LINE request id) a repeated call returns the row
    already recorded instead of counting twice. ``bubbles`` (1–3) count as one message.
    ``"disaster_relief"`` (free, outside the quota) is for government main accounts whose sends
    LINE approved. Raises ``BillingError`` for an account without a subscription or a bad kind.

``quota_check(*, account_id: int, recipients: int, sent_at: datetime, kind: str = "broadcast",
cap: int | None = None) -> selectors.Quota``
    Call before a broadcast, narrowcast or push. Raises ``QuotaExceeded`` (a ``DomainError``
    whose message says the limit, what was used and what is left) when the send would pass the
    plan's free quota on a plan without extra messages, or the sender's monthly limit. ``cap`` is
    the sender's cap on this broadcast: at most that many messages are counted and sent.

Reads for the HTTP API are ``selectors.message_quota`` and ``selectors.message_consumption``.

Each write locks what it changes, returns early when nothing changes, checks the actor's
global billing permission, and records who and why in the history.

Where each workflow lives (docs/billing.md, "Where the code is"): ``subscriptions`` (creation,
plan changes, ``record_save``), ``usage`` (quota and ledger), ``promotions``, ``government``
(contracts, listed accounts, renewals, suspension), ``invoicing`` (``bill_month``),
``corrections`` (credit and debit notes, late usage), ``approvals`` (two people for
high-value decisions: proposals and their second approval) and ``einvoices`` (number tracks,
the buyer check). The names below are re-exported so ``from billing import services`` keeps
working; a test that monkeypatches a name must patch the submodule that uses it (e.g.
``services.invoicing.INVOICE_BATCH``).
"""

from .approvals import needs_second_approval, second_approval_approve, second_approval_reject
from .corrections import credit_note_create, late_usage_bill
from .einvoices import check_buyer, einvoice_track_create
from .government import (
    government_account_mark_deleted,
    government_account_verify,
    government_block_add,
    government_contract_propose,
    government_renewal_submit,
    government_term_close,
    subscription_suspend,
)
from .invoicing import BillingResult, Draft, bill_month
from .promotions import (
    _promotion_code_register,
    _usable_code,
    promotion_code_batch_propose,
    promotion_code_create,
    promotion_code_register,
)
from .subscriptions import _change_plan, record_save, subscription_change_plan, subscription_create
from .usage import quota_check, usage_record, usage_send

__all__ = [
    "BillingResult",
    "Draft",
    "_change_plan",
    "_promotion_code_register",
    "_usable_code",
    "bill_month",
    "check_buyer",
    "credit_note_create",
    "einvoice_track_create",
    "government_account_mark_deleted",
    "government_account_verify",
    "government_block_add",
    "government_contract_propose",
    "government_renewal_submit",
    "government_term_close",
    "late_usage_bill",
    "needs_second_approval",
    "promotion_code_batch_propose",
    "promotion_code_create",
    "promotion_code_register",
    "quota_check",
    "record_save",
    "second_approval_approve",
    "second_approval_reject",
    "subscription_change_plan",
    "subscription_create",
    "subscription_suspend",
    "usage_record",
    "usage_send",
]
