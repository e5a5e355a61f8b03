"""The official line-bot-sdk 3.27.0 client, unmodified, against this app on 127.0.0.1: only the
host changes (``Configuration(host=...)``, no trailing slash)."""

import pytest
from linebot.v3.messaging import ApiClient, ApiException, Configuration, MessagingApi

from lbm import channels
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sdk_token():
    org = factories.organization(state="approved")
    account = factories.account_for(org, premium_id="@bearfood")
    factories.linked(org, account)
    _row, token = channels.token_issue(account=account)
    return account, token


def messaging(live_server, token):
    return MessagingApi(ApiClient(Configuration(host=live_server.url, access_token=token)))


def test_sdk_reads_bot_info(live_server, sdk_token):
    account, token = sdk_token
    info = messaging(live_server, token).get_bot_info()
    assert info.basic_id == account.basic_id
    assert info.premium_id == "@bearfood"
    assert info.user_id == account.channel.bot_user_id


def test_sdk_sees_lines_401(live_server, sdk_token):
    with pytest.raises(ApiException) as error:
        messaging(live_server, "wrong-token").get_bot_info()
    assert error.value.status == 401
    assert "Authentication failed" in error.value.body
    assert error.value.headers["X-Line-Request-Id"]
