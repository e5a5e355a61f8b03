# The two commands of README.md: `make run` and `make test`.
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)

.PHONY: run test install worker beat lint messages clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "$(PYTHON) is needed"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev]"
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Embedded default: SQLite under var/, Celery tasks eager, e-mail on the console.
run: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_billing
	$(BIN)/python manage.py seed_audiences
	$(BIN)/python manage.py seed_notifications
	@echo "Admin: http://127.0.0.1:8000/admin/"
	$(BIN)/python manage.py runserver 127.0.0.1:8000

## Unit tier (SQLite, browser) then integration tier (PostgreSQL, Redis, real Celery worker).
test: install
	bash scripts/test.sh

## With DATABASE_URL and REDIS_URL set (see README): the worker and the beat scheduler.
worker: install
	$(BIN)/celery -A lbm worker -Q default,webhooks,imports,billing --loglevel=INFO

beat: install
	$(BIN)/celery -A lbm beat --loglevel=INFO

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## Re-extract and compile the zh-Hant catalogue (the compiled .mo is committed).
messages: install
	$(BIN)/python manage.py makemessages -l zh_Hant --ignore=.venv --ignore=staticfiles
	$(BIN)/python manage.py compilemessages -l zh_Hant --ignore=.venv

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache
