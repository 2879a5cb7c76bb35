"""OCPI sessions module routes (under /ocpi/2.2.1/sessions)."""

from django.urls import re_path

from . import views

# "[/]": the include() has no trailing slash, and Django warns (urls.W002) of a pattern starting "^/".
urlpatterns = [
    re_path(r"^[/]?$", views.sessions_list, name="ocpi-sessions"),
    re_path(r"^[/](?P<session_id>[^/]+)/charging_preferences/?$", views.charging_preferences,
            name="ocpi-session-charging-preferences"),
]
