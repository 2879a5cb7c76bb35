"""This app's routes under /api/v1/ (included by csms/urls.py)."""

urlpatterns: list = []
