"""Official Account plans, subscriptions, usage and invoices (docs/billing.md; LON charging in
docs/notifications.md), one module per workflow:

- ``plans``: plans, price tiers and add-on prices as dated rows; billing customers;
- ``approvals``: second approvals (two people) and what is in effect;
- ``government``: government contracts, blocks, accounts and renewals;
- ``subscriptions``: subscriptions, the plan ledger, usage records, promotion codes;
- ``invoices``: billing runs, invoices and their lines, credit and debit notes, e-invoice
  number tracks, payments;
- ``selfservice``: Official Account administrators, their invitations, payment methods.

Models hold data and invariants; every write goes through ``billing.services``. Money is
``Decimal`` TWD; per-message rates have four decimal places. Times are stored in UTC and, on
usage rows, the Japan-time day and month that LINE counts them in (``billing.periods``).
"""

from .approvals import SecondApproval, _approval_field, in_effect
from .government import GovernmentAccount, GovernmentBlock, GovernmentContract, GovernmentRenewal
from .invoices import (
    BillingRun,
    CreditNote,
    EInvoiceAction,
    EInvoiceTrack,
    ImmutableMixin,
    Invoice,
    InvoiceLine,
    InvoicePayment,
)
from .plans import EXACT, MONEY, AddOn, AddOnPrice, BillingCustomer, Plan, PlanCode, PriceTier
from .selfservice import (
    AccountAdministrator,
    AccountAdministratorInvitation,
    PaymentMethod,
    PaymentMethodKind,
)
from .subscriptions import PlanChange, PromotionCode, Subscription, UsageKind, UsageRecord

__all__ = [
    "MONEY",
    "EXACT",
    "PlanCode",
    "Plan",
    "PriceTier",
    "AddOn",
    "AddOnPrice",
    "BillingCustomer",
    "SecondApproval",
    "in_effect",
    "_approval_field",
    "GovernmentContract",
    "GovernmentBlock",
    "GovernmentAccount",
    "GovernmentRenewal",
    "Subscription",
    "PlanChange",
    "UsageKind",
    "UsageRecord",
    "PromotionCode",
    "BillingRun",
    "ImmutableMixin",
    "Invoice",
    "InvoiceLine",
    "EInvoiceAction",
    "CreditNote",
    "EInvoiceTrack",
    "InvoicePayment",
    "AccountAdministrator",
    "AccountAdministratorInvitation",
    "PaymentMethodKind",
    "PaymentMethod",
]
