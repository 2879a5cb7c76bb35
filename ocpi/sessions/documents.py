"""OCPI 2.2.1 Session objects for a transaction, and the helpers every OCPI document builder shares
(DateTime, Price, numbers, the CPO's party). Pure reads: no HTTP, no writes
(docs/adr/0151-ocpi-sessions-and-cdrs.md)."""

from __future__ import annotations

from datetime import datetime, timezone as dt_timezone
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils import timezone

from tariffs.engine import money
from tariffs.models import TransactionCost
from tariffs.selectors import transaction_cost
from transactions.models import AuthorizationStatus, Transaction

from ocpi.transport import ocpi_datetime  # noqa: F401  (also re-exported)

ACTIVE, COMPLETED, INVALID = "ACTIVE", "COMPLETED", "INVALID"
AUTH_REQUEST, COMMAND, WHITELIST = "AUTH_REQUEST", "COMMAND", "WHITELIST"
AUTH_METHODS = (AUTH_REQUEST, COMMAND, WHITELIST)
# OCPI numbers carry 4 decimals unless a field says otherwise (kWh, hours).
VOLUME = Decimal("0.0001")


# --- Shared helpers -----------------------------------------------------------------------------------


def parse_datetime(value: str | datetime) -> datetime:
    """A datetime from an ISO 8601 string as our documents store them (`Z` or an offset)."""
    if isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt_timezone.utc)


def number(value: Decimal | int | float | str, *, quantum: Decimal | None = VOLUME) -> int | float:
    """A JSON number for a decimal, rounded half up to `quantum` (None: as it is). A value of at most
    a dozen significant digits survives the trip through a float exactly."""
    value = Decimal(str(value))
    if quantum is not None:
        value = value.quantize(quantum, rounding=ROUND_HALF_UP)
    if value == value.to_integral_value() and abs(value) < 2**53:
        return int(value)
    return float(value)


def kwh(wh: Decimal | int | float | str) -> int | float:
    return number(Decimal(str(wh)) / 1000)


def hours(seconds: Decimal | int | float | str) -> int | float:
    return number(Decimal(str(seconds)) / 3600)


def price(excl_vat: Decimal | str | int, incl_vat: Decimal | str | int | None = None, *, currency: str) -> dict:
    """An OCPI Price, each amount rounded to the currency's minor unit; incl_vat left out when None."""
    document = {"excl_vat": number(money(Decimal(str(excl_vat)), currency), quantum=None)}
    if incl_vat is not None:
        document["incl_vat"] = number(money(Decimal(str(incl_vat)), currency), quantum=None)
    return document


def party(*, country_code: str, party_id: str) -> dict:
    """The CPO that owns a document: ISO 3166 alpha-2 country and a 3-character party id."""
    if not (isinstance(country_code, str) and len(country_code) == 2 and country_code.isalpha()):
        raise ValueError(f"country_code must be 2 letters, not {country_code!r}")
    if not (isinstance(party_id, str) and len(party_id) == 3 and party_id.isalnum()):
        raise ValueError(f"party_id must be 3 letters or digits, not {party_id!r}")
    return {"country_code": country_code.upper(), "party_id": party_id.upper()}


def cistring(value, *, field: str, max_length: int) -> str:
    """A CiString of at most `max_length` printable ASCII characters."""
    text = str(value)
    if not text or len(text) > max_length or not text.isascii() or not text.isprintable():
        raise ValueError(f"{field} must be 1 to {max_length} printable ASCII characters, not {text!r}")
    return text


def default_currency() -> str:
    return getattr(settings, "CSMS_OCPI_DEFAULT_CURRENCY", "EUR")


def pinned_tariff_id(transaction: Transaction) -> str | None:
    """The OCPI Tariff.id of the tariff version that prices the transaction (kept when the tariff
    itself has been deleted since)."""
    try:
        record = transaction.cost_record
    except TransactionCost.DoesNotExist:
        return None
    if record.tariff_version is not None and record.tariff_version.document.get("id"):
        return str(record.tariff_version.document["id"])
    return str(record.tariff_id) if record.tariff_id is not None else None


def meter_id(transaction: Transaction) -> str | None:
    serial = transaction.station.meter_serial_number
    return serial or None


def auth_method_for(transaction: Transaction, *, remote_start: bool | None = None, realtime: bool = False) -> str:
    """How the session was authorized, as OCPI says it: COMMAND when a remote start began it
    (None: read from the transaction's link to a RemoteStartTransaction), AUTH_REQUEST when the
    eMSP was asked in real time, else WHITELIST."""
    if remote_start is None:
        remote_start = transaction.remote_start_call_id is not None
    if remote_start:
        return COMMAND
    return AUTH_REQUEST if realtime else WHITELIST


def session_status(transaction: Transaction) -> str:
    if transaction.id_tag_status != AuthorizationStatus.ACCEPTED:
        return INVALID
    return ACTIVE if transaction.stopped_at is None else COMPLETED


# --- Session --------------------------------------------------------------------------------------------


def session_document(transaction: Transaction, *, country_code: str, party_id: str, cdr_token: dict,
                     auth_method: str, location_id: str, evse_uid: str, connector_id: str,
                     authorization_reference: str | None = None, now: datetime | None = None) -> dict:
    """The transaction as an OCPI Session: final figures once stopped, a running estimate (as of
    `now`) while it runs. Reads `transaction.cost_record` and the station (select_related them)."""
    from ocpi.cdrs.documents import charging_periods  # the CDR module builds on this one

    if auth_method not in AUTH_METHODS:
        raise ValueError(f"auth_method must be one of {', '.join(AUTH_METHODS)}, not {auth_method!r}")
    now = now or timezone.now()
    cost = transaction_cost(transaction, now=now)
    currency = cost.currency or default_currency()
    document = {
        **party(country_code=country_code, party_id=party_id),
        "id": cistring(transaction.pk, field="id", max_length=36),
        "start_date_time": ocpi_datetime(transaction.started_at),
    }
    if transaction.stopped_at is not None:
        document["end_date_time"] = ocpi_datetime(max(transaction.stopped_at, transaction.started_at))
    document["kwh"] = kwh(transaction.energy_wh)
    document["cdr_token"] = dict(cdr_token)
    document["auth_method"] = auth_method
    if authorization_reference is not None:
        document["authorization_reference"] = cistring(authorization_reference, field="authorization_reference",
                                                       max_length=36)
    document["location_id"] = cistring(location_id, field="location_id", max_length=36)
    document["evse_uid"] = cistring(evse_uid, field="evse_uid", max_length=36)
    document["connector_id"] = cistring(connector_id, field="connector_id", max_length=36)
    meter = meter_id(transaction)
    if meter:
        document["meter_id"] = meter
    document["currency"] = currency
    periods = charging_periods(cost.breakdown, tariff_id=pinned_tariff_id(transaction))
    if periods:
        document["charging_periods"] = periods
    if cost.cost_excl_vat is not None:
        document["total_cost"] = price(cost.cost_excl_vat, cost.cost_incl_vat, currency=currency)
    document["status"] = session_status(transaction)
    document["last_updated"] = ocpi_datetime(session_last_updated(transaction, now=now))
    return document


def session_last_updated(transaction: Transaction, *, now: datetime) -> datetime:
    """A running session's document is its state as of `now` (its cost estimate moves with time);
    a stopped one changed last when it was stopped or priced."""
    if transaction.stopped_at is None:
        return now
    moments = [transaction.updated_at, transaction.stopped_at]
    try:
        if transaction.cost_record.priced_at is not None:
            moments.append(transaction.cost_record.priced_at)
    except TransactionCost.DoesNotExist:
        pass
    return max(moment for moment in moments if moment is not None)
