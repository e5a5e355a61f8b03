"""Sign-in hardening: throttling with a cool-off, idle timeout, production settings."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.urls import reverse

from tests import factories

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parents[2]


def _login(client, username, password):
    return client.post(
        reverse("admin:login"), {"username": username, "password": password, "next": "/admin/"}
    )


def test_repeated_failed_sign_ins_lock_the_account_until_the_cool_off(client, settings):
    settings.AXES_ENABLED = True
    user = factories.UserFactory()
    start = datetime.now(tz=UTC)
    with time_machine.travel(start, tick=False):
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            assert _login(client, user.username, "wrong-password").status_code == 200
        assert _login(client, user.username, "wrong-password").status_code == 429
        locked = _login(client, user.username, factories.PASSWORD)
        assert locked.status_code == 429
        assert b"Too many failed sign-in attempts" in locked.content
        assert "_auth_user_id" not in client.session
    with time_machine.travel(start + settings.AXES_COOLOFF_TIME + timedelta(minutes=1), tick=False):
        assert _login(client, user.username, factories.PASSWORD).status_code == 302


def test_a_few_failures_do_not_lock(client, settings):
    settings.AXES_ENABLED = True
    user = factories.UserFactory()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, user.username, "wrong-password")
    assert _login(client, user.username, factories.PASSWORD).status_code == 302


def test_session_ends_after_30_idle_minutes_and_activity_extends_it(client):
    user = factories.UserFactory()
    start = datetime.now(tz=UTC)
    with time_machine.travel(start, tick=False):
        client.force_login(user)
        assert client.get("/admin/").status_code == 200
    with time_machine.travel(start + timedelta(minutes=25), tick=False):
        assert client.get("/admin/").status_code == 200  # activity: the 30 minutes restart
    with time_machine.travel(start + timedelta(minutes=50), tick=False):
        assert client.get("/admin/").status_code == 200
    with time_machine.travel(start + timedelta(minutes=81), tick=False):
        response = client.get("/admin/")
        assert response.status_code == 302 and "/admin/login/" in response["Location"]


def _manage(*args, env_extra):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "k8#Qz!2vT9@pL4wXr7&nB1mYc6^hJ3sD0fG5aE8uI2oP9lK4-w7Vx",
    "PII_HASH_KEY": "another-long-random-secret-for-personal-data-hashing",
    "ALLOWED_HOSTS": "lbm.example.com",
}


def test_production_settings_pass_check_deploy_without_warnings():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env_extra=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "PII_HASH_KEY", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_without_its_secrets(missing):
    env = dict(PRODUCTION_ENV, **{missing: ""})
    result = _manage("check", env_extra=env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr
