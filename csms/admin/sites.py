"""The admin site when staff must confirm their login with a TOTP code (CSMS_ADMIN_OTP)."""

from django_otp.admin import OTPAdminSite

from .site import ConsoleAdminSite


class OTPRequiredAdminSite(OTPAdminSite, ConsoleAdminSite):
    """django-otp's checks on the console's site, under the admin's usual name, so that every
    `admin:` URL stays as it is."""

    def __init__(self, name: str = "admin"):
        super().__init__(name)
