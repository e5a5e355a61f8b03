"""Benchmark: month-end billing of 100,000 Official Accounts and 3,000,000 usage rows.

    .venv/bin/python bench/month_end.py                 # full run (about a minute to set up)
    .venv/bin/python bench/month_end.py --accounts 5000 # quick run

Creates (drops and recreates) its own PostgreSQL database, ``lbm_bench_billing`` by default, on
the server of ``BENCH_DATABASE_URL`` (default ``postgres://postgres@127.0.0.1:5432``), fills it
with ``INSERT ... SELECT generate_series`` (mixed plans, a few upgrades, promotion codes, add-ons,
notification messages), runs ``bill_month`` and prints its wall time and query count. Then it
times a naive per-account loop (one plan query, one usage query and one invoice transaction per
account) on a slice of 2,000 accounts, rolls that back, and prints the ratio.
"""

import argparse
import os
import sys
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument(
        "--usage-rows",
        type=int,
        default=None,
        help="default: 30 per account (3,000,000 for 100,000 accounts)",
    )
    parser.add_argument("--naive-slice", type=int, default=2_000)
    parser.add_argument("--database", default="lbm_bench_billing")
    return parser.parse_args()


def setup_django(database: str) -> None:
    import psycopg

    server = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}"')
        conn.execute(f'CREATE DATABASE "{database}"')
    os.environ["DATABASE_URL"] = f"{server}/{database}"
    os.environ["REDIS_URL"] = ""  # Celery eager; nothing here goes through a broker
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lbm.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


class QueryCounter:
    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


@contextmanager
def counting():
    from django.db import connection

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        yield counter


def generate(accounts: int, usage_rows: int) -> None:
    """Fill the database set-based; plans by account number: 40% Light, 30% Medium, 30% High."""
    from django.db import connection

    customers = max(1, accounts * 4 // 5)  # a fifth of the customers have two accounts
    with connection.cursor() as cur:
        cur.execute("SELECT id, code FROM billing_plan")
        plan = {code: pk for pk, code in cur.fetchall()}
        cur.execute(
            """INSERT INTO billing_billingcustomer (id, name, business_number, country,
                   payment_method, invoice_title, invoice_carrier, donation_code,
                   invoice_email, created_at)
               SELECT g, 'Customer ' || g, '', 'TW',
                      CASE WHEN g %% 3 = 0 THEN 'transfer' ELSE 'credit_card' END,
                      'Title ' || g, '/BENCH' || g, '', 'bill' || g || '@example.com', now()
               FROM generate_series(1, %s) g""",
            [customers],
        )
        cur.execute(
            """INSERT INTO lbm_account (id, kind, name, basic_id, badge, verified,
                   business_number, created_at)
               SELECT g, 'oa', 'OA ' || g, '@' || lpad(g::text, 8, '0'), 'blue', false,
                      '12345675', now()
               FROM generate_series(1, %s) g""",
            [accounts],
        )
        cur.execute(
            """INSERT INTO billing_subscription (id, account_id, customer_id, plan_id,
                   started_on, chat_advanced, premium_id_since, created_at, updated_at)
               SELECT g, g, 1 + (g - 1) %% %(customers)s,
                      CASE WHEN g %% 10 < 4 THEN %(light)s WHEN g %% 10 < 7 THEN %(medium)s
                           ELSE %(high)s END,
                      DATE '2025-01-01', g %% 7 = 0,
                      CASE WHEN g %% 13 = 0 THEN DATE '2024-03-10' END, now(), now()
               FROM generate_series(1, %(accounts)s) g""",
            {"customers": customers, "accounts": accounts, **plan},
        )
        cur.execute(
            """INSERT INTO billing_planchange (subscription_id, kind, to_plan_id, period, charge,
                   deducted, created_at, reason)
               SELECT id, 'start', plan_id, DATE '2025-01-01', 0, 0, now(), 'bench'
               FROM billing_subscription"""
        )
        # 2% of the Medium accounts upgrade to High in March.
        cur.execute(
            """INSERT INTO billing_planchange (subscription_id, kind, from_plan_id, to_plan_id,
                   period, charge, deducted, created_at, reason)
               SELECT id, 'upgrade', plan_id, %(high)s, DATE '2025-03-01', 400, 0, now(), 'bench'
               FROM billing_subscription WHERE plan_id = %(medium)s AND id %% 50 = 1""",
            plan,
        )
        cur.execute(
            """INSERT INTO billing_promotioncode (code, face_value, valid_from, valid_until,
                   status, subscription_id, deducted, forfeited, created_at, redeemed_for)
               SELECT 'BENCH' || id, 1200, DATE '2025-01-01', DATE '2025-12-31', 'registered',
                      id, 0, 0, now(), ''
               FROM billing_subscription
               WHERE plan_id IN (%(medium)s, %(high)s) AND id %% 97 = 0
                 AND customer_id %% 3 <> 0""",
            plan,
        )
        # Usage: mostly broadcasts and API messages, some notification messages; sent_at spread
        # over March (Japan time) with the Japan day and month stored alongside.
        cur.execute(
            """INSERT INTO billing_usagerecord (account_id, kind, recipients, sends, bubbles,
                   sent_at, line_day, period, created_at)
               SELECT a, k, r, 1, 1 + a %% 3, t, (t AT TIME ZONE 'Asia/Tokyo')::date,
                      DATE '2025-03-01', now()
               FROM (SELECT 1 + (g * 7919) %% %(accounts)s AS a,
                            CASE g %% 10 WHEN 0 THEN 'notification' WHEN 1 THEN 'narrowcast'
                                 WHEN 2 THEN 'api' ELSE 'broadcast' END AS k,
                            1 + (g * 31) %% 800 AS r,
                            TIMESTAMPTZ '2025-02-28 15:00:00+00'
                              + ((g * 104729) %% 2678400) * INTERVAL '1 second' AS t
                     FROM generate_series(1::bigint, %(rows)s) g) s""",
            {"accounts": accounts, "rows": usage_rows},
        )
        for table in (
            "lbm_account",
            "billing_billingcustomer",
            "billing_subscription",
            "billing_planchange",
            "billing_usagerecord",
            "billing_promotioncode",
        ):
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        cur.execute("ANALYZE")


def naive_run(period: date, slice_size: int) -> tuple[float, int, int]:
    """What a straightforward per-account loop costs: one transaction per account, queries per
    account; written and then rolled back. Returns (seconds, queries, accounts)."""
    from django.db import transaction

    from billing import pricing, selectors
    from billing.models import Invoice, InvoiceLine, Subscription

    class Rollback(Exception):
        pass

    tiers = selectors.tier_tables(period=period)
    start = time.monotonic()
    with counting() as counter:
        try:
            with transaction.atomic():
                subs = list(Subscription.objects.order_by("pk")[:slice_size])
                for sub in subs:
                    with transaction.atomic():
                        plan = selectors.plan_in_effect(account_id=sub.account_id, period=period)
                        usage = selectors.month_usage(account_id=sub.account_id, period=period)
                        extra = pricing.overage_charge(
                            messages=selectors.counted(plan, usage),
                            free=plan.free_messages,
                            rule=plan.overage,
                            tiers=tiers.get(plan.pk, ()),
                            unit_price=plan.overage_unit_price,
                        )
                        amounts = [
                            plan.monthly_fee,
                            extra,
                            usage.notifications * pricing.NOTIFICATION_UNIT_PRICE,
                        ]
                        totals = pricing.invoice_totals((a, plan.tax_included) for a in amounts)
                        invoice = (
                            Invoice.objects.create(
                                customer_id=sub.customer_id,
                                period=date(1999, 1, 1),
                                number=f"NAIVE-{sub.pk}",
                                issued_at=sub.created_at,
                                untaxed=totals.untaxed,
                                tax=totals.tax,
                                tax_included=totals.tax_included,
                                rounding=totals.rounding,
                                total=totals.total,
                            )
                            if not Invoice.objects.filter(
                                customer_id=sub.customer_id, period=date(1999, 1, 1)
                            ).exists()
                            else None
                        )
                        if invoice is not None:
                            for amount in amounts:
                                InvoiceLine.objects.create(
                                    invoice=invoice,
                                    kind="monthly_fee",
                                    description="naive",
                                    amount=amount,
                                )
                raise Rollback
        except Rollback:
            pass
    return time.monotonic() - start, counter.count, len(subs)


def main() -> None:
    args = parse_args()
    usage_rows = args.usage_rows if args.usage_rows is not None else args.accounts * 30
    t0 = time.monotonic()
    setup_django(args.database)
    print(f"database {args.database} created and migrated in {time.monotonic() - t0:.1f} s")
    t0 = time.monotonic()
    generate(args.accounts, usage_rows)
    print(
        f"generated {args.accounts:,} accounts and {usage_rows:,} usage rows in "
        f"{time.monotonic() - t0:.1f} s"
    )

    from billing import services
    from billing.models import Invoice, InvoiceLine

    period = date(2025, 3, 1)
    t0 = time.monotonic()
    with counting() as counter:
        result = services.bill_month(period=period, triggered_by="bench")
    billed = time.monotonic() - t0
    print(
        f"bill_month 2025-03: {result.invoices_created:,} invoices, "
        f"{InvoiceLine.objects.count():,} lines, {result.amount_invoiced:,} TWD in "
        f"{billed:.1f} s wall, {counter.count} queries"
    )
    t0 = time.monotonic()
    with counting() as again:
        repeat = services.bill_month(period=period, triggered_by="bench (repeat)")
    print(
        f"bill_month again (idempotent): {repeat.invoices_created} new, "
        f"{repeat.invoices_existing:,} existing, {time.monotonic() - t0:.1f} s, "
        f"{again.count} queries; invoices in the table: "
        f"{Invoice.objects.filter(period=period).count():,}"
    )

    naive_seconds, naive_queries, sliced = naive_run(period, args.naive_slice)
    per_account_naive = naive_seconds / max(sliced, 1)
    per_account_set = billed / max(args.accounts, 1)
    print(
        f"naive per-account loop on {sliced:,} accounts: {naive_seconds:.1f} s, "
        f"{naive_queries:,} queries (projected {per_account_naive * args.accounts:.0f} s for "
        f"{args.accounts:,})"
    )
    print(f"ratio naive / set-based per account: {per_account_naive / per_account_set:.1f}x")


if __name__ == "__main__":
    main()
