"""Benchmark: delivery-webhook latency while a 1.5 M-ID import runs, with one shared queue and
with the named queues (docs/operations.md).

    .venv/bin/python bench/webhook_latency.py [--rows 1500000] [--rate 20] [--seconds 20]

For each layout, on PostgreSQL and Redis, through gunicorn: two audience imports of ``--rows``
phone numbers each are queued (two customers' files), and while they run pushes are sent at
``--rate`` per second for ``--seconds``; a local receiver notes when each push's ``delivery``
webhook arrives. Latency is accept → POST: from the moment the API answered the push to the
moment its webhook reached the receiver. Printed per layout: p50, p99 and the longest, and how
long the imports took.

Layouts (the worker commands are the ones the README and docs/operations.md give):
* ``one queue`` — before: every task on one queue (``bench/one_queue_settings.py``: no task
  routes), one `celery worker` with two processes; a webhook waits while both processes are busy
  with the imports;
* ``named, 1 worker`` — the named queues, but one worker with two processes consuming all four
  (``make worker`` on a single host): no separate imports worker;
* ``named queues`` — after: a worker for ``webhooks`` and another, at nice 10, for
  ``default,imports,billing``.

Target: the webhook p99 while the import runs stays within 2 s with the named queues. Uses its
own database (``lbm_bench_webhooks``) and Redis db 8, both wiped first.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PY = sys.executable
DB_NAME = "lbm_bench_webhooks"
PORT = 8931
TARGET_P99_S = 2.0
QUEUES = "default,webhooks,imports,billing"

ENV = {
    **os.environ,
    "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
    "REDIS_URL": "redis://127.0.0.1:6379/8",
    "DEBUG": "1",
    "LOG_LEVEL": "WARNING",
    "LOG_REQUESTS": "0",
    "PII_HASH_KEY": "bench-only-pii-hash-key",
    "MEDIA_ROOT": str(ROOT / "var" / "bench" / "webhook-media"),
    "API_RATE_PNP": "1000000/s",
    "API_RATE_DEFAULT": "1000000/s",
}

SETUP = r"""
import hashlib, json
from lbm import channels
from tests import factories
from tests.notifications import factories as lon

setup = lon.live_setup(webhook_url="http://127.0.0.1:%d/callback")
_row, token = channels.token_issue(account=setup["account"])
hashes = [hashlib.sha256(lon.line_user()[1].encode()).hexdigest() for _ in range(%d)]
org = factories.organization(state="approved")
print(json.dumps({"token": token, "hashes": hashes, "org": org.pk,
                  "admin": org.memberships.get(role="admin").user_id}))
"""

UPLOAD = r"""
from django.contrib.auth import get_user_model
from django.core.files import File
from audiences import services
with open(%r, "rb") as handle:
    upload = services.upload_start(actor=get_user_model().objects.get(pk=%d), organization_id=%d,
                                   id_type="phone", file=File(handle, name="bench.txt"),
                                   name=%r)
print(upload.pk)
"""

UPLOAD_STATE = r"""
from audiences.models import AudienceUpload
u = AudienceUpload.objects.get(pk=%d)
print(u.status, (u.finished_at - u.created_at).total_seconds() if u.finished_at else -1)
"""


class Receiver:
    """Notes the arrival time of each delivery webhook by its delivery tag."""

    def __init__(self, port: int):
        self.arrived: dict[str, float] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                now = time.monotonic()
                for event in json.loads(body)["events"]:
                    receiver.arrived.setdefault(event["delivery"]["data"], now)
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


ONE_QUEUE_ENV = {**ENV, "DJANGO_SETTINGS_MODULE": "bench.one_queue_settings"}


def shell(code: str, env: dict = ENV) -> str:
    return (
        subprocess.run(
            [PY, "manage.py", "shell", "-c", code],
            check=True,
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        .stdout.strip()
        .splitlines()[-1]
    )


def reset() -> None:
    import psycopg
    import redis

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    redis.Redis.from_url(ENV["REDIS_URL"]).flushdb()
    subprocess.run([PY, "manage.py", "migrate", "-v0"], check=True, env=ENV, cwd=ROOT)


def start(args: list[str], nice: bool = False, env: dict = ENV) -> subprocess.Popen:
    prefix = ["nice", "-n", "10"] if nice else []
    return subprocess.Popen(
        prefix + args,
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def worker(name: str, queues: str, nice: bool = False, env: dict = ENV) -> subprocess.Popen:
    return start(
        [
            PY,
            "-m",
            "celery",
            "-A",
            "lbm",
            "worker",
            "-Q",
            queues,
            "--concurrency=2",
            "--loglevel=WARNING",
            "-n",
            f"{name}@%h",
        ],
        nice=nice,
        env=env,
    )


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()


def push(token: str, to: str, tag: str) -> float:
    body = json.dumps(
        {
            "to": to,
            "messages": [
                {"type": "text", "text": "到貨通知\n王小明 您好，您的訂單 A123456 已送達門市。"}
            ],
        }
    ).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}/bot/pnp/push",
        data=body,
        method="POST",
        headers={
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "X-Line-Delivery-Tag": tag,
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    return time.monotonic()


def run_layout(
    label: str,
    workers: list[tuple[str, str, bool]],
    data: dict,
    path: Path,
    receiver: Receiver,
    rate: float,
    seconds: float,
    env: dict = ENV,
) -> dict:
    slug = label.replace(" ", "-").replace(",", "")
    procs = [
        start(
            [
                PY,
                "-m",
                "gunicorn",
                "-c",
                "python:lbm.gunicorn_conf",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{PORT}",
                "lbm.wsgi",
            ],
            env=env,
        )
    ]
    procs += [
        worker(f"{slug}-{n}", queues, nice, env) for n, (_name, queues, nice) in enumerate(workers)
    ]
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{PORT}/-/live", timeout=1)
                break
            except (urllib.error.URLError, OSError):
                time.sleep(0.3)
        time.sleep(5)  # the workers are up and waiting
        # Two customers' imports at once: with one shared queue they hold both processes.
        upload_ids = [
            int(
                shell(
                    UPLOAD
                    % (str(path), data["admin"], data["org"], f"bench {label} {n} {time.time()}"),
                    env,
                )
            )
            for n in range(2)
        ]
        time.sleep(1.0)  # the imports have started
        accepted: dict[str, float] = {}
        count = int(rate * seconds)
        started = time.monotonic()
        for i in range(count):
            tag = f"bench-{slug}-{i:08d}"
            accepted[tag] = push(data["token"], data["hashes"][i % len(data["hashes"])], tag)
            pause = started + (i + 1) / rate - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not all(t in receiver.arrived for t in accepted):
            time.sleep(0.2)
        states = [shell(UPLOAD_STATE % pk).split() for pk in upload_ids]
        while any(s not in ("done", "failed") for s, _ in states) and time.monotonic() < deadline:
            time.sleep(1)
            states = [shell(UPLOAD_STATE % pk).split() for pk in upload_ids]
    finally:
        stop(procs)
    latencies = sorted(receiver.arrived[t] - accepted[t] for t in accepted if t in receiver.arrived)
    missing = len(accepted) - len(latencies)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else latencies * 99
    return {
        "label": label,
        "pushes": len(accepted),
        "missing": missing,
        "p50": statistics.median(latencies),
        "p99": q[98],
        "max": latencies[-1],
        "import": ", ".join(f"{s} in {float(t):.1f} s" for s, t in states),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_500_000)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT / "bench"))
    from audience_upload import generate

    path = generate(args.rows)
    reset()
    receiver = Receiver(PORT + 1)
    pushes = int(args.rate * args.seconds)
    data = json.loads(shell(SETUP % (PORT + 1, min(pushes, 400))))
    results = [
        run_layout(
            "one queue",
            [("all", "default", False)],
            data,
            path,
            receiver,
            args.rate,
            args.seconds,
            ONE_QUEUE_ENV,
        ),
        run_layout(
            "named, 1 worker",
            [("all", QUEUES, False)],
            data,
            path,
            receiver,
            args.rate,
            args.seconds,
        ),
        run_layout(
            "named queues",
            [("webhooks", "webhooks", False), ("heavy", "default,imports,billing", True)],
            data,
            path,
            receiver,
            args.rate,
            args.seconds,
        ),
    ]
    print(
        f"\nwebhook latency (accept → POST) while importing 2 × {args.rows:,} IDs, "
        f"{args.rate:g} pushes/s for {args.seconds:g} s"
    )
    print(f"{'layout':<16} {'pushes':>7} {'p50 s':>7} {'p99 s':>7} {'max s':>7}  import")
    for r in results:
        print(
            f"{r['label']:<16} {r['pushes']:>7} {r['p50']:>7.2f} {r['p99']:>7.2f} "
            f"{r['max']:>7.2f}  {r['import']}"
            + (f"  ({r['missing']} webhooks never arrived)" if r["missing"] else "")
        )
    after = results[-1]
    ok = after["p99"] <= TARGET_P99_S and not after["missing"]
    print(
        f"named queues p99 {after['p99']:.2f} s vs target ≤ {TARGET_P99_S:g} s: "
        f"{'met' if ok else 'NOT met'}; one queue p99 {results[0]['p99']:.2f} s, "
        f"named queues with one worker p99 {results[1]['p99']:.2f} s"
    )


if __name__ == "__main__":
    main()
