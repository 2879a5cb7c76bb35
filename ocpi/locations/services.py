"""OCPI locations (sender): filled in by the locations module."""


def locations_push_all(*, partner) -> int:
    """Queue a PUT of every Location the partner sees; returns how many."""
    return 0
