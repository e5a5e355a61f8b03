"""Benchmark: uploading 1,500,000 Taiwanese mobile numbers as an audience.

    .venv/bin/python bench/audience_upload.py [--rows 1500000] [--stock-rows 20000]
                                              [--skip-sqlite] [--skip-stock]

Contenders, each in its own process (wall time of the upload itself; peak memory is the larger
of the process's ``ru_maxrss`` from ``os.wait4`` and the summed proportional set size (PSS) of
the process and its hashing workers, sampled every 0.1 s):

* project path on PostgreSQL: ``audiences.services.audience_create_from_ids`` on the file (read,
  validate, normalise, keyed-hash and seal in two worker processes, one COPY stream into a
  staging table, duplicate check, insert, size) — what the Celery task runs;
* the same on SQLite;
* stock django-import-export ``ModelResource`` imports of the same rows (phone numbers into the
  member table, no hashing), with default settings and with ``use_bulk=True, batch_size=5000``.
  They are run on ``--stock-rows`` rows and extrapolated linearly to the full file (printed as
  such): the default one takes about ten minutes for 1.5 million rows.

Uses its own PostgreSQL database (``BENCH_DATABASE_URL``, default
postgres://postgres@127.0.0.1:5432/lbm_bench_aud), created and migrated when missing.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / "var" / "bench"
PG_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/lbm_bench_aud")
TARGET_SECONDS = 15
TARGET_MB = 250


def generate(rows: int) -> Path:
    """A file of ``rows`` distinct mobile numbers (09 + 8 digits), made once and reused."""
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path = DATA_DIR / f"phones-{rows}.txt"
    if path.exists():
        return path
    rng = random.Random(20260101)
    numbers = rng.sample(range(90_000_000), rows)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w") as handle:
        for start in range(0, rows, 100_000):
            handle.write("".join(f"09{n:08d}\n" for n in numbers[start : start + 100_000]))
    tmp.rename(path)
    return path


# --- Child processes ----------------------------------------------------------------------------


def _setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = ""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lbm.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _org_and_admin():
    from django.contrib.auth import get_user_model
    from django.test.utils import override_settings

    from lbm import services as lbm_services
    from lbm.models import Membership, Organization

    org = Organization.objects.filter(business_number="53212539").first()
    if org is None:
        user, _ = get_user_model().objects.get_or_create(
            username="bench", defaults={"email": "bench@bench.example"}
        )
        with override_settings(EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"):
            org = lbm_services.organization_create(
                actor=user,
                organization=Organization(
                    name="Bench",
                    company_name="Bench 股份有限公司",
                    business_number="53212539",
                    address="台北市",
                    phone="02-2720-0000",
                    industry="retail",
                    share_mode="share_selected",
                ),
            )
        Organization.objects.filter(pk=org.pk).update(status="approved")
        org.refresh_from_db()
    admin = Membership.objects.filter(organization=org, role="admin").first().user
    return org, admin


def child_project(database_url: str, path: str) -> dict:
    _setup_django(database_url)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from audiences import services
    from audiences.models import Audience

    org, admin = _org_and_admin()
    Audience.objects.filter(organization=org).delete()
    started = time.perf_counter()
    audience = services.audience_create_from_ids(
        actor=admin, organization_id=org.pk, name=f"bench {time.time()}", id_type="phone", ids=path
    )
    seconds = time.perf_counter() - started
    assert audience.size == int(audience.members.count())
    size = audience.size
    Audience.objects.filter(pk=audience.pk).delete()
    return {"seconds": seconds, "rows": size}


def child_stock(database_url: str, path: str, rows: int, bulk: bool) -> dict:
    _setup_django(database_url)
    import tablib
    from django.utils import timezone
    from import_export import resources

    from audiences.models import Audience, AudienceMember

    org, admin = _org_and_admin()
    Audience.objects.filter(organization=org).delete()
    now = timezone.now()
    audience = Audience.objects.create(
        organization=org,
        name=f"stock {time.time()}",
        type="upload_phone",
        id_type="phone",
        created_at=now,
        expires_at=now,
    )

    meta = {"model": AudienceMember, "fields": ("id", "audience", "identifier")}
    if bulk:
        meta.update(use_bulk=True, batch_size=5000)
    Resource = type(
        "StockMemberResource", (resources.ModelResource,), {"Meta": type("Meta", (), meta)}
    )
    with open(path) as handle:
        lines = [next(handle).strip() for _ in range(rows)]
    started = time.perf_counter()
    dataset = tablib.Dataset(headers=["audience", "identifier"])
    for line in lines:
        dataset.append([audience.pk, line])
    result = Resource().import_data(dataset, dry_run=False, raise_errors=True)
    seconds = time.perf_counter() - started
    count = audience.members.count()
    assert count == rows, (count, rows, result.totals)
    audience.delete()
    return {"seconds": seconds, "rows": rows}


# --- The parent -------------------------------------------------------------------------------


def run(kind: str, *args) -> dict:
    """Run one contender in a fresh process; return its result with its peak memory."""
    out = tempfile.NamedTemporaryFile(delete=False, suffix=".json")
    out.close()
    code = (
        f"import json, sys; sys.path.insert(0, {str(ROOT)!r}); "
        f"sys.path.insert(0, {str(ROOT / 'bench')!r}); import audience_upload as b; "
        f"r = b.child_{kind}(*{args!r}); open({out.name!r}, 'w').write(json.dumps(r))"
    )
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
    tree_peak = [0]
    sampler = threading.Thread(target=_sample_tree, args=(proc.pid, tree_peak), daemon=True)
    sampler.start()
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    sampler.join()
    if os.WEXITSTATUS(status) != 0:
        raise SystemExit(f"{kind} failed")
    result = json.loads(Path(out.name).read_text())
    os.unlink(out.name)
    # ru_maxrss of wait4 is the largest single process (the child or one of its hashing
    # workers); the sampled sum of the whole tree's PSS counts the workers too.
    result["peak_mb"] = max(usage.ru_maxrss / 1024, tree_peak[0] / 1024)
    result["largest_process_mb"] = usage.ru_maxrss / 1024
    result["tree_peak_mb"] = tree_peak[0] / 1024
    result["process_seconds"] = wall
    return result


def _tree_rss_kb(root: int) -> int:
    """Summed proportional set size (PSS) of ``root`` and its descendants (from /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        pid = int(entry)
        parents[pid] = int(fields.get("PPid", "0"))
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        tree.update(children)
        frontier.extend(children)
    for pid in tree:
        # PSS: pages the forked workers share with the parent are counted once, split.
        try:
            with open(f"/proc/{pid}/smaps_rollup") as handle:
                rss[pid] = next(int(line.split()[1]) for line in handle if line.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return sum(rss.values())


def _sample_tree(root: int, peak: list[int]) -> None:
    while os.path.exists(f"/proc/{root}/status"):
        try:
            with open(f"/proc/{root}/status") as handle:
                if "zombie" in handle.read():
                    return
        except OSError:
            return
        peak[0] = max(peak[0], _tree_rss_kb(root))
        time.sleep(0.1)


def ensure_database() -> None:
    from urllib.parse import urlparse

    import psycopg

    url = urlparse(PG_URL)
    name = url.path.lstrip("/")
    admin_url = PG_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument(
        "--stock-rows",
        type=int,
        default=20_000,
        help="rows for the stock import-export contenders (extrapolated)",
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-stock", action="store_true")
    options = parser.parse_args()
    ensure_database()
    path = str(generate(options.rows))
    print(
        f"file: {path} ({options.rows:,} unique numbers, {os.path.getsize(path) / 1e6:.1f} MB)",
        flush=True,
    )
    results = {}
    results["project, PostgreSQL"] = run("project", PG_URL, path)
    print_row("project, PostgreSQL", results["project, PostgreSQL"], options.rows)
    if not options.skip_sqlite:
        sqlite_dir = tempfile.mkdtemp(prefix="bench-sqlite-")
        results["project, SQLite"] = run("project", f"sqlite:///{sqlite_dir}/bench.sqlite3", path)
        print_row("project, SQLite", results["project, SQLite"], options.rows)
    if not options.skip_stock:
        for label, bulk in [
            ("stock import-export, default", False),
            ("stock import-export, use_bulk=True batch_size=5000", True),
        ]:
            result = run("stock", PG_URL, path, options.stock_rows, bulk)
            result["extrapolated_seconds"] = result["seconds"] * options.rows / result["rows"]
            results[label] = result
            print_row(label, result, options.rows)
    project = results["project, PostgreSQL"]
    print()
    print(
        f"Targets for the project path on PostgreSQL: ≤ {TARGET_SECONDS} s and "
        f"≤ {TARGET_MB} MB — measured {project['seconds']:.1f} s, "
        f"{project['peak_mb']:.0f} MB."
    )
    for label, result in results.items():
        if label.startswith("stock"):
            print(
                f"{label}: {result['extrapolated_seconds'] / project['seconds']:.1f}× slower "
                f"(extrapolated from {result['rows']:,} rows), peak memory on the sample "
                f"{result['peak_mb']:.0f} MB"
            )


def print_row(label: str, result: dict, rows: int) -> None:
    if "extrapolated_seconds" in result:
        print(
            f"{label:<55} {result['seconds']:8.1f} s for {result['rows']:,} rows → "
            f"EXTRAPOLATED {result['extrapolated_seconds']:8.1f} s for {rows:,}; "
            f"peak {result['peak_mb']:6.0f} MB (sample)",
            flush=True,
        )
    else:
        print(
            f"{label:<55} {result['seconds']:8.1f} s for {result['rows']:,} rows; "
            f"peak {result['peak_mb']:6.0f} MB (whole process tree; largest process "
            f"{result['largest_process_mb']:.0f} MB); process {result['process_seconds']:.1f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
