"""OCPI tokens module routes (under /ocpi/2.2.1/tokens)."""

urlpatterns: list = []
