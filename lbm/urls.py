from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from . import health, metrics, views

lbm_patterns = (
    [
        path("verify-contact/<str:token>/", views.verify_contact, name="verify-contact"),
        path("invitation/<str:token>/", views.invitation, name="invitation"),
        path(
            "invitation/<str:token>/register/",
            views.invitation_register,
            name="invitation-register",
        ),
    ],
    "lbm",
)

ops_patterns = (
    [
        path("live", health.live, name="live"),
        path("ready", health.ready, name="ready"),
        path("metrics", metrics.metrics_view, name="metrics"),
    ],
    "ops",
)

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("", include("api.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("lbm/", include(lbm_patterns)),
    path("-/", include(ops_patterns)),  # health and metrics (docs/operations.md)
]

# The admin-styled error pages (lbm.error_views, docs/language.md#error-pages); an API path
# answers LINE's JSON even for an exception no middleware caught (docs/api.md#errors).
handler403 = "lbm.error_views.permission_denied"
handler404 = "lbm.error_views.page_not_found"
handler500 = "lbm.error_views.server_error"
