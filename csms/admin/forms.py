"""Parameters of the Calls an operator sends: each form turns what was typed into the OCPP payload.

These forms check what an operator can get wrong in a form (a connector number, an empty key); the
OCPP schema itself is checked by `csms.ocpp.calls.call_enqueue`, the one place every Call passes
through.
"""

from __future__ import annotations

from django import forms


class CallForm(forms.Form):
    """A Call's parameters; `payload()` is the OCPP request payload once the form is valid.

    `targets` are the selected objects (stations, transactions...), so that a form can offer and
    check what they have (a station's connectors) before anything is sent.
    """

    def __init__(self, *args, targets=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.targets = targets

    def payload(self) -> dict:
        return {}


class ConfirmForm(CallForm):
    """A Call without parameters: the page only asks for confirmation."""


def connector_field(*, minimum: int, required: bool = True, help_text: str = "") -> forms.IntegerField:
    return forms.IntegerField(label="Connector", min_value=minimum, required=required, help_text=help_text)


def without_empty(payload: dict) -> dict:
    return {key: value for key, value in payload.items() if value not in (None, "")}
