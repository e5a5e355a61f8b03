from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class LbmConfig(AppConfig):
    default = True
    name = "lbm"
    verbose_name = _("Business Manager")
    default_auto_field = "django.db.models.BigAutoField"


class LBMAdminConfig(admin_apps.AdminConfig):
    """Makes ``admin.site`` the LBM site, so third-party admins register on it too."""

    default = False
    default_site = "lbm.admin_site.LBMAdminSite"
