"""Benchmark: judge and record a batch of 100,000 notification messages (LON) on PostgreSQL.

    .venv/bin/python bench/notifications.py [--notices 100000]

Uses its own database (``DATABASE_URL``, default ``postgres://postgres@127.0.0.1:5432/
lbm_bench_lon``, created if missing), migrates it, generates a LINE user directory with a
realistic mix (matched and consenting, never answered, turned off, not SMS-verified, blocking,
hidden friends, unmatched numbers), then sends one batch through
``notifications.services.notice_send_batch`` and prints the wall time and the number of
queries. Target: ≤ 30 s, with a query count that does not grow per notice.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lbm_bench_lon")
os.environ["REDIS_URL"] = ""  # Celery eager; the bench channel has no webhook URL
os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lbm.settings")
os.environ.setdefault("LOG_LEVEL", "WARNING")

PREFIX = 0x1B0000000  # LINE user ids of the bench start here


def ensure_database(url: str) -> None:
    from urllib.parse import urlparse

    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def phone(i: int) -> str:
    return f"+886912{i:06d}"


def build_directory(account, count: int):
    """LINE users for numbers 0..count-1 of the batch, by index mix (matched ones only)."""
    from datetime import timedelta

    from django.utils import timezone

    from audiences.models import Friendship, LineUser
    from lbm import pii

    if LineUser.objects.filter(user_id=f"U{PREFIX:032x}").exists():
        return
    now = timezone.now()
    users, friendships = [], []
    for i in range(count):
        kind = i % 20
        if kind >= 17:  # 15 %: the number matches no LINE user
            continue
        consent = "unanswered" if kind == 13 else "off" if kind == 14 else "on"
        verified = None if kind in (15, 16) else now - timedelta(days=30 + i % 120)
        users.append(
            LineUser(
                user_id=f"U{PREFIX + i:032x}",
                phone_hash=pii.keyed_hash(pii.sha256_hex(phone(i))),
                notification_consent=consent,
                sms_verified_at=verified,
            )
        )
    LineUser.objects.bulk_create(users, batch_size=10_000)
    ids = dict(
        LineUser.objects.filter(user_id__startswith="U" + "0" * 23 + "1b").values_list(
            "user_id", "pk"
        )
    )
    for i in range(count):
        kind = i % 20
        uid = f"U{PREFIX + i:032x}"
        if uid not in ids:
            continue
        state = {
            0: "friend",
            1: "friend",
            2: "hidden",
            3: "blocked",
            4: "blocked_chat_deleted",
            5: "hidden_unlisted",
        }.get(kind % 10)
        if state:
            friendships.append(
                Friendship(
                    line_user_id=ids[uid],
                    account=account,
                    state=state,
                    since=now - timedelta(days=200),
                )
            )
    Friendship.objects.bulk_create(friendships, batch_size=10_000)


def setup_sender():
    from notifications.models import Application

    application = Application.objects.filter(stage="live").select_related("account").first()
    if application is not None:
        version = application.account.lon_templates.first().versions.get(status="approved")
        return application.account, version
    from tests.notifications import factories as lon

    live = lon.live_setup()
    return live["account"], live["version"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notices", type=int, default=100_000)
    args = parser.parse_args()
    ensure_database(os.environ["DATABASE_URL"])

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from lbm import pii
    from notifications import services
    from notifications.models import Notice

    call_command("migrate", verbosity=0)
    account, version = setup_sender()
    build_directory(account, args.notices)
    Notice.objects.filter(account=account).delete()
    from billing.models import UsageRecord

    UsageRecord.objects.filter(account=account).delete()

    items = []
    for i in range(args.notices):
        number = phone(i)
        to = (
            number
            if i % 4 == 0
            else "0" + number[4:]
            if i % 4 in (1, 2)
            else pii.sha256_hex(number)
        )
        item = {"to": to, "values": {"name": f"客戶{i}", "order_no": f"A{i:07d}"}}
        if i % 3 == 0:
            item["delivery_tag"] = f"bench-order-{i:010d}"
        items.append(item)

    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    import cProfile
    import pstats

    prof = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
    if prof:
        prof.enable()
    with connection.execute_wrapper(count):
        started = time.perf_counter()
        result = services.notice_send_batch(
            account_id=account.pk, template_version_id=version.pk, items=items
        )
        elapsed = time.perf_counter() - started
    if prof:
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    print(
        f"notices: {result.accepted:,}  delivered: {result.delivered:,}  "
        f"pending: {result.pending:,}  failed at once: {result.failed:,}"
    )
    print(
        f"wall time: {elapsed:.2f} s  queries: {queries} (+1 COPY, which execute wrappers "
        "do not see)  "
        f"({'OK' if elapsed <= 30 else 'OVER'} the 30 s target)"
    )
    charged = sum(
        UsageRecord.objects.filter(account=account, kind="notification").values_list(
            "recipients", flat=True
        )
    )
    print(f"charged notices: {charged:,}")


if __name__ == "__main__":
    main()
