import pytest

from tests import factories


@pytest.fixture
def org(db):
    return factories.organization(state="approved")


@pytest.fixture
def admin_user(org):
    from lbm.models import Membership

    return Membership.objects.get(organization=org, role="admin").user


@pytest.fixture
def oa(org):
    account = factories.account_for(org)
    factories.linked(org, account)
    return account


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """Factory users hash their password at creation; a fast hasher keeps unit tests quick."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def parallel(monkeypatch, settings):
    """Tiny blocks and two worker processes whatever the file size."""
    from audiences import importers

    monkeypatch.setattr(importers, "BLOCK_BYTES", 64)
    monkeypatch.setattr(importers, "PARALLEL_MIN_BYTES", 0)
    settings.AUDIENCES_UPLOAD_WORKERS = 2
