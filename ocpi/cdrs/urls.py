"""OCPI cdrs module routes (under /ocpi/2.2.1/cdrs)."""

from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^[/]?$", views.cdrs_list, name="ocpi-cdrs"),
]
