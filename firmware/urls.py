"""Non-API routes of the firmware app (file downloads, diagnostics uploads), included at the root."""

urlpatterns: list = []
