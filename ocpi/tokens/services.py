"""OCPI tokens, receiver side: the Token objects eMSPs push to us (PUT, PATCH) or that their real-time
authorization tells us about, and their idTag mirror, which is what stations are checked against
(docs/adr/0162-ocpi-tokens-and-realtime-authorization.md)."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from transactions.id_tags import id_tag_create, id_tag_find, id_tag_update

from ..models import OcpiPartner, OcpiToken, WhitelistType
from ..transport import INVALID_PARAMETERS, UNKNOWN_TOKEN, OcpiError, ocpi_datetime, parse_ocpi_datetime

logger = logging.getLogger(__name__)

TOKEN_TYPES = ("AD_HOC_USER", "APP_USER", "OTHER", "RFID")
PROFILE_TYPES = ("CHEAP", "FAST", "GREEN", "REGULAR")
ALLOWED_TYPES = ("ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED")
ID_TAG_LENGTH = 20  # OCPP 1.6 IdToken: CiString20Type


# --- validation --------------------------------------------------------------------------------------


def _invalid(message: str) -> OcpiError:
    return OcpiError(INVALID_PARAMETERS, message)


def _string(document: dict, name: str, max_length: int, *, required: bool, ci: bool = False,
            prefix: str = "token") -> str:
    """A (Ci)String field: '' when optional and absent. CiStrings are printable ASCII."""
    value = document.get(name)
    if value is None or value == "":
        if required:
            raise _invalid(f"{prefix}.{name} is required")
        return ""
    if not isinstance(value, str):
        raise _invalid(f"{prefix}.{name} must be a string")
    if len(value) > max_length:
        raise _invalid(f"{prefix}.{name} is longer than {max_length} characters")
    if ci and not (value.isascii() and value.isprintable()):
        raise _invalid(f"{prefix}.{name} must be printable ASCII")
    return value


def _choice(document: dict, name: str, choices, *, required: bool) -> str:
    value = document.get(name)
    if value is None:
        if required:
            raise _invalid(f"token.{name} is required")
        return ""
    if value not in choices:
        raise _invalid(f"token.{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def token_fields(document) -> dict:
    """The model fields of a Token object, every rule of the object table checked (2001 naming the
    first field that breaks one)."""
    if not isinstance(document, dict):
        raise _invalid("the Token must be a JSON object")
    fields = {
        "country_code": _string(document, "country_code", 2, required=True, ci=True).upper(),
        "party_id": _string(document, "party_id", 3, required=True, ci=True).upper(),
        "uid": _string(document, "uid", 36, required=True, ci=True),
        "type": _choice(document, "type", TOKEN_TYPES, required=True),
        "contract_id": _string(document, "contract_id", 36, required=True, ci=True),
        "visual_number": _string(document, "visual_number", 64, required=False),
        "issuer": _string(document, "issuer", 64, required=True),
        "group_id": _string(document, "group_id", 36, required=False, ci=True),
        "whitelist": _choice(document, "whitelist", WhitelistType.values, required=True),
        "language": _string(document, "language", 2, required=False),
        "default_profile_type": _choice(document, "default_profile_type", PROFILE_TYPES, required=False),
    }
    if len(fields["country_code"]) != 2:
        raise _invalid("token.country_code must be 2 characters")
    if len(fields["party_id"]) != 3:
        raise _invalid("token.party_id must be 3 characters")
    if not isinstance(document.get("valid"), bool):
        raise _invalid("token.valid is required and must be true or false")
    fields["valid"] = document["valid"]
    contract = document.get("energy_contract")
    if contract is not None:
        if not isinstance(contract, dict):
            raise _invalid("token.energy_contract must be an object")
        contract = {"supplier_name": _string(contract, "supplier_name", 64, required=True,
                                             prefix="token.energy_contract"),
                    "contract_id": _string(contract, "contract_id", 64, required=False,
                                           prefix="token.energy_contract")}
        if not contract["contract_id"]:
            del contract["contract_id"]
    fields["energy_contract"] = contract
    if document.get("last_updated") is None:
        raise _invalid("token.last_updated is required")
    fields["last_updated"] = parse_ocpi_datetime(document["last_updated"], field="token.last_updated")
    return fields


def partner_owns(partner: OcpiPartner, country_code: str, party_id: str) -> bool:
    """Whether (country, party) is one of the roles the partner gave in its credentials."""
    wanted = (country_code.upper(), party_id.upper())
    parties = {((role.get("country_code") or "").upper(), (role.get("party_id") or "").upper())
               for role in partner.roles or () if isinstance(role, dict)}
    parties.add((partner.country_code.upper(), partner.party_id.upper()))
    return wanted in parties


# --- documents ---------------------------------------------------------------------------------------


def token_document(token: OcpiToken) -> dict:
    """The Token object as we hold it."""
    document = {"country_code": token.country_code, "party_id": token.party_id, "uid": token.uid,
                "type": token.type, "contract_id": token.contract_id}
    if token.visual_number:
        document["visual_number"] = token.visual_number
    document["issuer"] = token.issuer
    if token.group_id:
        document["group_id"] = token.group_id
    document.update(valid=token.valid, whitelist=token.whitelist)
    if token.language:
        document["language"] = token.language
    if token.default_profile_type:
        document["default_profile_type"] = token.default_profile_type
    if token.energy_contract:
        document["energy_contract"] = token.energy_contract
    document["last_updated"] = ocpi_datetime(token.last_updated)
    return document


# --- writes ------------------------------------------------------------------------------------------


def token_find(*, partner: OcpiPartner, country_code: str, party_id: str, uid: str, type: str) -> OcpiToken | None:
    """The partner's token, its uid compared case-insensitively (a CiString)."""
    return OcpiToken.objects.filter(partner=partner, country_code=country_code.upper(), party_id=party_id.upper(),
                                    uid__iexact=uid, type=type).select_related("id_tag").first()


@transaction.atomic
def token_store(*, partner: OcpiPartner, document: dict) -> OcpiToken:
    """Store (create or replace) a token the partner pushed or named, and its idTag mirror; returns
    the OcpiToken. Raises OcpiError 2001 when the document is not a valid Token, is not the partner's,
    or its uid is an idTag someone else owns."""
    fields = token_fields(document)
    if not partner_owns(partner, fields["country_code"], fields["party_id"]):
        raise _invalid(f"token {fields['country_code']}*{fields['party_id']} is not one of the parties this "
                       f"partner registered")
    token = token_find(partner=partner, country_code=fields["country_code"], party_id=fields["party_id"],
                       uid=fields["uid"], type=fields["type"])
    if token is None:
        token = OcpiToken(partner=partner)
    for name, value in fields.items():
        setattr(token, name, value)
    token.received_at = timezone.now()
    try:
        with transaction.atomic():
            token.save()
    except IntegrityError:  # created meanwhile (two stations asking about one new token at once)
        token = token_find(partner=partner, country_code=fields["country_code"], party_id=fields["party_id"],
                           uid=fields["uid"], type=fields["type"])
        for name, value in fields.items():
            setattr(token, name, value)
        token.save()
    _mirror(token)
    return token


@transaction.atomic
def token_patch(*, partner: OcpiPartner, country_code: str, party_id: str, uid: str, type: str,
                changes: dict) -> OcpiToken:
    """Apply a PATCH: the fields given replace ours (a null removes an optional one); `last_updated`
    is required. An unknown token is 404 / 2004: the eMSP should PUT it."""
    if not isinstance(changes, dict):
        raise _invalid("the body must be a JSON object")
    if changes.get("last_updated") is None:
        raise _invalid("token.last_updated is required in a PATCH")
    token = token_find(partner=partner, country_code=country_code, party_id=party_id, uid=uid, type=type)
    if token is None:
        raise OcpiError(UNKNOWN_TOKEN, f"unknown token {uid} ({type}): PUT it first", http_status=404)
    identity = {"country_code": token.country_code, "party_id": token.party_id, "uid": token.uid, "type": token.type}
    for name, ours in identity.items():
        if name in changes and str(changes[name]).upper() != ours.upper():
            raise _invalid(f"token.{name} cannot be changed by a PATCH ({changes[name]!r} is not {ours!r})")
    document = token_document(token)
    for name, value in changes.items():
        if value is None:
            document.pop(name, None)
        else:
            document[name] = value
    return token_store(partner=partner, document={**document, **identity})


@transaction.atomic
def token_realtime_record(*, partner: OcpiPartner, uid: str, info, now=None) -> OcpiToken:
    """Keep what the partner's real-time authorization answered (AuthorizationInfo): the token it
    returned, the answer and its reference. The mirror then follows the answer (ALLOWED or not) for
    CSMS_OCPI_AUTH_CACHE_SECONDS."""
    if not isinstance(info, dict):
        raise _invalid("the AuthorizationInfo must be an object")
    allowed = info.get("allowed")
    if allowed not in ALLOWED_TYPES:
        raise _invalid(f"authorization_info.allowed must be one of {', '.join(ALLOWED_TYPES)}, not {allowed!r}")
    reference = _string(info, "authorization_reference", 36, required=False, ci=True, prefix="authorization_info")
    document = info.get("token")
    if not isinstance(document, dict) or str(document.get("uid", "")).upper() != uid.upper():
        raise _invalid(f"authorization_info.token must be the token {uid} that was asked about")
    token = token_store(partner=partner, document=document)
    token.realtime_allowed = allowed
    token.authorization_reference = reference
    token.realtime_checked_at = now or timezone.now()
    token.save(update_fields=["realtime_allowed", "authorization_reference", "realtime_checked_at"])
    _mirror(token)
    return token


@transaction.atomic
def token_realtime_unanswered(*, token: OcpiToken, refused: bool = False) -> OcpiToken:
    """The partner gave no usable answer in time (or, `refused`, said it does not know the token).
    A NEVER token is then blocked (CSMS_OCPI_AUTH_FALLBACK "reject") or stands as last pushed
    ("accept"); other whitelists may be used offline, as last pushed."""
    if refused:
        token.realtime_allowed, token.authorization_reference = "UNKNOWN", ""
        token.realtime_checked_at = timezone.now()
        token.save(update_fields=["realtime_allowed", "authorization_reference", "realtime_checked_at"])
        _mirror(token)
        return token
    reject = settings.CSMS_OCPI_AUTH_FALLBACK != "accept"
    _mirror(token, blocked=not token.valid or (token.whitelist == WhitelistType.NEVER and reject))
    return token


def realtime_fresh(token: OcpiToken, now=None) -> bool:
    """Whether the token's last real-time answer still stands (CSMS_OCPI_AUTH_CACHE_SECONDS)."""
    if token.realtime_checked_at is None or not token.realtime_allowed:
        return False
    age = (now or timezone.now()) - token.realtime_checked_at
    return age < timedelta(seconds=settings.CSMS_OCPI_AUTH_CACHE_SECONDS)


def mirror_blocked(token: OcpiToken, now=None) -> bool:
    """Whether stations must refuse the token now: invalid, refused by a real-time answer that still
    stands, or NEVER without an ALLOWED answer that still stands."""
    if not token.valid:
        return True
    if realtime_fresh(token, now):
        return token.realtime_allowed != "ALLOWED"
    return token.whitelist == WhitelistType.NEVER


def _mirror(token: OcpiToken, *, blocked: bool | None = None) -> None:
    """Keep the token's idTag (a uid of at most 20 characters) in step. A uid that is already an idTag
    of another owner (a local tag, another partner's or another token's) is refused, never taken over."""
    if len(token.uid) > ID_TAG_LENGTH:
        return
    wanted = {
        "partner": token.partner.partner,
        "parent_id_tag": token.group_id[:ID_TAG_LENGTH],
        "blocked": mirror_blocked(token) if blocked is None else blocked,
        "description": f"OCPI token {token.type} {token.contract_id}"[:200],
        "offline_allowed": token.whitelist != WhitelistType.NEVER,
    }
    existing = id_tag_find(token.uid)
    if existing is not None and existing.pk != token.id_tag_id:
        raise _invalid(f"token.uid {token.uid} is idTag {existing.id_tag} of another owner here "
                       f"(idTags are case-insensitive); it cannot be taken over")
    if existing is None:
        token.id_tag = id_tag_create(id_tag=token.uid, **wanted)
        token.save(update_fields=["id_tag"])
        return
    changed = {name: value for name, value in wanted.items()
               if getattr(existing, name if name != "partner" else "partner_id")
               != (value.pk if name == "partner" else value)}
    if changed:  # an unchanged tag is not announced: local lists holding it stay up to date
        id_tag_update(id_tag=existing, **changed)

