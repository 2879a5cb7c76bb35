"""Non-API routes of the firmware app, included at the site root: what stations download and upload."""

from django.urls import re_path

from . import views

TOKEN = r"(?P<token>[A-Za-z0-9_-]{16,64})"

urlpatterns = [
    re_path(rf"^firmware/download/{TOKEN}/(?P<filename>[^/]*)$", views.firmware_download, name="firmware-download"),
    # The location sent is a directory: stations PUT/POST to it, or to a file name beneath it.
    re_path(rf"^diagnostics/upload/{TOKEN}(?:/(?P<filename>.*))?$", views.diagnostics_upload, name="diagnostics-upload"),
]
