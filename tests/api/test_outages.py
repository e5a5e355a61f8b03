"""Every API failure answers LINE's JSON, never Django's HTML page (docs/reliability.md)."""

import pytest
from django.core.cache import caches

from lbm import generations

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_unreachable(settings):
    """Cache, stamps and rate limits on a Redis address that refuses connections."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:9/0",
        }
    }
    caches._settings = caches.settings = settings.CACHES
    generations.forget_all()
    yield
    del caches.settings
    generations.forget_all()


def test_redis_unreachable_answers_a_line_shaped_503_with_retry_after(api, redis_unreachable):
    response = api.get("/v2/bot/message/quota")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {
        "message": "The service is temporarily unavailable. Try again later."
    }
    assert int(response["Retry-After"]) > 0


def test_an_unexpected_error_answers_a_line_shaped_500(api, monkeypatch):
    from billing import selectors

    def broken(**kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(selectors, "message_quota", broken)
    response = api.get("/v2/bot/message/quota")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"message": "An internal error occurred. Try again later."}


# --- Failures outside the views: middleware, Django's own refusals, DEBUG -----------------------

RAISED: list[BaseException] = []


class RaisingMiddleware:
    """Raises ``RAISED[0]`` for every request (a broken or unreachable dependency in a
    middleware: rate limiting, a request-id or auth layer, the cache)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raise RAISED[0]


def client_with_token(oa, **kwargs):
    from rest_framework.test import APIClient

    client = APIClient(raise_request_exception=False, **kwargs)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {oa.token}")
    return client


@pytest.fixture
def raising(settings):
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.api.test_outages.RaisingMiddleware"]
    yield RAISED
    RAISED.clear()


@pytest.mark.parametrize("debug", [False, True])
def test_a_bug_in_a_middleware_answers_lines_500_not_html(oa, raising, settings, debug):
    settings.DEBUG = debug  # DEBUG's technical page is HTML too
    raising.append(RuntimeError("a bug in a middleware"))
    response = client_with_token(oa).get("/v2/bot/info")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"message": "An internal error occurred. Try again later."}
    assert response["X-Line-Request-Id"]


def test_redis_unreachable_in_a_middleware_answers_503_with_retry_after(oa, raising):
    import redis.exceptions

    raising.append(redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:9"))
    response = client_with_token(oa).post("/bot/pnp/push", {}, format="json")
    assert response.status_code == 503
    assert response.json() == {
        "message": "The service is temporarily unavailable. Try again later."
    }
    assert int(response["Retry-After"]) > 0


def test_admin_pages_keep_djangos_own_error_page(oa, raising):
    raising.append(RuntimeError("a bug in a middleware"))
    response = client_with_token(oa).get("/admin/login/")
    assert response.status_code == 500
    assert not response["Content-Type"].startswith("application/json")


def test_a_failure_in_the_outermost_middleware_is_still_lines_json(oa, monkeypatch):
    """The request observer (first in the chain) failing after the view: Django's handler500,
    which answers JSON on API paths (``api.errors.server_error``)."""
    from lbm import metrics

    def broken(*args, **kwargs):
        raise RuntimeError("metrics are broken")

    monkeypatch.setattr(metrics, "observe_request", broken)
    response = client_with_token(oa).get("/v2/bot/info")
    assert response.status_code == 500
    assert response.json() == {"message": "An internal error occurred. Try again later."}


def test_a_host_django_refuses_is_lines_400(oa):
    response = client_with_token(oa, HTTP_HOST="evil.example").get("/v2/bot/info")
    assert response.status_code == 400
    assert response.json() == {"message": "The request could not be understood."}


@pytest.mark.parametrize(
    "path,method",
    [
        ("/bot/pnp/push", "post"),
        ("/v2/bot/audienceGroup/list?page=1", "get"),
        ("/v2/bot/info", "get"),
        ("/v2/bot/message/narrowcast", "post"),
    ],
)
def test_redis_unreachable_is_503_on_every_endpoint(oa, redis_unreachable, path, method):
    """Token lookup, rate limits and stamps all live in Redis: each endpoint says it cannot
    answer now, in LINE's shape."""
    client = client_with_token(oa)
    response = getattr(client, method)(path, {} if method == "post" else None, format="json")
    assert response.status_code == 503, response.content[:200]
    assert response["Content-Type"].startswith("application/json")
    assert int(response["Retry-After"]) > 0


def test_an_oversized_multipart_field_is_413(api, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    upload = SimpleUploadedFile("ids.txt", b"U" + b"0" * 32 + b"\n", content_type="text/plain")
    response = api.post(
        "/v2/bot/audienceGroup/upload/byFile",
        {"description": "x" * 5000, "file": upload},
        format="multipart",
    )
    assert response.status_code == 413
    assert response.json() == {"message": "The request body is too large."}
