from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from . import views

lbm_patterns = ([
    path("verify-contact/<str:token>/", views.verify_contact, name="verify-contact"),
], "lbm")

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("", include("api.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("lbm/", include(lbm_patterns)),
]
