"""OCPP result handlers and signal receivers of this app (imported by AppConfig.ready)."""
