"""Every OCPI route: /ocpi/versions, /ocpi/2.2.1 and one prefix per module."""

import re

from django.urls import include, path, re_path

from . import views
from .transport import VERSION

MODULES = ["locations", "sessions", "cdrs", "tariffs", "tokens", "commands"]

urlpatterns = [
    # With or without a trailing slash: partners' platforms write both.
    re_path(r"^versions/?$", views.versions, name="ocpi-versions"),
    re_path(rf"^{re.escape(VERSION)}/?$", views.version_details, name="ocpi-version-details"),
    re_path(rf"^{re.escape(VERSION)}/credentials/?$", views.credentials_endpoint, name="ocpi-credentials"),
    # A module's own patterns go on from its name ("/{id}"), written `^[/]...` since Django's check
    # takes a pattern beginning with "^/" for a mistake (urls.W002).
    *(path(f"{VERSION}/{module}", include(f"ocpi.{module}.urls")) for module in MODULES),
    # Anything else under /ocpi/ is answered in the envelope too (404, after the token check).
    re_path(r"^(?P<rest>.*)$", views.not_found),
]
