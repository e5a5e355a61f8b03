import pytest
from rest_framework.test import APIClient

from lbm import channels
from tests import factories


@pytest.fixture
def oa(db):
    """An approved organization's linked Official Account with a channel and a token."""
    org = factories.organization(state="approved")
    account = factories.account_for(org, premium_id="@bearfood")
    factories.linked(org, account)
    _row, token = channels.token_issue(account=account)
    account.token = token
    account.org = org
    return account


@pytest.fixture
def api(oa):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {oa.token}")
    return client
