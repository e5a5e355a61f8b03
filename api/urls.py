from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from . import errors, views_bot

urlpatterns = [
    path("v2/bot/info", views_bot.BotInfoView.as_view(), name="bot-info"),
    path("api/openapi", SpectacularAPIView.as_view(), name="openapi"),
    # Anything else under the API's prefixes answers LINE's 404 body, not an HTML page.
    re_path(r"^(v2/bot|bot)/", errors.not_found),
]
