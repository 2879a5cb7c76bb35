"""Django's admin app, with the console's AdminSite as `admin.site` (every `@admin.register` lands
there): the grouped navigation and the dashboard as the front page; with CSMS_ADMIN_OTP, the same
site asking staff for a TOTP code."""

from django.conf import settings
from django.contrib.admin.apps import AdminConfig


class ConsoleAdminConfig(AdminConfig):
    @property
    def default_site(self) -> str:
        return "csms.admin.sites.OTPRequiredAdminSite" if settings.CSMS_ADMIN_OTP else "csms.admin.site.ConsoleAdminSite"
