"""OCPI sessions module routes (under /ocpi/2.2.1/sessions)."""

urlpatterns: list = []
