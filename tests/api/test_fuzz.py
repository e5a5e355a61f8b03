"""Schema-driven fuzzing of the API with schemathesis, from the OpenAPI document the app serves:
whatever the generated input, no answer is a server error."""

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

from lbm.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/openapi?format=json", application)


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Calling the WSGI application directly fires request_finished, which would close the
    database connection holding the test's transaction; Django's test client disconnects it the
    same way."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(db):
    from lbm import channels
    from tests.notifications import factories as lon

    data = lon.live_setup()
    _row, value = channels.token_issue(account=data["account"])
    return value


@pytest.mark.django_db
@schema.parametrize()
@hypothesis_settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)
)
def test_no_server_errors(case, token, settings):
    settings.LBM_API_RATE_LIMITS = {
        "default": "100000/s",
        "audience": "100000/s",
        "pnp": "100000/s",
    }
    response = case.call(headers={"Authorization": f"Bearer {token}"})
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    assert "x-line-request-id" in {name.lower() for name in response.headers}
    if response.status_code >= 400:
        assert "json" in str(response.headers.get("content-type")), (
            response.status_code,
            case.method,
            case.formatted_path,
            response.text[:300],
        )
        assert "message" in response.json()
