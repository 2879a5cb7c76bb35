"""OCPI commands module routes (under /ocpi/2.2.1/commands)."""

urlpatterns: list = []
