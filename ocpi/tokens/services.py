"""OCPI tokens (receiver): filled in by the tokens module."""


def token_store(*, partner, document: dict):
    """Store (create or replace) a token the partner pushed or named, and its idTag mirror; returns
    the OcpiToken. Raises OcpiError 2001 when the document is not a valid Token."""
    raise NotImplementedError
