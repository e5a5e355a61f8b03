"""Demo data for a fresh back office: staff and customer logins, organizations in every state,
members in every role, accounts of every kind and badge, pending links. Running it again
changes nothing."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone

from lbm import permissions, services, staff_groups
from lbm.models import Account, AccountLink, Membership, Organization, Provider

DEMO_PASSWORD = "lbm-demo-2026!"

# (username, first name, e-mail, staff group or None)
USERS = [
    ("reviewer", "林審核", "reviewer@linecorp.example", permissions.REVIEWERS_GROUP),
    ("accountmanager", "陳業務", "am@linecorp.example", permissions.ACCOUNT_MANAGERS_GROUP),
    # The second person of two-person approvals (docs/billing.md#two-person-approvals).
    ("accountmanager2", "許覆核", "am2@linecorp.example", permissions.ACCOUNT_MANAGERS_GROUP),
    ("bear_admin", "王大明", "daming.wang@bearfood.example", None),
    ("bear_operator", "李小華", "xiaohua.li@bearfood.example", None),
    ("bear_data", "張資料", "data.chang@bearfood.example", None),
    ("bear_viewer", "黃檢視", "viewer.huang@bearfood.example", None),
    ("bunny_admin", "吳美玲", "meiling.wu@bunnyfashion.example", None),
    ("sally_admin", "蔡志明", "chiming.tsai@sallytech.example", None),
    ("moon_admin", "周月娥", "yuee.chou@moonbeauty.example", None),
    ("cony_admin", "鄭可妮", "cony.cheng@conycafe.example", None),
]

# name, company name, business number (valid checksum), industry, final state
ORGANIZATIONS = [
    ("熊大餐飲集團", "熊大餐飲股份有限公司", "53212539", "food_drink", "approved", "bear_admin"),
    ("兔兔流行服飾", "兔兔流行服飾有限公司", "24556881", "retail", "pending", "bunny_admin"),
    ("莎莉科技", "莎莉科技股份有限公司", "97162640", "ecommerce", "rejected", "sally_admin"),
    ("月光美妝", "月光美妝有限公司", "04595257", "beauty", "draft", "moon_admin"),
    ("可妮咖啡", "可妮咖啡股份有限公司", "10458575", "food_drink", "deleted", "cony_admin"),
]


class Command(BaseCommand):
    help = "Load idempotent demo data and print the demo logins."

    def handle(self, *args, **options):
        # The demo's verification e-mails are not worth printing; nobody reads them.
        with (
            override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"),
            transaction.atomic(),
        ):
            users = self._users()
            orgs = self._organizations(users)
            self._members(orgs, users)
            self._accounts_and_links(orgs, users)
        self.stdout.write(self.style.SUCCESS("Demo data ready."))
        self.stdout.write(f"Demo logins (password for all: {DEMO_PASSWORD}):")
        for username, name, _email, group in USERS:
            role = group or self._role_of(username)
            self.stdout.write(f"  {username:<16} {name}  — {role}")
        self.stdout.write("  admin            superuser")

    def _role_of(self, username):
        m = (
            Membership.objects.filter(user__username=username)
            .select_related("organization")
            .first()
        )
        return f"{m.organization.name} / {m.get_role_display()}" if m else "customer"

    def _users(self):
        User = get_user_model()
        groups = staff_groups.ensure_staff_groups()
        users = {}
        for username, first, email, group in USERS:
            user, created = User.objects.get_or_create(
                username=username,
                defaults={"first_name": first, "email": email, "is_staff": group is not None},
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save()
            if group:
                user.groups.add(groups[group])
            users[username] = user
        if not User.objects.filter(username="admin").exists():
            User.objects.create_superuser("admin", "admin@linecorp.example", DEMO_PASSWORD)
        return users

    def _organizations(self, users):
        reviewer = users["reviewer"]
        orgs = {}
        for name, company, number, industry, state, owner in ORGANIZATIONS:
            org = Organization.objects.filter(business_number=number).first()
            if org is None:
                org = services.organization_create(
                    actor=users[owner],
                    organization=Organization(
                        name=name,
                        company_name=company,
                        business_number=number,
                        industry=industry,
                        address=f"台北市信義區松高路 {len(orgs) * 7 + 11} 號",
                        phone=f"02-2720-{1000 + len(orgs):04d}",
                        entity_type="company",
                    ),
                )
                if state != "draft":
                    token = services.contact_verification_token(org)
                    services.organization_verify_contact(token=token)
                if state in ("pending", "approved", "rejected"):
                    services.organization_submit(organization_id=org.pk, actor=users[owner])
                if state == "approved":
                    services.organization_review(
                        organization_id=org.pk, decision="approved", actor=reviewer
                    )
                if state == "rejected":
                    services.organization_review(
                        organization_id=org.pk,
                        decision="rejected",
                        actor=reviewer,
                        reason="公司地址與經濟部商工登記不符，請更正後重新送審。",
                    )
                if state == "deleted":
                    services.organization_delete(
                        organization_id=org.pk, actor=users[owner], reason="品牌整併"
                    )
                org.refresh_from_db()
            orgs[name] = org
        # An older pending submission, so that the queue shows an overdue item.
        Organization.objects.filter(name="兔兔流行服飾", status="pending").update(
            submitted_at=timezone.now() - timedelta(days=12),
            review_due_on=timezone.localdate() - timedelta(days=3),
        )
        return orgs

    def _members(self, orgs, users):
        bear = orgs["熊大餐飲集團"]
        owner = users["bear_admin"]
        for username, role in [
            ("bear_operator", "operator"),
            ("bear_data", "operator_data"),
            ("bear_viewer", "viewer"),
        ]:
            if not Membership.objects.filter(organization=bear, user=users[username]).exists():
                services.membership_add(
                    organization_id=bear.pk, actor=owner, user=users[username], role=role
                )

    def _accounts_and_links(self, orgs, users):
        bear = orgs["熊大餐飲集團"]
        bunny = orgs["兔兔流行服飾"]
        providers = {}
        for name, number, certified in [
            ("熊大餐飲：熊大餐廳", "53212539", True),
            ("熊大餐廳", "53212539", False),
            ("兔兔流行服飾：官方商店", "24556881", True),
        ]:
            providers[name], _ = Provider.objects.get_or_create(
                name=name, defaults={"business_number": number, "certified": certified}
            )
        accounts = [
            dict(
                kind="oa",
                name="熊大餐廳",
                basic_id="@bea1234a",
                premium_id="@bearfood",
                badge="green",
                business_number="53212539",
                provider=providers["熊大餐飲：熊大餐廳"],
            ),
            dict(
                kind="oa",
                name="熊大外送",
                basic_id="@brd5821k",
                badge="blue",
                business_number="53212539",
                provider=providers["熊大餐飲：熊大餐廳"],
            ),
            dict(
                kind="oa",
                name="熊大甜點（未認證）",
                basic_id="@swt0042p",
                badge="none",
                business_number="53212539",
            ),
            dict(
                kind="oa",
                name="熊大咖啡",
                basic_id="@cof7788q",
                badge="blue",
                business_number="53212539",
                provider=providers["熊大餐廳"],
            ),
            dict(
                kind="lap",
                name="熊大餐飲 LAP 廣告",
                external_id="LAP-000123",
                verified=True,
                business_number="53212539",
            ),
            dict(
                kind="mvp",
                name="熊大頭版廣告",
                external_id="MVP-77881",
                verified=True,
                business_number="53212539",
            ),
            dict(
                kind="points_ads",
                name="熊大點數廣告",
                external_id="PTS-5521",
                verified=True,
                business_number="53212539",
            ),
            dict(
                kind="oa",
                name="兔兔服飾官方帳號",
                basic_id="@bny2024x",
                badge="blue",
                business_number="24556881",
                provider=providers["兔兔流行服飾：官方商店"],
            ),
        ]
        objs = {}
        for data in accounts:
            key = data.get("basic_id") or data["external_id"]
            lookup = {"basic_id": key} if data.get("basic_id") else {"external_id": key}
            account = Account.objects.filter(**lookup).first()
            if account is None:
                account = Account(**data)
                account.full_clean()  # the same format rules as the admin's forms
                account.save()
            objs[data["name"]] = account
        reviewer = users["reviewer"]
        owner = users["bear_admin"]
        for name, approve in [
            ("熊大餐廳", True),
            ("熊大餐飲 LAP 廣告", True),
            ("熊大外送", False),
            ("熊大頭版廣告", False),
        ]:
            account = objs[name]
            if AccountLink.objects.filter(account=account).exists():
                continue
            link = services.link_request(
                organization_id=bear.pk, actor=owner, account_identifier=account.display_id
            )
            if approve:
                services.link_review(link_id=link.pk, decision="approved", actor=reviewer)
        account = objs["兔兔服飾官方帳號"]
        if not AccountLink.objects.filter(account=account).exists():
            services.link_request(
                organization_id=bunny.pk,
                actor=users["bunny_admin"],
                account_identifier=account.display_id,
            )
