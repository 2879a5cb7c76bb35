"""OCPI tariffs module routes (under /ocpi/2.2.1/tariffs): the sender interface (a list only)."""

from django.urls import re_path

from . import views

urlpatterns = [re_path(r"^/?$", views.tariff_list, name="ocpi-tariffs")]
