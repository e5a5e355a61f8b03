import pytest

from tests import factories


@pytest.fixture
def manager(db):
    """A LINE account manager (holds the billing permissions)."""
    return factories.account_manager()


@pytest.fixture
def reviewer(db):
    return factories.reviewer()
