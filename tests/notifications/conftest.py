import pytest

from tests.notifications import factories as lon


@pytest.fixture
def live(db):
    return lon.live_setup()


@pytest.fixture
def send(live):
    """Send one notice with the live setup's approved version (keyword overrides)."""
    from notifications import services

    def _send(to, **kwargs):
        kwargs.setdefault("values", lon.VALUES)
        return services.notice_send(
            account_id=live["account"].pk, to=to, template_version_id=live["version"].pk, **kwargs
        )

    return _send
