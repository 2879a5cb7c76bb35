"""OCPI commands module routes (under /ocpi/2.2.1/commands)."""

from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^[/](?P<command>[^/]+)/?$", views.command, name="ocpi-command"),
]
