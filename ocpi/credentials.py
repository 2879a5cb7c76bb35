"""The credentials handshake, both ways (credentials.asciidoc), and the versions we offer.

A partner registers with us: an operator issues token A (shown once), the partner POSTs its
credentials (its token B, its versions URL) with it; we read its versions and endpoints with B and
answer with ours and a new token C, which it uses from then on. We register with a partner: the
operator enters its versions URL and the token A it gave us; we read its versions with A, POST our
credentials with a new token B, and keep the token C it answers with.

Only digests of the tokens we issue are kept; the tokens a partner gave us are kept as given (we
present them on every request).
"""

from __future__ import annotations

import logging
import secrets

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .client import OcpiClientError, ocpi_get_data, ocpi_request
from .models import HandshakeState, OcpiPartner, token_digest
from .republish import partner_republish
from .transport import (
    INVALID_PARAMETERS,
    NO_MATCHING_ENDPOINTS,
    UNABLE_TO_USE_CLIENT_API,
    UNSUPPORTED_VERSION,
    VERSION,
    OcpiError,
)

logger = logging.getLogger(__name__)

# The modules we offer in 2.2.1 and our role in each (CPO: we send locations, sessions, CDRs and
# tariffs; we receive tokens and commands).
OUR_MODULES = (
    ("credentials", "SENDER"),
    ("credentials", "RECEIVER"),
    ("locations", "SENDER"),
    ("sessions", "SENDER"),
    ("cdrs", "SENDER"),
    ("tariffs", "SENDER"),
    ("tokens", "RECEIVER"),
    ("commands", "RECEIVER"),
)
ROLES = {"CPO", "EMSP", "HUB", "NAP", "NSP", "OTHER", "SCSP"}


def new_token() -> str:
    return secrets.token_urlsafe(32)


def versions_document(base_url: str) -> list[dict]:
    return [{"version": VERSION, "url": f"{base_url}/ocpi/{VERSION}"}]


def version_details_document(base_url: str) -> dict:
    return {"version": VERSION, "endpoints": [
        {"identifier": identifier, "role": role, "url": f"{base_url}/ocpi/{VERSION}/{identifier}"}
        for identifier, role in OUR_MODULES]}


def our_credentials(token: str, base_url: str) -> dict:
    """Our Credentials object, carrying the token the other party shall use with us."""
    business = {"name": settings.CSMS_OCPI_BUSINESS_NAME}
    if settings.CSMS_OCPI_BUSINESS_WEBSITE:
        business["website"] = settings.CSMS_OCPI_BUSINESS_WEBSITE
    return {"token": token, "url": f"{base_url}/ocpi/versions", "roles": [{
        "role": "CPO", "business_details": business,
        "party_id": settings.CSMS_OCPI_PARTY_ID, "country_code": settings.CSMS_OCPI_COUNTRY_CODE}]}


# --- Reading a partner's credentials and platform ------------------------------------------------------


def credentials_validate(body: dict) -> dict:
    """A Credentials object (2001 naming the first thing wrong)."""
    token, url, roles = body.get("token"), body.get("url"), body.get("roles")
    if not isinstance(token, str) or not token or len(token) > 64:
        raise OcpiError(INVALID_PARAMETERS, "credentials.token must be a string of 1 to 64 characters")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise OcpiError(INVALID_PARAMETERS, "credentials.url must be the URL of the versions endpoint")
    if not isinstance(roles, list) or not roles:
        raise OcpiError(INVALID_PARAMETERS, "credentials.roles must list at least one role")
    for index, role in enumerate(roles):
        if not isinstance(role, dict):
            raise OcpiError(INVALID_PARAMETERS, f"credentials.roles[{index}] must be an object")
        if role.get("role") not in ROLES:
            raise OcpiError(INVALID_PARAMETERS, f"credentials.roles[{index}].role must be one of {sorted(ROLES)}")
        country, party = role.get("country_code"), role.get("party_id")
        if not (isinstance(country, str) and len(country) == 2 and country.isalpha()):
            raise OcpiError(INVALID_PARAMETERS, f"credentials.roles[{index}].country_code must be 2 letters")
        if not (isinstance(party, str) and len(party) == 3 and party.isalnum()):
            raise OcpiError(INVALID_PARAMETERS, f"credentials.roles[{index}].party_id must be 3 characters")
        details = role.get("business_details")
        if not isinstance(details, dict) or not details.get("name"):
            raise OcpiError(INVALID_PARAMETERS, f"credentials.roles[{index}].business_details.name is required")
    return body


def _main_role(roles: list[dict], partner: OcpiPartner) -> dict:
    """The role we deal with: the one with the country code and party id the operator gave the
    partner, else an eMSP's (a hub's otherwise, else the first)."""
    for role in roles:
        if (role.get("country_code", "").upper(), role.get("party_id", "").upper()) == (
                partner.country_code, partner.party_id):
            return role
    for wanted in ("EMSP", "HUB"):
        for role in roles:
            if role.get("role") == wanted:
                return role
    return roles[0]


def platform_read(url: str, token: str) -> tuple[str, list[dict]]:
    """The version details of a partner platform at its versions URL: (details URL, endpoints).
    OcpiError 3001 when it cannot be read, 3002 without 2.2.1, 3003 without what a CPO needs."""
    try:
        versions = ocpi_get_data(url, token=token)
    except OcpiClientError as exc:
        raise OcpiError(UNABLE_TO_USE_CLIENT_API, f"could not read your versions: {exc}") from None
    if not isinstance(versions, list):
        raise OcpiError(UNABLE_TO_USE_CLIENT_API, "your versions endpoint did not answer a list")
    chosen = next((v for v in versions if isinstance(v, dict) and v.get("version") == VERSION), None)
    if chosen is None or not chosen.get("url"):
        offered = ", ".join(str(v.get("version")) for v in versions if isinstance(v, dict)) or "none"
        raise OcpiError(UNSUPPORTED_VERSION, f"we speak OCPI {VERSION}; you offer {offered}")
    try:
        details = ocpi_get_data(chosen["url"], token=token)
    except OcpiClientError as exc:
        raise OcpiError(UNABLE_TO_USE_CLIENT_API, f"could not read your version details: {exc}") from None
    endpoints = details.get("endpoints") if isinstance(details, dict) else None
    if not isinstance(endpoints, list):
        raise OcpiError(UNABLE_TO_USE_CLIENT_API, "your version details have no endpoints")
    endpoints = [{"identifier": e.get("identifier"), "role": e.get("role"), "url": e.get("url")}
                 for e in endpoints if isinstance(e, dict) and e.get("identifier") and e.get("url")]
    if not any(e["identifier"] == "credentials" for e in endpoints):
        raise OcpiError(NO_MATCHING_ENDPOINTS, "your version details offer no credentials endpoint")
    return chosen["url"], endpoints


def _store_platform(partner: OcpiPartner, *, url: str, roles: list[dict], endpoints: list[dict]) -> None:
    role = _main_role(roles, partner)
    partner.versions_url, partner.version, partner.endpoints, partner.roles = url, VERSION, endpoints, roles
    partner.country_code, partner.party_id = role["country_code"].upper(), role["party_id"].upper()


# --- A partner registers with us ----------------------------------------------------------------------


def partner_ensure(*, name: str, country_code: str, party_id: str) -> OcpiPartner:
    """The partner organisation `name` (created when missing) as an OCPI partner with this identity."""
    from partners.models import Partner

    country_code, party_id = country_code.strip().upper(), party_id.strip().upper()
    if not (len(country_code) == 2 and country_code.isalpha()):
        raise OcpiError(INVALID_PARAMETERS, "the country code is 2 letters (ISO 3166-1 alpha-2)")
    if not (len(party_id) == 3 and party_id.isalnum()):
        raise OcpiError(INVALID_PARAMETERS, "the party id is 3 letters or digits")
    if not name.strip():
        raise OcpiError(INVALID_PARAMETERS, "the partner needs a name")
    with transaction.atomic():
        partner, _ = Partner.objects.get_or_create(name=name.strip())
        ocpi_partner, _ = OcpiPartner.objects.get_or_create(partner=partner)
        ocpi_partner.country_code, ocpi_partner.party_id = country_code, party_id
        ocpi_partner.save(update_fields=["country_code", "party_id", "updated_at"])
    return ocpi_partner


def token_a_issue(*, partner: OcpiPartner) -> str:
    """A new token A for the partner to register with (the only time it is shown). A registered
    partner's registration ends with it: its token stops working until it registers again."""
    if partner.state == HandshakeState.REGISTERED:
        logger.info("OCPI partner %s: a new token A ends its registration", partner.pk)
    token = new_token()
    partner.incoming_token_digest, partner.incoming_token_is_a = token_digest(token), True
    partner.state, partner.last_error = HandshakeState.AWAITING_REGISTRATION, ""
    partner.save(update_fields=["incoming_token_digest", "incoming_token_is_a", "state", "last_error", "updated_at"])
    return token


def registration_accept(*, partner: OcpiPartner, body: dict, update: bool, base_url: str) -> dict:
    """POST (register, with token A) or PUT (update, with token C) of the partner's credentials:
    read its platform with the token it gave us, then answer our credentials with a new token."""
    registered = partner.state == HandshakeState.REGISTERED
    if update and not registered:
        raise OcpiError(INVALID_PARAMETERS, "not registered: POST your credentials first", http_status=405)
    if not update and registered:
        raise OcpiError(INVALID_PARAMETERS, "already registered: PUT to update, or DELETE first", http_status=405)
    credentials = credentials_validate(body)
    _details_url, endpoints = platform_read(credentials["url"], credentials["token"])
    token = new_token()
    with transaction.atomic():
        _store_platform(partner, url=credentials["url"], roles=credentials["roles"], endpoints=endpoints)
        partner.outgoing_token = credentials["token"]
        partner.incoming_token_digest, partner.incoming_token_is_a = token_digest(token), False
        partner.state, partner.last_error = HandshakeState.REGISTERED, ""
        partner.registered_at = partner.registered_at if update else timezone.now()
        partner.save()
        if not update:
            _send_everything(partner)
    logger.info("OCPI partner %s %s as %s*%s", partner.pk, "updated its credentials" if update else "registered",
                partner.country_code, partner.party_id)
    return our_credentials(token, base_url)


def registration_delete(*, partner: OcpiPartner) -> None:
    """DELETE by the partner: it unregisters; its token stops working."""
    if partner.state != HandshakeState.REGISTERED:
        raise OcpiError(INVALID_PARAMETERS, "not registered", http_status=405)
    _unregistered(partner)


def _unregistered(partner: OcpiPartner) -> None:
    partner.state, partner.incoming_token_digest, partner.outgoing_token = HandshakeState.UNREGISTERED, "", ""
    partner.incoming_token_is_a = False
    partner.save(update_fields=["state", "incoming_token_digest", "outgoing_token", "incoming_token_is_a",
                                "updated_at"])


# --- We register with a partner ---------------------------------------------------------------------------


def _failed(partner: OcpiPartner, message: str) -> OcpiError:
    OcpiPartner.objects.filter(pk=partner.pk).update(state=HandshakeState.FAILED, last_error=message[:500],
                                                     incoming_token_digest="", incoming_token_is_a=False)
    partner.refresh_from_db()
    return OcpiError(UNABLE_TO_USE_CLIENT_API, message)


def register_with(*, partner: OcpiPartner, versions_url: str, token_a: str, base_url: str) -> OcpiPartner:
    """Run the handshake as the initiating party (never inside a transaction: the partner calls us
    back with token B while we wait for its answer)."""
    if partner.state == HandshakeState.REGISTERED:
        raise OcpiError(INVALID_PARAMETERS, "already registered: update or unregister first")
    try:
        _details_url, endpoints = platform_read(versions_url, token_a)
    except OcpiError as exc:
        raise _failed(partner, exc.message) from None
    credentials_url = next((e["url"] for e in endpoints if e["identifier"] == "credentials"), None)
    token_b = new_token()
    # Committed before the POST: the partner reads our versions with B before it answers.
    partner.incoming_token_digest, partner.incoming_token_is_a = token_digest(token_b), False
    partner.save(update_fields=["incoming_token_digest", "incoming_token_is_a", "updated_at"])
    return _post_credentials(partner, method="POST", url=credentials_url, token=token_a, token_b=token_b,
                             versions_url=versions_url, endpoints=endpoints, base_url=base_url)


def _post_credentials(partner: OcpiPartner, *, method: str, url: str, token: str, token_b: str, versions_url: str,
                      endpoints: list[dict], base_url: str) -> OcpiPartner:
    try:
        answer = ocpi_request(method, url, token=token, body=our_credentials(token_b, base_url))
    except OcpiClientError as exc:
        raise _failed(partner, f"{method} credentials: {exc}") from None
    if not answer.ok or not isinstance(answer.data, dict):
        raise _failed(partner, f"{method} credentials: HTTP {answer.http_status}, OCPI {answer.status_code} "
                               f"{answer.status_message}".strip())
    try:
        credentials = credentials_validate(answer.data)
    except OcpiError as exc:
        raise _failed(partner, f"their credentials: {exc.message}") from None
    if credentials["url"] != versions_url:  # they moved: read the platform they now name
        try:
            _details, endpoints = platform_read(credentials["url"], credentials["token"])
        except OcpiError as exc:
            raise _failed(partner, exc.message) from None
    _store_platform(partner, url=credentials["url"], roles=credentials["roles"], endpoints=endpoints)
    partner.outgoing_token = credentials["token"]
    partner.state, partner.last_error = HandshakeState.REGISTERED, ""
    first = partner.registered_at is None or method == "POST"
    partner.registered_at = partner.registered_at or timezone.now()
    with transaction.atomic():
        partner.save()
        if first:
            _send_everything(partner)
    return partner


def _send_everything(partner: OcpiPartner) -> None:
    """A partner that just registered gets every Location and tariff it sees (then only changes)."""
    partner_republish(partner=partner)


def credentials_rotate(*, partner: OcpiPartner, base_url: str) -> OcpiPartner:
    """We update our credentials with a registered partner: a new token for it, a new one from it."""
    if partner.state != HandshakeState.REGISTERED:
        raise OcpiError(INVALID_PARAMETERS, "not registered")
    url = partner.endpoint("credentials", "RECEIVER") or partner.endpoint("credentials", "SENDER")
    if not url:
        raise OcpiError(NO_MATCHING_ENDPOINTS, "the partner offers no credentials endpoint")
    token_b = new_token()
    old_digest = partner.incoming_token_digest
    partner.incoming_token_digest = token_digest(token_b)
    partner.save(update_fields=["incoming_token_digest", "updated_at"])
    try:
        return _post_credentials(partner, method="PUT", url=url, token=partner.outgoing_token, token_b=token_b,
                                 versions_url=partner.versions_url, endpoints=partner.endpoints, base_url=base_url)
    except OcpiError:
        # Still registered with the old tokens as far as the partner knows.
        OcpiPartner.objects.filter(pk=partner.pk).update(state=HandshakeState.REGISTERED,
                                                         incoming_token_digest=old_digest)
        partner.refresh_from_db()
        raise


def unregister_with(*, partner: OcpiPartner) -> OcpiPartner:
    """We end the registration: DELETE on its credentials endpoint, then forget the tokens (even when
    it cannot be reached: our side stops accepting its token either way; last_error says so)."""
    url = partner.endpoint("credentials", "RECEIVER") or partner.endpoint("credentials", "SENDER")
    error = ""
    if partner.state == HandshakeState.REGISTERED and url and partner.outgoing_token:
        try:
            answer = ocpi_request("DELETE", url, token=partner.outgoing_token)
            if not answer.ok:
                error = f"DELETE credentials: HTTP {answer.http_status}, OCPI {answer.status_code}"
        except OcpiClientError as exc:
            error = f"DELETE credentials: {exc}"
    _unregistered(partner)
    if error:
        OcpiPartner.objects.filter(pk=partner.pk).update(last_error=error[:500])
        partner.last_error = error[:500]
    return partner
