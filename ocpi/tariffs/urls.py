"""OCPI tariffs module routes (under /ocpi/2.2.1/tariffs)."""

urlpatterns: list = []
