"""Government main-plan contracts, their blocks of accounts, the accounts and the renewals
(docs/billing.md#government-plans)."""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from simple_history.models import HistoricalRecords

from .approvals import _approval_field
from .plans import BillingCustomer, Plan


class GovernmentContract(models.Model):
    """A government main-plan contract (docs/billing.md#government-plans): yearly, tax included,
    fixed plan for the term."""

    customer = models.ForeignKey(
        BillingCustomer,
        verbose_name=_("billing customer"),
        on_delete=models.PROTECT,
        related_name="government_contracts",
    )
    plan = models.ForeignKey(
        Plan,
        verbose_name=_("plan"),
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"code__in": Plan.GOVERNMENT_MAIN_PLANS},
    )
    main_account = models.ForeignKey(
        "lbm.Account", verbose_name=_("main account"), on_delete=models.PROTECT, related_name="+"
    )
    starts_on = models.DateField(_("term starts"))
    ends_on = models.DateField(_("term ends"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    # Every contract is proposed and approved by two staff members; billed only once approved.
    approval = _approval_field("government_contracts")

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("government contract")
        verbose_name_plural = _("government contracts")
        ordering = ["-starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_on__gt=models.F("starts_on")), name="govcontract_term_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.plan} {self.starts_on}–{self.ends_on}"


class GovernmentBlock(models.Model):
    """A purchase of sub-account or civil-servant accounts, billed by blocks of 10 for a full
    year and ending with the main contract's term."""

    class Kind(models.TextChoices):
        SUB_ACCOUNTS = "sub_accounts", _("Sub-account batch")
        CIVIL_SERVANTS = "civil_servants", _("Civil-servant accounts")

    contract = models.ForeignKey(
        GovernmentContract,
        verbose_name=_("contract"),
        on_delete=models.PROTECT,
        related_name="blocks",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    accounts = models.PositiveIntegerField(_("accounts"))
    purchased_on = models.DateField(_("purchased on"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("government account block")
        verbose_name_plural = _("government account blocks")
        ordering = ["contract", "purchased_on"]
        constraints = [
            models.CheckConstraint(condition=Q(accounts__gte=1), name="govblock_accounts_min"),
            models.CheckConstraint(
                condition=Q(kind__in=["sub_accounts", "civil_servants"]), name="govblock_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} × {self.accounts} ({self.purchased_on})"


class GovernmentAccount(models.Model):
    """An account on a government contract term's list (sub-accounts and civil servants).

    Civil-servant blocks are billed from the accounts that *ever* completed verification
    (``first_verified_at``, set once and never cleared): a civil servant who leaves is suspended
    and still counts (docs/billing.md#government-plans). The list is resubmitted for each renewal
    (``GovernmentRenewal``); an account not kept must be deleted by the agency
    (``deleted_on``) within the last 7 working days of the term."""

    Kind = GovernmentBlock.Kind

    contract = models.ForeignKey(
        GovernmentContract,
        verbose_name=_("contract"),
        on_delete=models.PROTECT,
        related_name="listed_accounts",
    )
    account = models.ForeignKey(
        "lbm.Account",
        verbose_name=_("Official Account"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=GovernmentBlock.Kind.choices)
    first_verified_at = models.DateTimeField(
        _("first verified at"),
        null=True,
        blank=True,
        help_text=_("When the account first completed verification; never cleared."),
    )
    kept_on_renewal = models.BooleanField(
        _("on the renewal list"),
        null=True,
        blank=True,
        help_text=_("Empty until the renewal list of this term is submitted."),
    )
    deleted_on = models.DateField(_("deleted by the agency on"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("government listed account")
        verbose_name_plural = _("government listed accounts")
        ordering = ["contract", "kind", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "account"], name="govaccount_once_per_term"
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["sub_accounts", "civil_servants"]),
                name="govaccount_kind_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["contract", "kind", "first_verified_at"], name="govaccount_verified"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.account_id}"

    @property
    def ever_verified(self) -> bool:
        return self.first_verified_at is not None


class GovernmentRenewal(models.Model):
    """The renewal list of a contract term: which listed accounts are kept for the next term
    (the others are flagged ``kept_on_renewal=False`` and must be deleted)."""

    contract = models.OneToOneField(
        GovernmentContract,
        verbose_name=_("term renewed"),
        on_delete=models.PROTECT,
        related_name="renewal",
    )
    next_contract = models.OneToOneField(
        GovernmentContract,
        verbose_name=_("next term"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="renews",
    )
    submitted_on = models.DateField(_("list submitted on"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("government renewal list")
        verbose_name_plural = _("government renewal lists")
        ordering = ["-submitted_on"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(next_contract=models.F("contract")),
                name="govrenewal_next_is_another_term",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract} ({self.submitted_on})"
