"""OCPP handlers and result handlers of this app (imported by AppConfig.ready)."""
