"""OCPI tariffs module routes (under /ocpi/2.2.1/tariffs): the sender interface (a list only)."""

from django.urls import re_path

from . import views

# "[/]": included without a trailing slash; a bare "^/" would trip Django's urls.W002.
urlpatterns = [re_path(r"^[/]?$", views.tariff_list, name="ocpi-tariffs")]
