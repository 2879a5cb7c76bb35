"""OCPP handlers of smart charging (registered in AppConfig.ready)."""
