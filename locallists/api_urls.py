"""This app's routes under /api/v1/ (included by csms/urls.py)."""

from django.urls import re_path

from . import api

STATION = r"^stations/(?P<station_id>[^/]+)/local-list/"

urlpatterns = [
    re_path(STATION + r"$", api.StationLocalListView.as_view(), name="station-local-list"),
    re_path(STATION + r"sync/$", api.StationLocalListSyncView.as_view(), name="station-local-list-sync"),
    re_path(STATION + r"reconcile/$", api.StationLocalListReconcileView.as_view(), name="station-local-list-reconcile"),
]
