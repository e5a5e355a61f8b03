"""Idempotent billing demo data on top of ``seed_demo``: plans for two of 熊大's Official
Accounts, their own administrator, a promotion code and e-invoice number tracks."""

from datetime import date

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from billing import einvoice, periods, selfservice, services
from billing.models import BillingCustomer, EInvoiceTrack, PromotionCode, Subscription
from lbm.management.commands.seed_demo import DEMO_PASSWORD
from lbm.models import Account


class Command(BaseCommand):
    help = "Load idempotent billing demo data (run after seed_demo)."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        manager = User.objects.get(username="accountmanager")
        oa_admin, created = User.objects.get_or_create(
            username="oa_admin", defaults={"first_name": "官方帳號管理員",
                                           "email": "oa.admin@bearfood.example"})
        if created:
            oa_admin.set_password(DEMO_PASSWORD)
            oa_admin.save()
        today = periods.line_day(timezone.now())
        # Medium, bought with e-invoice details and a card (the seed's 情境三); and Light, never
        # registered anything (情境一/二): its administrator registers both before an upgrade.
        paid, _ = BillingCustomer.objects.get_or_create(
            name="熊大餐飲股份有限公司", defaults={
                "business_number": "53212539", "invoice_title": "熊大餐飲股份有限公司",
                "payment_method": BillingCustomer.PaymentMethod.CREDIT_CARD,
                "invoice_email": "billing@bearfood.example"})
        fresh, _ = BillingCustomer.objects.get_or_create(name="熊大外送（個人帳務）")
        for basic_id, customer, plan in [("@bea1234a", paid, "medium"),
                                         ("@brd5821k", fresh, "light")]:
            account = Account.objects.get(basic_id=basic_id)
            if not Subscription.objects.filter(account=account).exists():
                services.subscription_create(account_id=account.pk, customer_id=customer.pk,
                                             plan_code=plan, actor=manager,
                                             started_on=periods.previous_period(
                                                 periods.period_of(today)))
            selfservice.administrator_grant(account_id=account.pk, user=oa_admin,
                                            actor=manager)
        if not PromotionCode.objects.filter(code="DEMO1200").exists():
            services.promotion_code_create(code="DEMO1200", valid_from=date(today.year, 1, 1),
                                           valid_until=date(today.year, 12, 31), actor=manager)
        bimonth = einvoice.bimonth_of(today)
        for period, prefix in [(einvoice.bimonth_of(periods.previous_period(bimonth)), "LB"),
                               (bimonth, "LC")]:
            if not EInvoiceTrack.objects.filter(period=period).exists():
                services.einvoice_track_create(period=period, prefix=prefix,
                                               first_number=10_000_000,
                                               last_number=10_049_999, actor=manager)
        self.stdout.write(self.style.SUCCESS(
            "Billing demo data ready: oa_admin administers 熊大餐廳 (Medium) and 熊大外送 "
            "(Light); promotion code DEMO1200."))
