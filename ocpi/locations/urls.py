"""OCPI locations module routes (under /ocpi/2.2.1/locations)."""

urlpatterns: list = []
