"""OCPI locations module routes (under /ocpi/2.2.1/locations): the sender interface."""

from django.urls import re_path

from . import views

# "[/]": the module is included without a trailing slash; a bare "^/" would trip Django's urls.W002.
urlpatterns = [
    re_path(r"^[/]?$", views.location_list, name="ocpi-locations"),
    re_path(r"^[/](?P<location_id>[^/]+)/?$", views.location_detail, name="ocpi-location"),
    re_path(r"^[/](?P<location_id>[^/]+)/(?P<evse_uid>[^/]+)/?$", views.evse_detail, name="ocpi-evse"),
    re_path(r"^[/](?P<location_id>[^/]+)/(?P<evse_uid>[^/]+)/(?P<connector_id>[^/]+)/?$", views.connector_detail,
            name="ocpi-connector"),
]
