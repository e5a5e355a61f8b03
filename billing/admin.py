"""Billing pages for LINE account managers (staff only; customers and reviewers see none), one
module per workflow (Django's autodiscovery imports this one):

- ``admin_base``: staff-global rights (``staff_can``, ``BillingAdmin``, ``ReadOnlyAdmin``) and
  the second-approval filter, column and warning shared by the pages below;
- ``admin_plans``: plans, price tiers, add-on prices, billing customers, subscriptions (plan
  changes, usage against quota: ``usage_context``), plan changes and usage;
- ``admin_promotions``: promotion codes, one at a time or a batch;
- ``admin_government``: government contracts, their listed accounts, renewals and blocks;
- ``admin_invoices``: invoices, credit notes, billing runs and e-invoice number tracks;
- ``admin_approvals``: second approvals of high-value decisions;
- ``selfservice_admin``: the Official Account administrators' pages (same admin site).

Thin: rights are the account managers' global permissions, every write is a service, issued
invoices and notes are read-only, usage is a ledger nobody edits.
"""

from . import selfservice_admin  # noqa: F401  (administrators' pages, same admin site)
from .admin_approvals import DecisionFilter, SecondApprovalAdmin  # noqa: F401  (registered on import; names kept importable here)
from .admin_base import (  # noqa: F401
    ApprovalStateFilter,
    BillingAdmin,
    ReadOnlyAdmin,
    approval_state,
    staff_can,
    tell_if_waiting,
)
from .admin_government import (  # noqa: F401
    GovernmentAccountAdmin,
    GovernmentBlockAdmin,
    GovernmentBlockInline,
    GovernmentContractAdmin,
    GovernmentRenewalAdmin,
    RenewalForm,
    TermCloseForm,
)
from .admin_invoices import (  # noqa: F401
    BillingRunAdmin,
    CreditNoteAdmin,
    CreditNoteForm,
    CreditNoteInline,
    EInvoiceExportForm,
    EInvoiceTrackAdmin,
    EInvoiceTrackForm,
    InvoiceAdmin,
    InvoiceLineInline,
    PaymentStateFilter,
    RunBillingForm,
)
from .admin_plans import (  # noqa: F401
    AddOnPriceAdmin,
    BillingCustomerAdmin,
    BillingCustomerForm,
    PlanAdmin,
    PlanChangeAdmin,
    PlanChoiceForm,
    PriceTierAdmin,
    SubscriptionAddForm,
    SubscriptionAdmin,
    SubscriptionChangeForm,
    UsageRecordAdmin,
    usage_context,
)
from .admin_promotions import CodeBatchForm, PromotionCodeAdmin  # noqa: F401
