from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps
from django.utils.translation import gettext_lazy as _


class LbmConfig(AppConfig):
    default = True
    name = "lbm"
    verbose_name = _("Business Manager")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # Every app's post_migrate, so that permissions of apps migrated after lbm are included.
        post_migrate.connect(_ensure_staff_groups, dispatch_uid="lbm.ensure_staff_groups")
        _watch_generations()
        from .formatting import install_admin_formatting

        install_admin_formatting()  # NT$1,200 and 6,000 in every admin list and page


def _watch_generations() -> None:
    """Rows whose change must reach the API workers' per-account memory (lbm.generations)."""
    from . import generations
    from .models import Account, Channel, ChannelAccessToken, Provider

    generations.watch(Account, lambda account: account.pk)
    generations.watch(Provider, lambda provider: None)  # certification: many accounts
    generations.watch(Channel, lambda channel: channel.account_id)
    generations.watch(
        ChannelAccessToken,
        lambda token: (
            Channel.objects.filter(pk=token.channel_id).values_list("account_id", flat=True).first()
        ),
    )


def _ensure_staff_groups(sender, **kwargs) -> None:
    """Keep the LINE reviewer and account manager groups' permissions current after migrate."""
    from .staff_groups import ensure_staff_groups

    ensure_staff_groups()


class LBMAdminConfig(admin_apps.AdminConfig):
    """Makes ``admin.site`` the LBM site, so third-party admins register on it too."""

    default = False
    default_site = "lbm.admin_site.LBMAdminSite"
