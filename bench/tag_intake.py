"""LINE Tag: sustained event intake through gunicorn, and recomputing a web-traffic rule over
10,000,000 stored events.

    .venv/bin/python bench/tag_intake.py [--seconds 20] [--rate 2000] [--workers 3]
                                         [--events 10000000] [--skip-intake] [--skip-rule]

Intake: two client processes (four threads each) post batches of 10 events to
``/tag/v1/events`` on a fixed schedule (the paced target rate, ``--rate`` events per second),
bodies built before the run; prints the events/s achieved and p50/p99
latency against the targets (≥ 2,000 events/s, p99 ≤ 100 ms). Rule: fills ``--events`` events
set-based (one ``INSERT … SELECT generate_series``), then times ``audience_rebuild`` of a
web-traffic audience (conversions on URLs containing ``/cart`` in the last 30 days) against
the target (≤ 30 s), beside a bare ``COUNT(*)`` of the same events as the baseline. Uses its own
database (``lbm_bench_tag_d``) and Redis db 13, both wiped first.
"""

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import api_load  # noqa: E402

DB_NAME = "lbm_bench_tag_d"
PORT = 8927
TARGET_EPS, TARGET_P99_MS, TARGET_RULE_S = 2000, 100.0, 30.0
BATCH = 10

api_load.DB_NAME = DB_NAME
api_load.PORT = PORT
api_load.ENV.update(
    {
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
        "REDIS_URL": "redis://127.0.0.1:6379/13",
        "TAG_RATE_LIMIT": "1000000",
    }
)
ENV = api_load.ENV

SETUP = r"""
import json
from audiences import services
from audiences.models import LineUser
from lbm.models import Membership
from tests import factories
org = factories.organization(state="approved")
admin = Membership.objects.get(organization=org, role="admin").user
tag = services.line_tag_create(actor=admin, organization_id=org.pk, name="bench")
LineUser.objects.bulk_create(LineUser(user_id="U%032x" % i) for i in range(10000))
print(json.dumps({"tag": tag.tag_id, "tag_pk": tag.pk, "org": org.pk, "admin": admin.pk}))
"""

RULE = r"""
import json, time
from django.db import connection
from audiences import services
from audiences.models import Audience
from django.contrib.auth import get_user_model
setup = json.loads(%(setup)r)
with connection.cursor() as c:
    t = time.perf_counter()
    c.execute("INSERT INTO audiences_tagevent (tag_id, line_user_id, event, url, occurred_at,"
              " received_at) SELECT %%s, (SELECT min(id) FROM audiences_lineuser) + i %%%% 10000,"
              " CASE WHEN i %%%% 10 = 0 THEN 'Conversion' ELSE 'PageView' END,"
              " 'https://shop.example.com/' || CASE WHEN i %%%% 3 = 0 THEN 'cart/' ELSE 'items/'"
              " END || (i %%%% 500), now() - (i %%%% 180) * interval '1 day' - (i %%%% 86400) *"
              " interval '1 second', now() FROM generate_series(1, %%s) i",
              [setup["tag_pk"], %(events)d])
    c.execute("ANALYZE audiences_tagevent")
    fill = time.perf_counter() - t
    t = time.perf_counter()
    c.execute("SELECT count(*) FROM audiences_tagevent WHERE tag_id = %%s AND event ="
              " 'Conversion' AND occurred_at >= now() - interval '30 days'", [setup["tag_pk"]])
    matching = c.fetchone()[0]
    baseline = time.perf_counter() - t
admin = get_user_model().objects.get(pk=setup["admin"])
t = time.perf_counter()
audience = services.audience_web_traffic_create(
    actor=admin, organization_id=setup["org"], name="cart", tag_id=setup["tag_pk"],
    event="Conversion", retention_days=30, url_match="contains", url_value="/cart")
first = time.perf_counter() - t
t = time.perf_counter()
services.audience_rebuild(audience_id=audience.pk)
again = time.perf_counter() - t
print(json.dumps({"fill": fill, "baseline": baseline, "matching": matching, "first": first,
                  "again": again, "size": Audience.objects.get(pk=audience.pk).size}))
"""


def _client(tag: str, start: float, seconds: int, rate: int, n: int, senders: int, out) -> None:
    """One sending process: its share of the schedule (every ``senders``-th request, at the
    time it is due), on one kept-alive connection per thread. Latency is taken from when each
    request was due, so a server that falls behind shows in it (coordinated omission counted).
    Bodies are built before the run so the client's own work does not delay a send."""
    import http.client

    interval = BATCH / rate  # seconds between requests, all senders together
    count = int(seconds / interval)
    mine = list(range(n, count, senders))
    now = int(time.time())
    bodies = {
        i: json.dumps(
            {
                "tagId": tag,
                "events": [
                    {
                        "type": "PageView",
                        "url": f"https://shop.example.com/items/{k}",
                        "timestamp": now,
                        "user": {"lineUserId": "U%032x" % ((i * BATCH + k) % 10000)},
                    }
                    for k in range(BATCH)
                ],
            }
        )
        for i in mine
    }
    latencies, errors = [], 0
    threads = 4
    lock = threading.Lock()

    def run(t: int) -> None:
        nonlocal errors
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=10)
        for i in mine[t::threads]:
            due = start + i * interval
            pause = due - time.time()
            if pause > 0:
                time.sleep(pause)
            conn.request("POST", "/tag/v1/events", bodies[i], {"Content-Type": "text/plain"})
            response = conn.getresponse()
            response.read()
            took = (time.time() - due) * 1000
            with lock:
                latencies.append(took)
                errors += response.status != 202

    workers = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put((latencies, errors, time.time()))


def intake(tag: str, seconds: int, rate: int, senders: int = 2) -> dict:
    """Post ``rate`` events per second for ``seconds`` from ``senders`` processes (so that the
    client is not one interpreter's lock). Events/s is the accepted events over the time from
    the first due request to the last response."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start = time.time() + 1.0
    procs = [
        context.Process(target=_client, args=(tag, start, seconds, rate, n, senders, out))
        for n in range(senders)
    ]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    latencies = sorted(x for r in results for x in r[0])
    errors = sum(r[1] for r in results)
    elapsed = max(r[2] for r in results) - start
    accepted = (len(latencies) - errors) * BATCH
    return {
        "eps": accepted / elapsed,
        "p50": statistics.median(latencies),
        "p99": latencies[int(len(latencies) * 0.99) - 1],
        "errors": errors,
        "requests": len(latencies),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rate", type=int, default=TARGET_EPS)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--skip-intake", action="store_true")
    parser.add_argument("--skip-rule", action="store_true")
    args = parser.parse_args()
    api_load.reset_database()
    api_load.sh(api_load.PY, "manage.py", "migrate", "-v0")
    out = subprocess.run(
        [api_load.PY, "manage.py", "shell", "-c", SETUP],
        check=True,
        env=ENV,
        cwd=api_load.ROOT,
        capture_output=True,
        text=True,
    ).stdout
    setup_line = out.strip().splitlines()[-1]
    setup = json.loads(setup_line)
    if not args.skip_intake:
        gunicorn = api_load.start_gunicorn(args.workers)
        try:
            intake(setup["tag"], 3, args.rate)  # warm-up
            result = intake(setup["tag"], args.seconds, args.rate)
        finally:
            os.killpg(gunicorn.pid, signal.SIGTERM)
            gunicorn.wait(timeout=30)
        ok = result["eps"] >= TARGET_EPS * 0.98 and result["p99"] <= TARGET_P99_MS
        print(
            f"intake paced at {args.rate} events/s ({BATCH} per request), gunicorn "
            f"{args.workers} workers: {result['eps']:.0f} events/s, p50 "
            f"{result['p50']:.1f} ms, p99 {result['p99']:.1f} ms, {result['errors']} errors "
            f"of {result['requests']} requests — target ≥ {TARGET_EPS}/s, p99 ≤ "
            f"{TARGET_P99_MS:.0f} ms: {'MET' if ok else 'NOT MET'}"
        )
    if not args.skip_rule:
        code = RULE % {"setup": setup_line, "events": args.events}
        out = subprocess.run(
            [api_load.PY, "manage.py", "shell", "-c", code],
            check=True,
            env=ENV,
            cwd=api_load.ROOT,
            capture_output=True,
            text=True,
        ).stdout
        r = json.loads(out.strip().splitlines()[-1])
        print(
            f"rule over {args.events:,} events (filled in {r['fill']:.1f} s): first build "
            f"{r['first']:.2f} s, rebuild {r['again']:.2f} s, {r['size']:,} members; "
            f"baseline COUNT of the {r['matching']:,} window events {r['baseline']:.2f} s "
            f"— target ≤ {TARGET_RULE_S:.0f} s: "
            f"{'MET' if max(r['first'], r['again']) <= TARGET_RULE_S else 'NOT MET'}"
        )


if __name__ == "__main__":
    main()
