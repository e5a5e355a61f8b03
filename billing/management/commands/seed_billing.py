"""Idempotent billing demo data on top of ``seed_demo`` (docs/billing.md#demo-data), all
through the services: customers with e-invoice details and a payment method, Official
Accounts on Light, Medium and High, three past months of usage (熊大燒肉 on High well into the
overage tiers), those months invoiced (so ``bill_month`` for last month has nothing left to do),
a plan change in each direction, a credit note, promotion codes unused, registered and used, a
government contract on plan A (proposed by ``accountmanager``, approved by ``accountmanager2``)
with a sub-account block and a civil-servant account, and a batch of promotion codes waiting for
its second approval. Also the
administrator ``oa_admin`` of 熊大餐廳 and 熊大外送 and the e-invoice number tracks. Running it
again changes nothing."""

from datetime import date, datetime, time, timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from billing import einvoice, periods, selfservice, services
from billing.models import (
    BillingCustomer,
    CreditNote,
    EInvoiceTrack,
    GovernmentAccount,
    GovernmentBlock,
    GovernmentContract,
    Invoice,
    Plan,
    PlanChange,
    PromotionCode,
    SecondApproval,
    Subscription,
    UsageRecord,
)
from lbm.management.commands.seed_demo import DEMO_PASSWORD
from lbm.models import Account

PAST_MONTHS = 3
# Official Accounts of the billing demo: name, basic ID, plan, messages a month (broadcasts).
ACCOUNTS = [
    ("熊大燒肉", "@bbq2001a", "high", 48_000),  # 6,000 free, then the graduated tiers
    ("熊大早午餐", "@brn2002b", "medium", 2_400),  # downgrade to Light scheduled
    ("熊大飲料", "@drk2003c", "light", 180),  # upgraded to Medium with a promotion code
]
# 熊大's branches on Light, linked to 熊大餐飲集團: their LON applications are seed_notifications'.
BRANCHES = [
    ("熊大餐廳 信義店", "@bxy1001a"),
    ("熊大餐廳 板橋店", "@bxy1002b"),
    ("熊大餐廳 台中店", "@bxy1003c"),
    ("熊大餐廳 高雄店", "@bxy1004d"),
    ("熊大餐廳 新竹店", "@bxy1005e"),
    ("熊大餐廳 台南店", "@bxy1006f"),
]
GOV_NUMBER = "04115139"
GOVERNMENT = [  # name, basic ID, plan
    ("臺北旅遊網", "@tpe3001a", "gov_a"),
    ("臺北旅遊網 北投溫泉", "@tpe3002b", "gov_sub"),
    ("臺北市政府 公務帳號 01", "@tpe3003c", "gov_civil"),
]


class Command(BaseCommand):
    help = "Load idempotent billing demo data (run after seed_demo)."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        manager = User.objects.get(username="accountmanager")
        # The second person: approves what needs two (docs/billing.md#two-person-approvals).
        self.second = User.objects.get(username="accountmanager2")
        oa_admin, created = User.objects.get_or_create(
            username="oa_admin",
            defaults={"first_name": "官方帳號管理員", "email": "oa.admin@bearfood.example"},
        )
        if created:
            oa_admin.set_password(DEMO_PASSWORD)
            oa_admin.save()
        today = periods.line_day(timezone.now())
        # Medium, bought with e-invoice details and a card (the seed's 情境三); and Light, never
        # registered anything (情境一/二): its administrator registers both before an upgrade.
        paid, _ = BillingCustomer.objects.get_or_create(
            name="熊大餐飲股份有限公司",
            defaults={
                "business_number": "53212539",
                "invoice_title": "熊大餐飲股份有限公司",
                "payment_method": BillingCustomer.PaymentMethod.CREDIT_CARD,
                "invoice_email": "billing@bearfood.example",
            },
        )
        fresh, _ = BillingCustomer.objects.get_or_create(name="熊大外送（個人帳務）")
        for basic_id, customer, plan in [
            ("@bea1234a", paid, "medium"),
            ("@brd5821k", fresh, "light"),
        ]:
            account = Account.objects.get(basic_id=basic_id)
            if not Subscription.objects.filter(account=account).exists():
                services.subscription_create(
                    account_id=account.pk,
                    customer_id=customer.pk,
                    plan_code=plan,
                    actor=manager,
                    started_on=self._months_ago(today, PAST_MONTHS),
                )
            selfservice.administrator_grant(account_id=account.pk, user=oa_admin, actor=manager)
        if not PromotionCode.objects.filter(code="DEMO1200").exists():
            services.promotion_code_create(
                code="DEMO1200",
                valid_from=date(today.year, 1, 1),
                valid_until=date(today.year, 12, 31),
                actor=manager,
            )
        self._tracks(manager, today)
        self._more(manager, paid, today)
        invoiced = ", ".join(
            periods.period_label(self._months_ago(today, n)) for n in range(PAST_MONTHS, 0, -1)
        )
        self.stdout.write(
            self.style.SUCCESS(
                "Billing demo data ready: oa_admin administers 熊大餐廳 (Medium) and 熊大外送 "
                f"(Light); promotion code DEMO1200; {invoiced} invoiced; a government contract on "
                "plan A."
            )
        )

    @staticmethod
    def _months_ago(today, months: int) -> date:
        period = periods.period_of(today)
        for _i in range(months):
            period = periods.previous_period(period)
        return period

    def _tracks(self, manager, today):
        """E-invoice number tracks for every two-month period invoiced here, and the current."""
        wanted = {einvoice.bimonth_of(self._months_ago(today, n)) for n in range(PAST_MONTHS + 1)}
        prefixes = iter(["LA", "LB", "LC", "LD"])
        for period in sorted(wanted):
            prefix = next(prefixes)
            if not EInvoiceTrack.objects.filter(period=period).exists():
                services.einvoice_track_create(
                    period=period,
                    prefix=prefix,
                    first_number=10_000_000,
                    last_number=10_049_999,
                    actor=manager,
                )

    def _account(self, name, basic_id, provider=None, business_number="53212539"):
        account = Account.objects.filter(basic_id=basic_id).first()
        if account is None:
            account = Account(
                kind="oa",
                name=name,
                basic_id=basic_id,
                badge="blue",
                business_number=business_number,
                provider=provider,
            )
            account.full_clean()  # LINE's record, as seed_demo adds them
            account.save()
        return account

    def _customer(self, manager, name, **fields):
        customer = BillingCustomer.objects.filter(name=name).first()
        if customer is None:
            customer = services.record_save(obj=BillingCustomer(name=name, **fields), actor=manager)
        return customer

    def _more(self, manager, paid, today):
        start = self._months_ago(today, PAST_MONTHS)
        subs = {}
        for name, basic_id, plan, _monthly in ACCOUNTS:
            account = self._account(name, basic_id)
            subs[basic_id] = Subscription.objects.filter(
                account=account
            ).first() or services.subscription_create(
                account_id=account.pk,
                customer_id=paid.pk,
                plan_code=plan,
                actor=manager,
                started_on=start,
            )
        self._branches(manager, paid)
        contract = self._government(manager, today)
        self._usage(today, contract)
        for n in range(PAST_MONTHS, 0, -1):
            period = self._months_ago(today, n)
            if periods.is_closed(period) and not Invoice.objects.filter(period=period).exists():
                services.bill_month(period=period, actor=manager, triggered_by="seed_billing")
        self._credit_note(manager, paid, today)
        self._plan_changes_and_codes(manager, subs, today)

    def _branches(self, manager, paid):
        from lbm import services as lbm_services
        from lbm.models import AccountLink, Membership, Organization, Provider

        bear = Organization.objects.get(business_number="53212539")
        owner = Membership.objects.filter(organization=bear, role="admin").first().user
        reviewer = get_user_model().objects.get(username="reviewer")
        provider = Provider.objects.get(name="熊大餐飲：熊大餐廳")
        for name, basic_id in BRANCHES:
            account = self._account(name, basic_id, provider=provider)
            if not AccountLink.objects.filter(account=account).exists():
                link = lbm_services.link_request(
                    organization_id=bear.pk, actor=owner, account_identifier=basic_id
                )
                lbm_services.link_review(link_id=link.pk, decision="approved", actor=reviewer)
            if not Subscription.objects.filter(account=account).exists():
                services.subscription_create(
                    account_id=account.pk, customer_id=paid.pk, plan_code="light", actor=manager
                )

    def _usage(self, today, contract):
        """Broadcasts on ten days of each past month (Japan time), each row once (dedupe)."""
        volumes = [(basic_id, monthly) for _n, basic_id, _p, monthly in ACCOUNTS]
        volumes += [("@bea1234a", 2_100), ("@brd5821k", 150)]
        for months in range(PAST_MONTHS, 0, -1):
            period = self._months_ago(today, months)
            for basic_id, monthly in volumes:
                account = Account.objects.get(basic_id=basic_id)
                for day in range(10):
                    sent_at = datetime.combine(
                        period + timedelta(days=2 * day + 1), time(11, 30), tzinfo=periods.JAPAN
                    )
                    services.usage_record(
                        account_id=account.pk,
                        kind=UsageRecord.Kind.BROADCAST,
                        recipients=monthly // 10,
                        sent_at=sent_at,
                        dedupe_key=f"demo-{basic_id}-{sent_at:%Y%m%d}",
                    )
            if contract is not None and period >= contract.starts_on:
                main = contract.main_account
                for day in range(6):
                    sent_at = datetime.combine(
                        period + timedelta(days=4 * day + 2), time(9, 0), tzinfo=periods.JAPAN
                    )
                    services.usage_record(
                        account_id=main.pk,
                        kind=UsageRecord.Kind.BROADCAST,
                        recipients=12_000,
                        sent_at=sent_at,
                        dedupe_key=f"demo-{main.basic_id}-{sent_at:%Y%m%d}",
                    )

    def _government(self, manager, today):
        plan = Plan.objects.get(code=Plan.Code.GOV_A)
        customer = self._customer(
            manager,
            "臺北市政府觀光傳播局",
            business_number=GOV_NUMBER,
            invoice_title="臺北市政府觀光傳播局",
            payment_method="transfer",
            invoice_email="billing@gov.taipei.example",
        )
        contract = GovernmentContract.objects.filter(customer=customer).first()
        if contract is None:
            starts = self._months_ago(today, PAST_MONTHS)
            if plan.sold_from and starts < plan.sold_from:
                starts = plan.sold_from
            if plan.sold_until and starts > plan.sold_until:
                return None  # plan A is no longer sold: no new demo contract
            main = self._account(*GOVERNMENT[0][:2], business_number=GOV_NUMBER)
            contract = services.government_contract_propose(
                customer_id=customer.pk,
                plan_code=plan.code,
                main_account_id=main.pk,
                starts_on=starts,
                ends_on=starts.replace(year=starts.year + 1) - timedelta(days=1),
                actor=manager,
                reason="年度 LINE 官方帳號採購案",
            )
            services.second_approval_approve(
                approval_id=contract.approval_id, actor=self.second, note="已核對採購契約。"
            )
        if not GovernmentBlock.objects.filter(contract=contract).exists():
            services.government_block_add(
                contract_id=contract.pk,
                kind="sub_accounts",
                accounts=10,
                purchased_on=contract.starts_on,
                actor=manager,
            )
        for name, basic_id, code in GOVERNMENT[1:]:
            account = self._account(name, basic_id, business_number=GOV_NUMBER)
            if not Subscription.objects.filter(account=account).exists():
                services.subscription_create(
                    account_id=account.pk,
                    customer_id=customer.pk,
                    plan_code=code,
                    contract_id=contract.pk,
                    started_on=contract.starts_on,
                    actor=manager,
                    target_friends=3_200 if code == "gov_sub" else None,
                )
        civil = GovernmentAccount.objects.get(contract=contract, account__basic_id="@tpe3003c")
        services.government_account_verify(
            listed_account_id=civil.pk,
            actor=manager,
            verified_at=datetime.combine(
                contract.starts_on + timedelta(days=3), time(10), tzinfo=periods.JAPAN
            ),
        )  # only the first one counts
        return contract

    def _credit_note(self, manager, paid, today):
        invoice = Invoice.objects.filter(customer=paid, period=self._months_ago(today, 1)).first()
        if (
            invoice is not None
            and not CreditNote.objects.filter(invoice=invoice, kind="credit").exists()
        ):
            services.credit_note_create(
                invoice_id=invoice.pk,
                kind="credit",
                amount=min(invoice.total, 200) or 1,
                reason="系統維護期間推播延遲，補償部分費用。",
                actor=manager,
            )

    def _plan_changes_and_codes(self, manager, subs, today):
        valid = dict(valid_from=date(today.year, 1, 1), valid_until=date(today.year, 12, 31))
        for code in ("DEMOUNUSED", "DEMOREGISTERED", "DEMOUSED"):
            if not PromotionCode.objects.filter(code=code).exists():
                services.promotion_code_create(code=code, actor=manager, **valid)
        drinks, brunch, bbq = subs["@drk2003c"], subs["@brn2002b"], subs["@bbq2001a"]
        if not PlanChange.objects.filter(subscription=drinks, kind="upgrade").exists():
            services.subscription_change_plan(
                subscription_id=drinks.pk,
                plan_code="medium",
                actor=manager,
                promotion_code="DEMOUSED",
                reason="客戶來電升級，使用推廣碼。",
            )
        if not PlanChange.objects.filter(subscription=brunch, kind="downgrade").exists():
            services.subscription_change_plan(
                subscription_id=brunch.pk,
                plan_code="light",
                actor=manager,
                reason="淡季，下月起改為輕用量。",
            )
        if PromotionCode.objects.get(code="DEMOREGISTERED").status == "available":
            services.promotion_code_register(
                code="DEMOREGISTERED", subscription_id=bbq.pk, actor=manager
            )
        # Waiting in the backlog for accountmanager2: a batch of codes for a campaign.
        if not SecondApproval.objects.filter(kind=SecondApproval.Kind.PROMOTION_BATCH).exists():
            services.promotion_code_batch_propose(count=20, prefix="SPRING", actor=manager, **valid)
