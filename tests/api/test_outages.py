"""Every API failure answers LINE's JSON, never Django's HTML page (docs/reliability.md)."""

import pytest
from django.core.cache import caches

from lbm import generations

pytestmark = pytest.mark.django_db


@pytest.fixture
def redis_unreachable(settings):
    """Cache, stamps and rate limits on a Redis address that refuses connections."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": "redis://127.0.0.1:9/0"}}
    caches._settings = caches.settings = settings.CACHES
    generations.forget_all()
    yield
    del caches.settings
    generations.forget_all()


def test_redis_unreachable_answers_a_line_shaped_503_with_retry_after(api, redis_unreachable):
    response = api.get("/v2/bot/message/quota")
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"message": "The service is temporarily unavailable. "
                                          "Try again later."}
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
