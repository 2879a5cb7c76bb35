"""OCPI commands (receiver): filled in by the commands module."""


def commands_expire() -> int:
    """Commands whose station did not answer in time get their TIMEOUT result queued."""
    return 0
