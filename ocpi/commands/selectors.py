"""Reads of the commands module (also for the sessions module: which command started a transaction)."""

from __future__ import annotations

from transactions.id_tags import id_tag_find
from transactions.models import Transaction

from ..models import OcpiCommand, OcpiPartner, OcpiSession


def session_of_partner(*, partner: OcpiPartner, session_id: str) -> Transaction | None:
    """The transaction that is this partner's session `session_id` (our Session ids are transaction
    ids): its OcpiSession names the partner, or else its idTag belongs to the partner."""
    if not session_id.isdigit():
        return None
    tx = Transaction.objects.filter(pk=int(session_id)).first()
    if tx is None:
        return None
    owner = OcpiSession.objects.filter(transaction=tx).values_list("partner_id", flat=True).first()
    if owner is not None:
        return tx if owner == partner.pk else None
    tag = id_tag_find(tx.id_tag)
    return tx if tag is not None and tag.partner_id == partner.partner_id else None


def start_command_of(transaction_obj: Transaction) -> OcpiCommand | None:
    """The START_SESSION that led to this transaction (through the RemoteStartTransaction the start
    answered), if any: its request holds the token and the authorization_reference of the Session,
    whose auth_method is then COMMAND."""
    if transaction_obj.remote_start_call_id is None:
        return None
    return (OcpiCommand.objects.select_related("partner")
            .filter(call_id=transaction_obj.remote_start_call_id, command="START_SESSION").first())
