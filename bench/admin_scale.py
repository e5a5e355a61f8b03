"""Benchmark: the Django admin with a year of LINE Taiwan's data behind it.

    .venv/bin/python bench/admin_scale.py                  # full scale, compared with 0.01
    .venv/bin/python bench/admin_scale.py --scale 0.01     # quick run
    .venv/bin/python bench/admin_scale.py --refill         # fill again even if the scale matches
    .venv/bin/python bench/admin_scale.py --no-load        # skip the phase under load

Fills its own PostgreSQL database (``lbm_bench_admin_f``; the comparison scale in
``lbm_bench_admin_f_small``) set-based: a few template rows are made through the project's
factories and services (so every NOT NULL and check constraint holds), then cloned inside
PostgreSQL with ``INSERT ... SELECT ... FROM generate_series``, unique and foreign-key columns
overridden with expressions of the series index. At scale 1: 10,000 organizations, 100,000
accounts (one link each), 5,000 audiences with 20,000,000 members, 5,000,000 notices,
3,000,000 usage rows, 300,000 invoices with 600,000 lines, 10,000 items waiting for review
(5,000 organizations and 5,000 account links pending), 1,000,000 history rows. A filled
database is reused when its scale matches.

Then it times every changelist of ``admin.site._registry`` (first page, the first list filter's
first choice, a search when the admin has ``search_fields``, the last page) and every change
page, with ``django.test.Client`` in-process, as a LINE superuser and as the Admin of the
largest organization (a tenth of all rows), ``--runs`` times each (first discarded), printing
p50/p95 and the query count. Targets: p95 <= 300 ms and <= 25 queries; a query count that
differs between the two scales is flagged. Last, the same pages while a 1.5 M upload and
``bill_month`` run in background processes, each again and again until the pages are measured:
p95 <= 1 s.
"""

import argparse
import gc
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SERVER = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432")
DATABASE = "lbm_bench_admin_f"
SMALL_DATABASE = "lbm_bench_admin_f_small"
TARGET_MS, TARGET_QUERIES, TARGET_LOAD_MS = 300, 25, 1000
FULL = dict(
    organizations=10_000,
    accounts=100_000,
    audiences=5_000,
    members=20_000_000,
    notices=5_000_000,
    usage=3_000_000,
    invoices=300_000,
    pending=10_000,
    history=1_000_000,
)
BIG_SHARE = 10  # every 10th row belongs to the big organization


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--compare-scale",
        type=float,
        default=0.01,
        help="query counts are compared with this scale (0 to skip)",
    )
    parser.add_argument("--refill", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-load", action="store_true")
    parser.add_argument("--child", choices=["measure", "upload", "bill"], help=argparse.SUPPRESS)
    parser.add_argument("--database", default=DATABASE, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--until", help=argparse.SUPPRESS)
    return parser.parse_args()


def setup_django(database: str, create: bool = False) -> None:
    import psycopg

    if create:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
            if not conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [database]
            ).fetchone():
                conn.execute(f'CREATE DATABASE "{database}"')
    os.environ["DATABASE_URL"] = f"{SERVER}/{database}"
    os.environ["REDIS_URL"] = ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lbm.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()


# --- Fill -------------------------------------------------------------------------------------


def _columns(model, skip_pk=True):
    return [f.column for f in model._meta.concrete_fields if not (skip_pk and f.primary_key)]


def clone(cur, model, template_pk, n, overrides, pk="id") -> tuple[int, int]:
    """Insert ``n`` copies of the row ``template_pk``; ``overrides`` maps a column to a SQL
    expression of ``g`` (1..n) and ``t`` (the template row). Returns the new id range."""
    table = model._meta.db_table
    cols = _columns(model)
    cur.execute(f'SELECT coalesce(max("{pk}"), 0) FROM "{table}"')
    before = cur.fetchone()[0]
    exprs = [overrides.get(c, f't."{c}"') for c in cols]
    cur.execute(
        f'INSERT INTO "{table}" ({", ".join(chr(34) + c + chr(34) for c in cols)}) '
        f'SELECT {", ".join(exprs)} FROM "{table}" t '
        f'CROSS JOIN generate_series(1, {int(n)}) g WHERE t."{pk}" = {int(template_pk)} '
        f"ORDER BY g"
    )
    cur.execute(f'SELECT min("{pk}"), max("{pk}") FROM "{table}" WHERE "{pk}" > %s', [before])
    return cur.fetchone()


def templates():
    """One row of each volumed model, made through the factories and services."""
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.test.utils import override_settings
    from django.utils import timezone

    from billing.models import Invoice, InvoiceLine, UsageRecord
    from lbm.models import AccountLink
    from notifications.models import Notice, UserFlow
    from tests import factories
    from tests.audiences import factories as aud
    from tests.billing import factories as bill
    from tests.notifications import factories as lon

    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend", CELERY_TASK_ALWAYS_EAGER=True
    ):
        setup = lon.live_setup()
        org, admin, account = setup["org"], setup["admin"], setup["account"]
        pending_org = factories.organization(state="pending")
        get_user_model().objects.create_superuser(
            "bench-super", "super@bench.example", factories.PASSWORD
        )
        audience = aud.upload_audience(org, admin, aud.phones(3))
        now = timezone.now()
        notice = Notice.objects.create(
            account=account,
            template_version=setup["version"],
            request_id="00000000-0000-0000-0000-000000000001",
            phone_hash="0" * 64,
            state="delivered",
            reason="",
            user_flow=UserFlow.values[0],
            accepted_at=now,
            line_day=now.date(),
            deadline_at=now + timedelta(days=1),
            delivered_at=now,
            settled_at=now,
        )
        manager = factories.account_manager()
        usage = bill.send(account.pk, 10, now)
        subscription = account.subscription
        invoice = Invoice.objects.create(
            customer_id=subscription.customer_id,
            period=now.date().replace(day=1, year=2000),
            number="BENCH-0",
            issued_at=now,
            untaxed=1000,
            tax=50,
            tax_included=0,
            rounding=0,
            total=1050,
        )
        line = InvoiceLine.objects.create(
            invoice=invoice, account=account, kind="monthly_fee", description="月費", amount=1000
        )
        link = AccountLink.objects.get(account=account)
    hist = account.history.order_by("history_id").first()
    return dict(
        org=org,
        pending_org=pending_org,
        admin=admin,
        account=account,
        link=link,
        audience=audience,
        notice=notice,
        usage=usage,
        subscription=subscription,
        invoice=invoice,
        line=line,
        history=hist,
        manager=manager,
        usage_kind=UsageRecord,
    )


def fill(scale: float) -> float:
    from django.db import connection, transaction

    from audiences.models import Audience, AudienceMember
    from billing.models import (
        BillingCustomer,
        Invoice,
        InvoiceLine,
        Plan,
        PlanChange,
        Subscription,
        UsageRecord,
    )
    from lbm.models import Account, AccountLink, Organization
    from notifications.models import Notice

    n = {k: max(20, int(v * scale)) for k, v in FULL.items()}
    started = time.perf_counter()
    t = templates()
    big = t["org"].pk
    with transaction.atomic(), connection.cursor() as cur:

        def step(label, *args, **kwargs):
            s = time.perf_counter()
            r = clone(cur, *args, **kwargs)
            print(f"  {label:<26} {args[2]:>12,} rows {time.perf_counter() - s:7.1f} s", flush=True)
            return r

        half = n["pending"] // 2
        o0, _ = step(
            "organizations",
            Organization,
            t["org"].pk,
            n["organizations"] - half,
            {"name": "'公司 ' || g", "business_number": "NULL", "contact_id": "NULL"},
        )
        step(
            "organizations pending",
            Organization,
            t["pending_org"].pk,
            half,
            {
                "name": "'待審公司 ' || g",
                "business_number": "NULL",
                "contact_id": "NULL",
                "submitted_at": "t.submitted_at - g * interval '1 minute'",
            },
        )
        n_orgs = n["organizations"] - half
        owner = f"(CASE WHEN g % {BIG_SHARE} = 0 THEN {big} ELSE {o0} + g % {n_orgs} END)"
        a0, _ = step(
            "accounts",
            Account,
            t["account"].pk,
            n["accounts"],
            {
                "name": "'官方帳號 ' || g",
                "basic_id": "'@' || lpad(g::text, 8, '0')",
                "premium_id": "NULL",
                "external_id": "NULL",
                "provider_id": "NULL",
            },
        )
        n_acc = n["accounts"]
        step(
            "account links",
            AccountLink,
            t["link"].pk,
            n_acc,
            {
                "account_id": f"{a0} + g - 1",
                "organization_id": owner,
                "status": f"CASE WHEN g <= {half} THEN 'pending' ELSE t.status END",
                "submitted_at": "t.submitted_at - g * interval '1 second'",
            },
        )
        # A quarter as many billing customers as accounts; a subscription per account.
        n_cust = max(1, n_acc // 4)
        c0, _ = step(
            "billing customers",
            BillingCustomer,
            t["subscription"].customer_id,
            n_cust,
            {"name": "'客戶 ' || g"},
        )
        # Six in ten accounts on the free plan, three on the medium, one on the high.
        plan = (
            f"(SELECT id FROM {Plan._meta.db_table} WHERE code = CASE WHEN g % 10 < 6"
            " THEN 'light' WHEN g % 10 < 9 THEN 'medium' ELSE 'high' END)"
        )
        s0, _ = step(
            "subscriptions",
            Subscription,
            t["subscription"].pk,
            n_acc,
            {"account_id": f"{a0} + g - 1", "customer_id": f"{c0} + g % {n_cust}", "plan_id": plan},
        )
        # Each subscription's plan ledger (its opening plan): ``bill_month`` bills only
        # subscriptions with one, so without it the month-end under load would bill nothing.
        step(
            "plan ledger rows",
            PlanChange,
            t["subscription"].changes.order_by("pk").first().pk,
            n_acc,
            {"subscription_id": f"{s0} + g - 1", "to_plan_id": plan},
        )
        acc = f"({a0} + g % {n_acc})"
        aud0, _ = step(
            "audiences",
            Audience,
            t["audience"].pk,
            n["audiences"],
            {
                "name": "'受眾 ' || g",
                "organization_id": owner,
                "external_id": "NULL",
                "size": str(n["members"] // n["audiences"]),
            },
        )
        per = n["members"] // n["audiences"]
        s = time.perf_counter()
        cur.execute(
            f'INSERT INTO "{AudienceMember._meta.db_table}" (audience_id, identifier) '
            f"SELECT a, md5(a::text || ':' || i) "
            f"FROM generate_series({aud0}, {aud0 + n['audiences'] - 1}) a "
            f"CROSS JOIN generate_series(1, {per}) i"
        )
        print(
            f"  {'audience members':<26} {per * n['audiences']:>12,} rows "
            f"{time.perf_counter() - s:7.1f} s",
            flush=True,
        )
        # The day a row is back in time: a hash of g, not g % 365, which with the account
        # chosen as g % accounts made the big organization's rows fall on every fifth day
        # only (365 and 10 share the factor 5), never in the last four, as no real sender.
        day = "(abs(hashint4(g::int)) % 365)"
        step(
            "notices",
            Notice,
            t["notice"].pk,
            n["notices"],
            {
                "account_id": acc,
                "request_id": "md5('n' || g)::uuid",
                "phone_hash": "md5('p' || g) || md5('q' || g)",
                "accepted_at": f"t.accepted_at - {day} * interval '1 day'"
                " - (g % 86400) * interval '1 second'",
                "line_day": f"t.line_day - {day}",
                "deadline_at": f"t.deadline_at - {day} * interval '1 day'",
                "delivered_at": f"t.delivered_at - {day} * interval '1 day'",
                "settled_at": f"t.settled_at - {day} * interval '1 day'",
                # Charged as ``finish_notices`` charges a push in service, seconds after it.
                "charged_at": f"t.delivered_at - {day} * interval '1 day'",
            },
        )
        step(
            "usage rows",
            UsageRecord,
            t["usage"].pk,
            n["usage"],
            {
                "account_id": acc,
                "dedupe_key": "NULL",
                "sent_at": f"t.sent_at - {day} * interval '1 day'",
                "line_day": f"t.line_day - {day}",
                "period": f"date_trunc('month', t.line_day - {day})::date",
                "recipients": "1 + g % 5000",
            },
        )
        months = max(1, n["invoices"] // n_cust)
        i0, _ = step(
            "invoices",
            Invoice,
            t["invoice"].pk,
            n["invoices"],
            {
                "customer_id": f"{c0} + (g - 1) % {n_cust}",
                "period": f"(date '2025-01-01' + ((g - 1) / {n_cust} % {months + 1})"
                " * interval '1 month')::date",
                "number": "'AB' || lpad(g::text, 8, '0')",
            },
        )
        step(
            "invoice lines",
            InvoiceLine,
            t["line"].pk,
            2 * n["invoices"],
            {"invoice_id": f"{i0} + (g - 1) / 2", "account_id": acc},
        )
        hist_model = type(t["history"])
        step(
            "history rows",
            hist_model,
            t["history"].pk,
            n["history"],
            {
                "id": acc,
                "name": "'官方帳號 ' || g",
                "basic_id": "NULL",
                "history_date": "t.history_date - (g % 525600) * interval '1 minute'",
            },
            pk="history_id",
        )
        cur.execute(
            "CREATE TABLE IF NOT EXISTS bench_admin_scale (scale float, fill_s float, "
            "big_org int, admin_id int)"
        )
        cur.execute("DELETE FROM bench_admin_scale")
        cur.execute(
            "INSERT INTO bench_admin_scale VALUES (%s, %s, %s, %s)",
            [scale, time.perf_counter() - started, big, t["admin"].pk],
        )
    s = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("VACUUM ANALYZE")
    print(f"  {'vacuum analyze':<26} {'':>12}      {time.perf_counter() - s:7.1f} s")
    seconds = time.perf_counter() - started
    with connection.cursor() as cur:
        cur.execute("UPDATE bench_admin_scale SET fill_s = %s", [seconds])
    return seconds


def ensure_filled(database: str, scale: float, refill: bool) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
    if exists and not refill:
        with psycopg.connect(f"{SERVER}/{database}") as conn:
            try:
                row = conn.execute("SELECT scale, fill_s FROM bench_admin_scale").fetchone()
            except psycopg.Error:
                row = None
        if row and abs(row[0] - scale) < 1e-9:
            print(f"{database}: reusing the fill at scale {scale} (it took {row[1]:.0f} s)")
            # A run's phase under load leaves the upload's replaced members dead (19.5 M after
            # thirteen uploads); this server runs no autovacuum (production's would), so the
            # next run's quiet pages would read them. Vacuum what earlier runs left.
            s = time.perf_counter()
            with psycopg.connect(f"{SERVER}/{database}", autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE")
            print(f"{database}: vacuumed in {time.perf_counter() - s:.1f} s", flush=True)
            return
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
    print(f"{database}: filling at scale {scale}", flush=True)
    code = subprocess.call(
        [
            sys.executable,
            __file__,
            "--child",
            "measure",
            "--database",
            database,
            "--scale",
            str(scale),
            "--out",
            "FILL",
        ]
    )
    if code:
        sys.exit(code)


# --- Measure ----------------------------------------------------------------------------------


def _pages(client, user_label):
    """(label, url) of every changelist variant and change page this client can open."""
    from urllib.parse import urlencode

    from django.contrib import admin
    from django.urls import NoReverseMatch, reverse

    pages = []
    for model, model_admin in sorted(
        admin.site._registry.items(), key=lambda kv: kv[0]._meta.label
    ):
        info = (model._meta.app_label, model._meta.model_name)
        try:
            url = reverse("admin:{}_{}_changelist".format(*info))
        except NoReverseMatch:
            continue
        response = client.get(url)
        if response.status_code != 200 or not response.context or "cl" not in response.context:
            continue
        cl = response.context["cl"]
        name = model._meta.label
        pages.append((f"{name} list", url))
        for spec in cl.filter_specs[:1]:
            choices = [c for c in spec.choices(cl) if not c.get("selected")]
            if choices:
                pages.append((f"{name} filter", url + choices[0]["query_string"]))
        if model_admin.get_search_fields(response.wsgi_request):
            pages.append((f"{name} search", url + "?" + urlencode({"q": "1"})))
        if cl.paginator.num_pages > 1:
            pages.append((f"{name} last", url + f"?p={cl.paginator.num_pages}"))
        rows = list(cl.result_list[:1])
        if rows:
            try:
                change = reverse("admin:{}_{}_change".format(*info), args=[rows[0].pk])
                pages.append((f"{name} change", change))
            except NoReverseMatch:
                pass
    return pages


def _last_page_link(client, url: str) -> str:
    """The last page's link as the list shows it now, as a person clicks it: under load the
    estimated count moves by thousands of rows a second (the upload adds 1.5 M members), so a
    page number found minutes before is no longer the last, and far from both ends it is
    refused (``LargeTablePaginator.MAX_OFFSET``)."""
    import re

    base = url.split("?", 1)[0]
    numbers = re.findall(rb"[?&]p=(\d+)", client.get(base).content)
    return f"{base}?p={max(int(n) for n in numbers)}" if numbers else url


def measure(database: str, runs: int, until: str | None) -> dict:
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import (
        CaptureQueriesContext,
        setup_test_environment,
        teardown_test_environment,
    )

    for name in ("django.request", "django.security"):  # a customer's 403s are expected
        logging.getLogger(name).disabled = True
    with connection.cursor() as cur:
        cur.execute("SELECT big_org, admin_id FROM bench_admin_scale")
        big_org, admin_id = cur.fetchone()
    users = {
        "staff": get_user_model().objects.get(username="bench-super"),
        "customer": get_user_model().objects.get(pk=admin_id),
    }
    # The pages are found with the test environment's instrumentation (a response's context
    # gives the changelist), then timed without it: it keeps every rendered context alive, so
    # the process grew by ~7,000 objects a page and Python's full garbage collections (~250 ms
    # each at 400,000 objects) landed inside the timed requests. A server keeps none of them,
    # and freezes its start-up heap (lbm/gunicorn_conf.py ``post_worker_init``): so does this.
    setup_test_environment()
    clients, found = {}, {}
    for label, user in users.items():
        clients[label] = Client()
        clients[label].force_login(user)
        found[label] = _pages(clients[label], label)
    teardown_test_environment()
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    gc.collect()
    gc.freeze()
    results = {}
    for label, client in clients.items():
        for name, url in found[label]:
            times, queries, status = [], 0, 0
            for i in range(runs):
                if name.endswith(" last"):
                    url = _last_page_link(client, url)
                with CaptureQueriesContext(connection) as ctx:
                    s = time.perf_counter()
                    response = client.get(url)
                    ms = (time.perf_counter() - s) * 1000
                status = response.status_code
                queries = len(ctx.captured_queries)
                if i:
                    times.append(ms)
            times.sort()
            p95 = times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))]
            results[f"{label}: {name}"] = dict(
                url=url, p50=statistics.median(times), p95=p95, queries=queries, status=status
            )
            if until and Path(until).exists():
                return results
    return results


def report(title, results, small=None, limit_ms=TARGET_MS):
    print(f"\n{title}")
    print(f"{'page':<62} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}  flags")
    bad = 0
    for key, r in results.items():
        flags = []
        if r["status"] != 200:
            flags.append(f"HTTP {r['status']}")
        if r["p95"] > limit_ms:
            flags.append("SLOW")
        if r["queries"] > TARGET_QUERIES:
            flags.append("QUERIES")
        if small and key in small and small[key]["queries"] != r["queries"]:
            flags.append(f"GROWS ({small[key]['queries']} at small scale)")
        bad += bool(flags)
        print(f"{key:<62} {r['p50']:8.0f} {r['p95']:8.0f} {r['queries']:8d}  {' '.join(flags)}")
    print(
        f"{len(results)} pages, {bad} flagged (targets: p95 <= {limit_ms} ms, "
        f"<= {TARGET_QUERIES} queries, query count not growing with rows)"
    )


def run_child(database, runs, until=None):
    out = Path(f"/tmp/admin_scale_{database}_{os.getpid()}.json")
    args = [
        sys.executable,
        __file__,
        "--child",
        "measure",
        "--database",
        database,
        "--runs",
        str(runs),
        "--out",
        str(out),
    ]
    if until:
        args += ["--until", until]
    subprocess.check_call(args)
    data = json.loads(out.read_text())
    out.unlink()
    return data


# --- Background load --------------------------------------------------------------------------


def _until(done: str | None):
    """Run the job once, or again and again until the file ``done`` exists (the pages are
    measured): the pages are then timed under load from their first run to their last."""
    yield
    while done and not Path(done).exists():
        yield


def child_upload(database: str, scale: float, done: str | None = None) -> None:
    from bench import audience_upload

    rows = max(15_000, int(1_500_000 * scale))
    path = audience_upload.generate(rows)
    for _ in _until(done):
        result = audience_upload.child_project(f"{SERVER}/{database}", str(path))
        print(f"  upload of {result['rows']:,} numbers: {result['seconds']:.1f} s", flush=True)


def child_bill(database: str, done: str | None = None) -> None:
    from datetime import date

    setup_django(database)
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from billing import einvoice, services
    from billing.models import EInvoiceTrack

    period = date(2025, 12, 1)
    bimonth = einvoice.bimonth_of_moment(timezone.now())
    if not EInvoiceTrack.objects.filter(period=bimonth, prefix="BN").exists():
        # The numbers staff would enter for the two months the invoices are issued in.
        services.einvoice_track_create(
            period=bimonth,
            prefix="BN",
            first_number=0,
            last_number=99_999_999,
            actor=get_user_model().objects.get(username="bench-super"),
        )
    for _ in _until(done):
        with connection.cursor() as cur:  # a previous run's invoices for the period, set aside
            cur.execute(
                "DELETE FROM billing_invoiceline WHERE invoice_id IN "
                "(SELECT id FROM billing_invoice WHERE period = %s)",
                [period],
            )
            cur.execute("DELETE FROM billing_invoice WHERE period = %s", [period])
        s = time.perf_counter()
        result = services.bill_month(period=period, triggered_by="admin_scale bench")
        print(
            f"  bill_month 2025-12: {result.invoices_created:,} invoices, "
            f"{time.perf_counter() - s:.1f} s",
            flush=True,
        )


def main() -> None:
    args = parse_args()
    if args.child == "measure":
        setup_django(args.database)
        if args.out == "FILL":
            from django.core.management import call_command

            call_command("migrate", verbosity=0)
            print(f"fill took {fill(args.scale):.1f} s", flush=True)
            return
        Path(args.out).write_text(json.dumps(measure(args.database, args.runs, args.until)))
        return
    if args.child == "upload":
        child_upload(args.database, args.scale, args.until)
        return
    if args.child == "bill":
        child_bill(args.database, args.until)
        return

    small = None
    if args.compare_scale and args.compare_scale != args.scale:
        ensure_filled(SMALL_DATABASE, args.compare_scale, args.refill)
        small = run_child(SMALL_DATABASE, 2)
    ensure_filled(args.database, args.scale, args.refill)
    results = run_child(args.database, args.runs)
    report(f"Admin pages at scale {args.scale} ({args.runs} runs, first discarded)", results, small)
    if args.no_load:
        return
    print("\nStarting a 1.5 M upload and bill_month in background processes", flush=True)
    done = f"/tmp/admin_scale_done_{os.getpid()}"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--child",
                kind,
                "--database",
                args.database,
                "--scale",
                str(args.scale),
                "--until",
                done,
            ]
        )
        for kind in ("upload", "bill")
    ]
    time.sleep(2)
    s = time.perf_counter()
    loaded = run_child(args.database, 3)
    Path(done).touch()  # the jobs stop after their current run
    for p in procs:
        p.wait()
    print(f"  pages measured in {time.perf_counter() - s:.0f} s while the jobs ran (again)")
    Path(done).unlink(missing_ok=True)
    report(
        "Admin pages during upload + bill_month (3 runs, first discarded)",
        loaded,
        limit_ms=TARGET_LOAD_MS,
    )


if __name__ == "__main__":
    main()
