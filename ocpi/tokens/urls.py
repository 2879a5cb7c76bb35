"""OCPI tokens module routes (under /ocpi/2.2.1/tokens): the receiver interface."""

from django.urls import re_path

from . import views

urlpatterns = [
    re_path(r"^[/](?P<country_code>[^/]+)/(?P<party_id>[^/]+)/(?P<token_uid>[^/]+)/?$", views.token,
            name="ocpi-token"),
]
