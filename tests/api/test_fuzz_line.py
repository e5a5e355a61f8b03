"""Fuzzing the API with LINE's own OpenAPI documents (vendored in tests/api/line_openapi/, see its
README), restricted to the operations the project serves (api/urls.py): whatever the generated
input, valid or not, no answer is a server error, and every answer LINE's document describes
matches LINE's schema for it (an error is LINE's ``ErrorResponse``). docs/api.md#fuzzing."""

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from lbm.wsgi import application

HERE = Path(__file__).parent / "line_openapi"

# operationId → served by the project (api/urls.py). Everything else in LINE's documents is not.
MESSAGING_OPERATIONS = [
    "pushMessagesByPhone",
    "getPNPMessageStatistics",
    "getBotInfo",
    "getMessageQuota",
    "getMessageQuotaConsumption",
    "narrowcast",
]
AUDIENCE_OPERATIONS = [
    "createAudienceGroup",
    "addAudienceToAudienceGroup",
    "createAudienceForUploadingUserIds",
    "addUserIdsToAudience",
    "createClickBasedAudienceGroup",
    "createImpBasedAudienceGroup",
    "updateAudienceGroupDescription",
    "deleteAudienceGroup",
    "getAudienceData",
    "getAudienceGroups",
    "getSharedAudienceData",
    "getSharedAudienceGroups",
]
SERVED = MESSAGING_OPERATIONS + AUDIENCE_OPERATIONS

messaging = schemathesis.openapi.from_path(HERE / "messaging-api.yml").include(
    operation_id=MESSAGING_OPERATIONS
)
audiences = schemathesis.openapi.from_path(HERE / "manage-audience.yml").include(
    operation_id=AUDIENCE_OPERATIONS
)
for _schema in (messaging, audiences):
    # Valid and invalid input both: the invalid must end in a 4xx, never a 5xx.
    _schema.config.generation.update(modes=["positive", "negative"])

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.fixture(autouse=True)
def _keep_the_test_connection():
    """Calling the WSGI application directly fires request_finished, which would close the
    database connection holding the test's transaction (see test_fuzz.py)."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def token(db, settings):
    """A live LINE-notification channel (factories) with its access token and an audience of
    its own, so that ids the fuzzer picks may hit real rows."""
    from lbm import channels
    from tests.notifications import factories as lon

    settings.LBM_API_RATE_LIMITS = {
        "default": "100000/s",
        "audience": "100000/s",
        "pnp": "100000/s",
    }
    data = lon.live_setup()
    _row, value = channels.token_issue(account=data["account"])
    return value


def _call(case, token):
    headers = {"Authorization": f"Bearer {token}"}
    response = case.call(app=application, headers=headers)
    case.validate_response(
        response, checks=CHECKS, headers=headers, transport_kwargs={"app": application}
    )
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:500])
    if response.status_code >= 400:
        body = response.json()
        assert isinstance(body.get("message"), str), (case.formatted_path, body)


SETTINGS = hypothesis_settings(
    max_examples=12,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.django_db
@messaging.parametrize()
@SETTINGS
def test_messaging_api_document(case, token):
    _call(case, token)


@pytest.mark.django_db
@audiences.parametrize()
@SETTINGS
def test_manage_audience_document(case, token):
    _call(case, token)


def test_the_fuzzed_operations_are_the_ones_the_project_serves():
    """A LINE operation named here is routed by api/urls.py (the list cannot drift into
    operations nobody serves), and both documents hold every name."""
    from django.urls import Resolver404, resolve

    found = {}
    for name in ("messaging-api.yml", "manage-audience.yml"):
        document = schemathesis.openapi.from_path(HERE / name).raw_schema
        for path, item in document["paths"].items():
            for method, operation in item.items():
                if isinstance(operation, dict) and "operationId" in operation:
                    found[operation["operationId"]] = (path, method)
    for operation_id in SERVED:
        path, _method = found[operation_id]
        concrete = path.replace("{audienceGroupId}", "1")
        try:
            match = resolve(concrete)
        except Resolver404:
            pytest.fail(f"{operation_id} ({path}) is not served")
        assert match.url_name not in (None, ""), operation_id
        assert match.func.__name__ != "not_found", operation_id
