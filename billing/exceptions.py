"""Billing's domain errors, each with a translated message that tests assert."""

from django.utils.translation import gettext as _

from lbm.exceptions import DomainError
from lbm.formatting import count


class BillingError(DomainError):
    """A billing rule refused the request."""


class ImmutableDocument(BillingError):
    def __init__(self):
        super().__init__(
            _(
                "An issued invoice or note cannot be changed or deleted; issue a "
                "credit or debit note instead."
            )
        )


class QuotaExceeded(BillingError):
    """Sending would exceed the account's monthly quota or message limit."""

    def __init__(self, *, quota: int, used: int, requested: int):
        self.quota, self.used, self.requested = quota, used, requested
        super().__init__(
            _(
                "This send of %(requested)s messages exceeds the monthly limit of %(quota)s "
                "messages: %(used)s have been used this month, so %(left)s are left."
            )
            % {
                "requested": count(requested),
                "quota": count(quota),
                "used": count(used),
                "left": count(max(quota - used, 0)),
            }
        )


class PlanChangeRefused(BillingError):
    pass


class PromotionCodeRefused(BillingError):
    pass


class PeriodNotClosed(BillingError):
    pass


class AccountSuspended(BillingError):
    """The Official Account is suspended and cannot send."""
