"""OCPI cdrs module routes (under /ocpi/2.2.1/cdrs)."""

urlpatterns: list = []
