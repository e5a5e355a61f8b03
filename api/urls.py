from django.urls import path, re_path
from drf_spectacular.views import SpectacularAPIView

from audiences import intake

from . import errors, views_bot, views_messages, views_quota
from . import views_audiences as aud

urlpatterns = [
    # The two busiest first: Django tries the patterns in order on every request.
    path("bot/pnp/push", views_messages.PnpPushView.as_view(), name="pnp-push"),
    path("v2/bot/audienceGroup/list", aud.AudienceListView.as_view(), name="audience-list"),
    path("v2/bot/info", views_bot.BotInfoView.as_view(), name="bot-info"),
    path("v2/bot/message/quota", views_quota.QuotaView.as_view(), name="quota"),
    path(
        "v2/bot/message/quota/consumption",
        views_quota.QuotaConsumptionView.as_view(),
        name="quota-consumption",
    ),
    path("v2/bot/audienceGroup/upload", aud.UploadView.as_view(), name="audience-upload"),
    path(
        "v2/bot/audienceGroup/upload/byFile",
        aud.UploadByFileView.as_view(),
        name="audience-upload-file",
    ),
    path(
        "v2/bot/audienceGroup/shared/list",
        aud.SharedAudienceListView.as_view(),
        name="audience-shared-list",
    ),
    path(
        "v2/bot/audienceGroup/shared/<int:audience_id>",
        aud.SharedAudienceView.as_view(),
        name="audience-shared",
    ),
    path("v2/bot/audienceGroup/<int:audience_id>", aud.AudienceView.as_view(), name="audience"),
    path(
        "v2/bot/audienceGroup/<int:audience_id>/updateDescription",
        aud.UpdateDescriptionView.as_view(),
        name="audience-rename",
    ),
    path(
        "v2/bot/audienceGroup/click",
        aud.TrackingAudienceView.as_view(kind="click"),
        name="audience-click",
    ),
    path(
        "v2/bot/audienceGroup/imp",
        aud.TrackingAudienceView.as_view(kind="imp"),
        name="audience-imp",
    ),
    path(
        "v2/bot/message/delivery/pnp",
        views_messages.PnpStatisticsView.as_view(),
        name="pnp-statistics",
    ),
    path("v2/bot/message/narrowcast", views_messages.NarrowcastView.as_view(), name="narrowcast"),
    path("tag/v1/events", intake.events_view, name="tag-events"),
    path("tag/v1/conversions", intake.conversions_view, name="tag-conversions"),
    path("api/openapi", SpectacularAPIView.as_view(), name="openapi"),
    # Anything else under the API's prefixes answers LINE's 404 body, not an HTML page.
    re_path(r"^(v2/bot|bot)/", errors.not_found),
]
