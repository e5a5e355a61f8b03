"""Demo LINE users, friendships, LINE Tags and audiences for the organizations and accounts
that ``seed_demo`` creates (run it first). Running it again changes nothing."""

import hashlib
import random
import uuid
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from audiences import services
from audiences.models import Audience, Friendship, LineTag, LineUser, TagEvent
from lbm import pii
from lbm.models import Account, AccountLink, Membership, Organization

USERS = 30_000
SEED = 20260101
# (state, weight) — the block variants of docs/notifications.md#user-states included
STATES = [
    (Friendship.State.FRIEND, 80),
    (Friendship.State.HIDDEN, 5),
    (Friendship.State.BLOCKED, 8),
    (Friendship.State.BLOCKED_UNLISTED, 3),
    (Friendship.State.BLOCKED_CHAT_DELETED, 2),
    (Friendship.State.HIDDEN_UNLISTED, 2),
]
PATHS = [(p, w) for p, w in zip(Friendship.Path.values, [25, 30, 15, 20, 5, 5], strict=True)]


def demo_user_id(n: int) -> str:
    return "U" + hashlib.md5(f"lbm-demo-{n}".encode()).hexdigest()


def demo_phone(n: int) -> str:
    return f"09{(n * 7919 + 12345) % 90_000_000:08d}"


class Command(BaseCommand):
    help = "Load idempotent demo LINE users, friendships, LINE Tags and audiences."

    def handle(self, *args, **options):
        bear = Organization.objects.filter(business_number="53212539").first()
        if bear is None:
            raise CommandError("Run `manage.py seed_demo` first.")
        rng = random.Random(SEED)
        users = self._users(rng)
        self._friendships(rng, users)
        admin = Membership.objects.filter(organization=bear, role="admin").first().user
        self._account_audiences(rng, bear)
        self._organization_audiences(rng, bear, admin, users)
        self.stdout.write(
            self.style.SUCCESS(
                f"Audience demo data ready: {LineUser.objects.count():,} LINE users, "
                f"{Friendship.objects.count():,} friendships, {Audience.objects.count()} audiences."
            )
        )

    def _users(self, rng) -> list[int]:
        have = set(
            LineUser.objects.filter(
                user_id__in=[demo_user_id(0), demo_user_id(USERS - 1)]
            ).values_list("user_id", flat=True)
        )
        if len(have) < 2:
            now = timezone.now()
            batch = []
            for n in range(USERS):
                r = rng.random()
                batch.append(
                    LineUser(
                        user_id=demo_user_id(n),
                        phone_hash=pii.phone_keyed_hash(demo_phone(n)) if n % 10 < 7 else None,
                        notification_consent=(
                            "on" if r < 0.7 else "off" if r < 0.8 else "unanswered"
                        ),
                        sms_verified_at=(
                            now - timedelta(days=rng.randrange(400)) if n % 3 else None
                        ),
                        app_version=rng.choice(["13.21.0", "14.3.1", "8.8.0", "14.10.0"]),
                    )
                )
            LineUser.objects.bulk_create(batch, batch_size=2000, ignore_conflicts=True)
        return list(
            LineUser.objects.filter(user_id__startswith="U")
            .order_by("pk")
            .values_list("pk", flat=True)[:USERS]
        )

    def _friendships(self, rng, users):
        states, state_weights = zip(*STATES, strict=True)
        paths, path_weights = zip(*PATHS, strict=True)
        now = timezone.now()
        for account in Account.objects.filter(kind="oa").order_by("pk"):
            if Friendship.objects.filter(account=account).exists():
                continue
            share = 0.3 + 0.4 * rng.random()
            chosen = [u for u in users if rng.random() < share]
            rows = [
                Friendship(
                    account=account,
                    line_user_id=u,
                    state=rng.choices(states, state_weights)[0],
                    friend_path=rng.choices(paths, path_weights)[0],
                    since=now - timedelta(days=rng.randrange(1, 900)),
                )
                for u in chosen
            ]
            Friendship.objects.bulk_create(rows, batch_size=5000, ignore_conflicts=True)

    def _account_audiences(self, rng, org):
        linked = AccountLink.objects.filter(organization=org, status=AccountLink.Status.APPROVED)
        oa = Account.objects.filter(pk__in=linked.values("account_id"), kind="oa").first()
        lap = Account.objects.filter(pk__in=linked.values("account_id"), kind="lap").first()
        if oa is not None:
            friends = list(
                Friendship.objects.filter(account=oa).values_list(
                    "line_user__user_id", "friend_path"
                )
            )
            ids = [u for u, _p in friends]
            qr = [u for u, p in friends if p == Friendship.Path.QR_CODE]
            specs = [
                (9001, "3月點擊再行銷", Audience.Type.CLICK, rng.sample(ids, len(ids) // 5)),
                (9002, "門市 QR code 好友", Audience.Type.FRIEND_PATH, qr),
                (9003, "聊天標籤：VIP", Audience.Type.CHAT_TAG, rng.sample(ids, 80)),
                (
                    9004,
                    "圖文選單點擊",
                    Audience.Type.RICHMENU_CLICK,
                    rng.sample(ids, len(ids) // 8),
                ),
            ]
            for external_id, name, kind, members in specs:
                if not Audience.objects.filter(source_account=oa, external_id=external_id).exists():
                    services.account_audience_upsert(
                        account_id=oa.pk,
                        external_id=external_id,
                        name=name,
                        audience_type=kind,
                        ids=members,
                    )
        if lap is not None:
            for external_id, name, flags in [
                (7001, "跨產品精準行銷受眾", {"via_cross_targeting": True}),
                (7002, "資料供應商：美食愛好者", {"from_data_provider": True}),
            ]:
                if not Audience.objects.filter(
                    source_account=lap, external_id=external_id
                ).exists():
                    ifas = [str(uuid.UUID(int=rng.getrandbits(128))) for _ in range(500)]
                    services.account_audience_upsert(
                        account_id=lap.pk,
                        external_id=external_id,
                        name=name,
                        audience_type=Audience.Type.UPLOAD_IFA,
                        id_type="ifa",
                        ids=ifas,
                        route=Audience.Route.MESSAGING_API,
                        **flags,
                    )

    @transaction.atomic
    def _organization_audiences(self, rng, org, admin, users):
        def missing(name):
            return not Audience.objects.filter(
                organization=org, source_account__isnull=True, name=name
            ).exists()

        if missing("門市會員電話名單"):
            services.audience_create_from_ids(
                actor=admin,
                organization_id=org.pk,
                name="門市會員電話名單",
                id_type="phone",
                ids=[demo_phone(n) for n in range(0, 15_000)],
                description="POS 系統匯出的會員手機號碼",
            )
        if missing("外送常客電話"):
            services.audience_create_from_ids(
                actor=admin,
                organization_id=org.pk,
                name="外送常客電話",
                id_type="phone",
                ids=[demo_phone(n) for n in range(10_000, 16_000)],
            )
        if missing("電子報訂閱者"):
            services.audience_create_from_ids(
                actor=admin,
                organization_id=org.pk,
                name="電子報訂閱者",
                id_type="email",
                ids=[f"member{n}@bearfood.example" for n in range(80)],
            )
        if missing("會員但非外送常客"):
            own = Audience.objects.filter(organization=org, source_account__isnull=True)
            ids = [own.get(name="門市會員電話名單").pk, own.get(name="外送常客電話").pk]
            services.audience_combine(
                actor=admin,
                organization_id=org.pk,
                name="會員但非外送常客",
                operator="and_not",
                component_ids=ids,
            )
        tag = LineTag.objects.filter(organization=org, name="熊大官網").first()
        if tag is None:
            tag = services.line_tag_create(actor=admin, organization_id=org.pk, name="熊大官網")
            now = timezone.now()
            visitors = rng.sample(users, 3000)
            TagEvent.objects.bulk_create(
                [
                    TagEvent(
                        tag=tag,
                        line_user_id=u,
                        event=TagEvent.PAGE_VIEW,
                        occurred_at=now - timedelta(days=rng.randrange(60)),
                    )
                    for u in visitors
                ]
                + [
                    TagEvent(
                        tag=tag,
                        line_user_id=u,
                        event=TagEvent.CONVERSION,
                        occurred_at=now - timedelta(days=rng.randrange(30)),
                    )
                    for u in visitors[:600]
                ],
                batch_size=5000,
            )
        if missing("官網轉換 30 天"):
            services.audience_web_traffic_create(
                actor=admin,
                organization_id=org.pk,
                name="官網轉換 30 天",
                tag_id=tag.pk,
                event=TagEvent.CONVERSION,
                retention_days=30,
            )
