"""OCPI sessions (sender): filled in by the sessions module."""


def sessions_publish_updates(*, now=None) -> int:
    """Push the running sessions whose last push is a minute old and that changed since."""
    return 0
