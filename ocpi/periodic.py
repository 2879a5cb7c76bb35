"""What OCPI does on a clock: the running sessions' updates (at most one a minute each) and the
commands whose station never answered. Run by each node's pump without a broker, by Celery beat
with one."""

from .commands.services import commands_expire
from .sessions.services import sessions_publish_updates


def run() -> None:
    sessions_publish_updates()
    commands_expire()
