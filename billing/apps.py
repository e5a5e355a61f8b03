from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "billing"
    verbose_name = _("Billing")
    default_auto_field = "django.db.models.BigAutoField"

    # LINE account managers edit plans, subscriptions, government contracts and promotion codes,
    # and run and check month-end billing (docs/permissions.md). Merged by
    # ``lbm.staff_groups.ensure_staff_groups`` after every migrate. Reviewers get nothing here.
    # Invoices and usage are never edited by hand: view only, plus credit/debit notes.
    staff_permissions = {
        "LINE account managers": [
            "billing.view_plan",
            "billing.change_plan",
            "billing.view_pricetier",
            "billing.add_pricetier",
            "billing.change_pricetier",
            "billing.view_billingcustomer",
            "billing.add_billingcustomer",
            "billing.change_billingcustomer",
            "billing.view_subscription",
            "billing.add_subscription",
            "billing.change_subscription",
            "billing.view_planchange",
            "billing.view_usagerecord",
            "billing.view_promotioncode",
            "billing.add_promotioncode",
            "billing.change_promotioncode",
            "billing.view_governmentcontract",
            "billing.add_governmentcontract",
            "billing.view_governmentblock",
            "billing.add_governmentblock",
            "billing.view_governmentaccount",
            "billing.change_governmentaccount",
            "billing.view_governmentrenewal",
            "billing.add_governmentrenewal",
            "billing.view_addonprice",
            "billing.add_addonprice",
            "billing.change_addonprice",
            "billing.view_invoice",
            "billing.run_billing",
            "billing.view_invoiceline",
            "billing.view_creditnote",
            "billing.add_creditnote",
            "billing.view_billingrun",
            "billing.view_einvoicetrack",
            "billing.add_einvoicetrack",
            # Proposals of high-value decisions; deciding one needs the right to propose it
            # (docs/billing.md#two-person-approvals).
            "billing.view_secondapproval",
        ],
    }

    def ready(self) -> None:
        from lbm import generations

        from .models import Plan, PlanChange, Subscription

        # Whether an account may send, as the API's workers keep it (lbm.generations).
        generations.watch(Plan, lambda plan: None)
        generations.watch(Subscription, lambda subscription: subscription.account_id)
        generations.watch(
            PlanChange,
            lambda change: (
                Subscription.objects.filter(pk=change.subscription_id)
                .values_list("account_id", flat=True)
                .first()
            ),
        )
