"""This app's routes under /api/v1/ (included by csms/urls.py)."""

from django.urls import re_path

from . import api

STATION = r"^stations/(?P<station_id>[^/]+)/"
REQUEST = STATION + r"certificate-requests/(?P<pk>[0-9]+)/"

urlpatterns: list = [
    re_path(STATION + r"certificates/$", api.StationCertificatesView.as_view(), name="station-certificates"),
    re_path(STATION + r"certificates/install/$", api.StationCertificateInstallView.as_view(),
            name="station-certificates-install"),
    re_path(STATION + r"certificates/delete/$", api.StationCertificateDeleteView.as_view(),
            name="station-certificates-delete"),
    re_path(STATION + r"certificates/refresh/$", api.StationCertificateRefreshView.as_view(),
            name="station-certificates-refresh"),
    re_path(STATION + r"certificate-requests/$", api.StationCertificateRequestsView.as_view(),
            name="station-certificate-requests"),
    re_path(STATION + r"certificate-requests/trigger/$", api.StationCertificateTriggerView.as_view(),
            name="station-certificate-requests-trigger"),
    re_path(REQUEST + r"$", api.StationCertificateRequestView.as_view(), name="station-certificate-request"),
    re_path(REQUEST + r"sign/$", api.CertificateRequestSignView.as_view(), name="station-certificate-request-sign"),
    re_path(REQUEST + r"upload/$", api.CertificateRequestUploadView.as_view(),
            name="station-certificate-request-upload"),
    re_path(REQUEST + r"deliver/$", api.CertificateRequestDeliverView.as_view(),
            name="station-certificate-request-deliver"),
    re_path(REQUEST + r"cancel/$", api.CertificateRequestCancelView.as_view(),
            name="station-certificate-request-cancel"),
]
