"""The commands module's reaction to the OCPP runtime: a finished Call that serves an OCPI command
queues its CommandResult (inside the completing transaction; the POST goes out after the commit)."""

from csms.ocpp.hooks import CallFinished, call_finished

from .services import ACTIONS, command_call_finished

_COMMAND_ACTIONS = frozenset(ACTIONS.values())


# Only Calls of the five actions a command can become cost a query (one, on the indexed call id).
@call_finished.connect(when=lambda event: event.action in _COMMAND_ACTIONS)
def on_call_finished(event: CallFinished) -> None:
    command_call_finished(call_id=event.call_id, action=event.action, status=event.status,
                          response=event.response, error_code=event.error_code)
