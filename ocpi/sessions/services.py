"""OCPI Sessions and CDRs as the CPO sends them: a transaction started with a partner's token becomes
its Session (PUT), a running one is updated at most once a minute when it changed (PATCH), a stopped
one gets its final PUT and, once priced, its CDR (POST, never changed)
(docs/adr/0165-ocpi-session-and-cdr-delivery.md)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import transaction as db_transaction
from django.db.models import Q
from django.utils import timezone

from alerts.services import alert_raise
from transactions.models import AuthorizationStatus, Transaction

from ocpi.audience import forget, listeners
from ocpi.cdrs.documents import cdr_document
from ocpi.locations.documents import evse_uid, location_document, location_id
from ocpi.models import HandshakeState, OcpiCdr, OcpiCommand, OcpiSession, OcpiToken
from ocpi.pushes import push_enqueue
from ocpi.sessions.documents import AUTH_REQUEST, COMMAND, WHITELIST, parse_datetime, session_document
from ocpi.tariffs.documents import tariff_ocpi_document

logger = logging.getLogger(__name__)

UPDATE_EVERY = timedelta(seconds=60)
# The CdrToken fields, as a Token (ours or a START_SESSION's) names them.
CDR_TOKEN_FIELDS = ("country_code", "party_id", "uid", "type", "contract_id")


def partners_registered() -> bool:
    """Whether any OCPI party is registered: with none, a StartTransaction costs OCPI no query (the
    registered partners are cached in process, ocpi.audience)."""
    return bool(listeners())


def partners_registered_forget() -> None:
    forget()


def _ours() -> dict:
    return {"country_code": settings.CSMS_OCPI_COUNTRY_CODE, "party_id": settings.CSMS_OCPI_PARTY_ID}


def session_path(transaction_id: int) -> str:
    """The Session's place under the partner's sessions endpoint: /{our country}/{our party}/{id}."""
    ours = _ours()
    return f"/{ours['country_code']}/{ours['party_id']}/{transaction_id}"


def _with_cost(transaction_id: int) -> Transaction:
    return (Transaction.objects.select_related("station", "cost_record__tariff_version")
            .get(pk=transaction_id))


def session_build(session: OcpiSession, transaction: Transaction, *, now: datetime | None = None) -> dict:
    """The OCPI Session of an OcpiSession (its transaction with station and cost record loaded)."""
    station = transaction.station
    return session_document(transaction, **_ours(), cdr_token=session.cdr_token, auth_method=session.auth_method,
                            location_id=location_id(station), evse_uid=evse_uid(station, transaction.connector_id),
                            connector_id=str(transaction.connector_id),
                            authorization_reference=session.authorization_reference or None, now=now)


def _running_push(document: dict) -> dict:
    """What a running session's pushes carry: everything but its charging periods. A PATCH appends the
    periods it carries, and ours are derived afresh from the cost lines each time (the last one keeps
    growing), so the complete list goes with the final PUT, which replaces the eMSP's."""
    return {name: value for name, value in document.items() if name != "charging_periods"}


def _figures(document: dict) -> tuple[Decimal, Decimal | None]:
    cost = (document.get("total_cost") or {}).get("incl_vat", (document.get("total_cost") or {}).get("excl_vat"))
    return Decimal(str(document["kwh"])), (None if cost is None else Decimal(str(cost)))


def _mark_pushed(session: OcpiSession, document: dict, now: datetime) -> None:
    session.last_pushed_at = now
    session.last_pushed_kwh, session.last_pushed_cost = _figures(document)
    session.last_updated = parse_datetime(document["last_updated"])
    session.save(update_fields=["last_pushed_at", "last_pushed_kwh", "last_pushed_cost", "last_updated"])


# --- Opening ------------------------------------------------------------------------------------------


def _token_of(transaction: Transaction) -> OcpiToken | None:
    """The partner's token the idTag mirrors (one indexed query: the idTag's case-insensitive unique
    index, then the OneToOne)."""
    found = list(OcpiToken.objects.select_related("partner")
                 .filter(id_tag__id_tag__iexact=transaction.id_tag, partner__state=HandshakeState.REGISTERED)
                 .order_by()[:1])
    return found[0] if found else None


def _command_of(transaction: Transaction) -> OcpiCommand | None:
    if transaction.remote_start_call_id is None:
        return None
    return (OcpiCommand.objects.select_related("partner")
            .filter(call_id=transaction.remote_start_call_id, command="START_SESSION").first())


def _realtime_reference(token: OcpiToken, now: datetime) -> tuple[bool, str | None]:
    """Whether the partner authorized this token in real time lately (within the cache time of such an
    answer), and the reference it gave."""
    checked = token.realtime_checked_at
    recent = (checked is not None and token.realtime_allowed == "ALLOWED"
              and now - checked <= timedelta(seconds=settings.CSMS_OCPI_AUTH_CACHE_SECONDS))
    return recent, (token.authorization_reference or None) if recent else None


def session_open(*, transaction: Transaction, now: datetime | None = None) -> OcpiSession | None:
    """A transaction started with a registered partner's token (or by its START_SESSION) becomes its
    Session: stored, and PUT to the partner. None when no partner's token is involved."""
    now = now or timezone.now()
    command = _command_of(transaction)
    token = _token_of(transaction)
    if token is None and command is None:
        return None
    partner = command.partner if command is not None else token.partner
    if token is not None and token.partner_id == partner.pk:
        cdr_token = {name: getattr(token, name) for name in CDR_TOKEN_FIELDS}
    else:  # a START_SESSION with a token this partner never pushed
        named = (command.request or {}).get("token") or {}
        cdr_token = {name: named.get(name) for name in CDR_TOKEN_FIELDS}
    session = OcpiSession.objects.filter(transaction=transaction).first()  # the commands module may have noted it
    if session is not None and session.auth_method:
        auth_method, reference = session.auth_method, session.authorization_reference or None
    elif command is not None:
        auth_method, reference = COMMAND, (command.request or {}).get("authorization_reference")
    else:
        realtime, reference = _realtime_reference(token, now)
        auth_method = AUTH_REQUEST if realtime else WHITELIST
    if session is None:
        session = OcpiSession(transaction=transaction)
    session.partner, session.token = partner, (token if token is not None and token.partner_id == partner.pk else None)
    session.cdr_token, session.auth_method = cdr_token, auth_method
    session.authorization_reference = reference or ""
    session.save()
    loaded = _with_cost(transaction.pk)
    document = _running_push(session_build(session, loaded, now=now))
    push_enqueue(partner=partner, module="sessions", object_key=str(transaction.pk), method="PUT",
                 path=session_path(transaction.pk), body=document)
    _mark_pushed(session, document, now)
    return session


# --- Running --------------------------------------------------------------------------------------------


def sessions_publish_updates(*, now: datetime | None = None) -> int:
    """PATCH each running session whose last push is at least a minute old and whose kWh or cost moved
    since (kwh, total_cost, last_updated). Returns how many were queued."""
    now = now or timezone.now()
    due = (OcpiSession.objects.filter(transaction__stopped_at__isnull=True, partner__state=HandshakeState.REGISTERED)
           .filter(Q(last_pushed_at__isnull=True) | Q(last_pushed_at__lte=now - UPDATE_EVERY))
           .select_related("partner", "transaction__station", "transaction__cost_record__tariff_version"))
    queued = 0
    for session in due:
        document = session_build(session, session.transaction, now=now)
        if _figures(document) == (session.last_pushed_kwh, session.last_pushed_cost):
            continue
        with db_transaction.atomic():
            # The transaction's row lock orders this against its StopTransaction: stopped first, no
            # PATCH; else the final PUT comes after this one (and supersedes it if still unsent).
            running = (Transaction.objects.select_for_update().filter(pk=session.transaction_id,
                                                                      stopped_at__isnull=True).exists())
            claimed = running and OcpiSession.objects.filter(
                pk=session.pk, last_pushed_at=session.last_pushed_at).update(last_pushed_at=now)
            if not claimed:  # stopped meanwhile, or another node pushed it
                continue
            patch = {"kwh": document["kwh"], "last_updated": document["last_updated"]}
            if "total_cost" in document:
                patch["total_cost"] = document["total_cost"]
            push_enqueue(partner=session.partner, module="sessions", object_key=str(session.transaction_id),
                         method="PATCH", path=session_path(session.transaction_id), body=patch)
            _mark_pushed(session, document, now)
        queued += 1
    return queued


# --- Closing ----------------------------------------------------------------------------------------------


def session_close(*, transaction: Transaction, now: datetime | None = None) -> OcpiSession | None:
    """A partner's session stopped (and was priced just before, in the same commit): its final
    Session is PUT (COMPLETED, or INVALID, with every charging period) and its CDR issued."""
    session = OcpiSession.objects.select_related("partner").filter(transaction_id=transaction.pk).first()
    if session is None:
        return None
    now = now or timezone.now()
    loaded = _with_cost(transaction.pk)
    document = session_build(session, loaded, now=now)
    push_enqueue(partner=session.partner, module="sessions", object_key=str(loaded.pk), method="PUT",
                 path=session_path(loaded.pk), body=document)
    _mark_pushed(session, document, now)
    cdr_issue(session=session, transaction=loaded)
    return session


def cdr_build(session: OcpiSession, transaction: Transaction) -> dict:
    """The CDR of a stopped, priced transaction: its station's Location and the OCPI Tariff of the
    version that priced it. ValueError when it cannot be one (not priced, station not describable)."""
    station = transaction.station
    location = location_document(station, list(station.connectors.all()), **_ours())
    version = transaction.cost_record.tariff_version if hasattr(transaction, "cost_record") else None
    tariffs = [tariff_ocpi_document(version.document, **_ours())] if version is not None else []
    return cdr_document(transaction, **_ours(), cdr_token=session.cdr_token, auth_method=session.auth_method,
                        location=location, evse_uid=evse_uid(station, transaction.connector_id),
                        connector_id=str(transaction.connector_id),
                        authorization_reference=session.authorization_reference or None, tariffs=tariffs)


def cdr_issue(*, session: OcpiSession, transaction: Transaction) -> OcpiCdr | None:
    """Issue the session's CDR once: stored as sent and POSTed to the partner. Never for a session
    the station was told was not accepted (INVALID: not billed); never changed once issued. One that
    cannot be made (no price, station lacking its address) is an alert, not a CDR with made-up
    figures."""
    if transaction.id_tag_status != AuthorizationStatus.ACCEPTED:
        return None
    existing = OcpiCdr.objects.filter(transaction=transaction).first()
    if existing is not None:
        return existing
    try:
        document = cdr_build(session, transaction)
    except ValueError as exc:
        logger.warning("OCPI: no CDR for transaction %s of partner %s: %s", transaction.pk, session.partner_id, exc)
        alert_raise(kind="ocpi_cdr", key=f"ocpi_cdr:{transaction.pk}", station_id=transaction.station_id,
                    message=f"No OCPI CDR for transaction {transaction.pk} (partner {session.partner}): {exc}")
        return None
    cdr = OcpiCdr.objects.create(id=document["id"], partner=session.partner, transaction=transaction,
                                 document=document, last_updated=parse_datetime(document["last_updated"]))
    push_enqueue(partner=session.partner, module="cdrs", object_key=cdr.id, method="POST", path="", body=document)
    return cdr

