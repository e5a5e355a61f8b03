#!/usr/bin/env bash
# The whole test suite, in two tiers (called by `make test`).
#   1. unit tier on SQLite, with the browser tests (headless Debian Chromium);
#   2. the same suite plus the integration tests on PostgreSQL + Redis with a real Celery worker.
# The integration tier is skipped with a printed reason when PostgreSQL or Redis cannot be
# reached; LBM_REQUIRE_INTEGRATION=1 (set by .ci/run) turns that skip into a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PG_URL=${LBM_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/lbm}
REDIS_TEST_URL=${LBM_TEST_REDIS_URL:-redis://127.0.0.1:6379/14}
require=${LBM_REQUIRE_INTEGRATION:-0}

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

# Start the local services when they are installed but down.
if ! port_open 127.0.0.1 5432 && command -v pg_ctlcluster >/dev/null; then
  echo "PostgreSQL is down; starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -1)" main start || true
fi
if ! port_open 127.0.0.1 6379 && command -v redis-server >/dev/null; then
  echo "Redis is down; starting it"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no || true
fi
for _ in $(seq 1 20); do port_open 127.0.0.1 5432 && port_open 127.0.0.1 6379 && break; sleep 0.5; done

# Browser tests drive Debian's Chromium, with Noto CJK so that Chinese renders as text in the
# screenshots; install them when missing and we may.
if ! command -v chromium >/dev/null || [ ! -d /usr/share/fonts/opentype/noto ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing Debian's chromium and fonts-noto-cjk for the browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk) \
      >/dev/null 2>&1 || echo "chromium could not be installed"
  fi
fi

status=0
run_pytest() {
  "$BIN/pytest" "$@"
  local rc=$?
  [ $rc -eq 5 ] && rc=0  # no test selected is not a failure of the suite
  [ $rc -ne 0 ] && status=$rc
}

echo "=== Unit tier: SQLite ==="
DATABASE_URL= REDIS_URL= run_pytest -m "not integration" "$@"

echo "=== Integration tier: PostgreSQL + Redis + Celery worker ==="
DATABASE_URL=$PG_URL REDIS_URL=$REDIS_TEST_URL run_pytest -m "not browser" "$@"

exit $status
