"""Django's admin, with the site class the settings ask for."""

from django.conf import settings
from django.contrib.admin.apps import AdminConfig


class CsmsAdminConfig(AdminConfig):
    @property
    def default_site(self) -> str:
        # django-otp's site accepts only staff who confirmed their login with a TOTP code.
        return "csms.admin.sites.OTPRequiredAdminSite" if settings.CSMS_ADMIN_OTP else "django.contrib.admin.sites.AdminSite"
