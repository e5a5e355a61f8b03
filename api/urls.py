from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from . import errors, views_bot, views_quota

urlpatterns = [
    path("v2/bot/info", views_bot.BotInfoView.as_view(), name="bot-info"),
    path("v2/bot/message/quota", views_quota.QuotaView.as_view(), name="quota"),
    path("v2/bot/message/quota/consumption", views_quota.QuotaConsumptionView.as_view(),
         name="quota-consumption"),
    path("api/openapi", SpectacularAPIView.as_view(), name="openapi"),
    # Anything else under the API's prefixes answers LINE's 404 body, not an HTML page.
    re_path(r"^(v2/bot|bot)/", errors.not_found),
]
