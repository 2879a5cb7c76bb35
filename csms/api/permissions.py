"""The API side of the one rule for sending Calls (csms.ocpp.permissions).

A view whose unsafe requests send Calls lists `SendsCalls` in its `permission_classes`; a viewset
names the actions that send in `call_actions`. Which station is the view's business: it finds it
through the partner scoping (another partner's station is 404, as if it did not exist), so what is
left to ask here is the permission itself.
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated

from csms.ocpp.permissions import SEND_CALLS_REFUSED, may_send_calls


class SendsCalls(BasePermission):
    message = SEND_CALLS_REFUSED

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        actions = getattr(view, "call_actions", None)
        if actions is not None and getattr(view, "action", None) not in actions:
            return True
        return may_send_calls(request.user)


# What a view that sends Calls declares.
SENDING_VIEW_PERMISSIONS = [IsAuthenticated, SendsCalls]
