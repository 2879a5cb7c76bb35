"""Real-time authorization: before a station's Authorize or StartTransaction reaches the writer, ask the
eMSP(s) about a tag (POST {tokens}/{uid}/authorize) and keep the answer in the token's idTag mirror,
which the handler then reads as for any tag (docs/adr/0162-ocpi-tokens-and-realtime-authorization.md).

Asked: an unknown tag (every registered partner with real-time authorization, in parallel, the first
ALLOWED wins); a NEVER or ALLOWED_OFFLINE token whose last answer no longer stands (its own partner);
a token refused in real time whose refusal no longer stands. Not asked: ALWAYS and ALLOWED tokens
(we choose the whitelist for ALLOWED) and tags that are not OCPI tokens.

Cheap when OCPI is not used: whether any registered partner does real-time authorization is cached
in the process (RECHECK_SECONDS, and forgotten when a partner of this process changes), so the
station path then runs no query at all; otherwise one indexed lookup of the tag.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from urllib.parse import quote

from django.conf import settings
from django.db.models import Q
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from csms.db import run_db
from stations.models import ChargeStation
from transactions.models import IdTag

from ..client import OcpiClientError, ocpi_request
from ..locations.documents import evse_uid
from ..models import HandshakeState, OcpiPartner, OcpiToken, WhitelistType
from ..transport import OcpiError
from . import services

logger = logging.getLogger(__name__)

RECHECK_SECONDS = 5.0
ALLOWED = "ALLOWED"
ASKED_WHITELISTS = (WhitelistType.NEVER, WhitelistType.ALLOWED_OFFLINE)

_partners = {"any": None, "until": 0.0}
_unknown: dict[str, float] = {}  # upper-case uid -> until when no partner knows it (monotonic)
_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


# --- whether OCPI is involved at all -----------------------------------------------------------------


def realtime_partners_known() -> bool | None:
    """The cached answer to "may real-time authorization be involved?" (a registered partner doing it,
    or one with NEVER tokens, which then go by the fallback); None once stale."""
    return _partners["any"] if time.monotonic() < _partners["until"] else None


def realtime_partners_refresh() -> bool:
    found = (OcpiPartner.objects.filter(state=HandshakeState.REGISTERED)
             .filter(Q(realtime_authorization=True) | Q(tokens__whitelist=WhitelistType.NEVER)).exists())
    _partners.update(any=found, until=time.monotonic() + RECHECK_SECONDS)
    return found


def realtime_partners_forget(**kwargs) -> None:
    # Only a cached "no" can be made wrong by a save in a way that matters (a real-time partner or a
    # NEVER token nobody would ask about); a stale "yes" costs one lookup.
    if _partners["any"] is False:
        _partners.update(any=None, until=0.0)


post_save.connect(realtime_partners_forget, sender=OcpiPartner, dispatch_uid="ocpi-realtime-partners-save")
post_delete.connect(realtime_partners_forget, sender=OcpiPartner, dispatch_uid="ocpi-realtime-partners-delete")
post_save.connect(realtime_partners_forget, sender=OcpiToken, dispatch_uid="ocpi-realtime-tokens-save")


# --- what to ask ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    partner_id: int
    url: str
    token: str


@dataclass
class Plan:
    uid: str
    type: str
    location: dict
    token_id: int | None  # the known token asked about; None for an unknown tag
    targets: list[Target] = field(default_factory=list)


def _targets(partners) -> list[Target]:
    targets = []
    for partner in partners:
        url = partner.endpoint("tokens", "SENDER")
        if url and partner.outgoing_token:
            targets.append(Target(partner.pk, url, partner.outgoing_token))
    return targets


def realtime_plan(uid: str, *, station_id: str, connector_id: int | None = None) -> Plan | None:
    """Whom to ask about a presented tag, or None when nobody needs asking. At most one query when the
    tag is not an OCPI token, none when no partner does real-time authorization."""
    known = realtime_partners_known()
    if known is False or (known is None and not realtime_partners_refresh()):
        return None
    row = (IdTag.objects.filter(id_tag__iexact=uid)
           .values_list("pk", "ocpi_token__pk", "ocpi_token__whitelist", "ocpi_token__realtime_allowed").first())
    # The station is the location we name (its chargeBoxId); the EVSE is known at StartTransaction,
    # not at Authorize.
    evse_uids = [evse_uid(ChargeStation(id=station_id), connector_id)] if connector_id else []
    location = {"location_id": station_id, "evse_uids": evse_uids}
    if row is None:
        with _lock:
            if _unknown.get(uid.upper(), 0) > time.monotonic():
                return None
        partners = OcpiPartner.objects.filter(state=HandshakeState.REGISTERED, realtime_authorization=True)
        targets = _targets(partners)
        return Plan(uid, "RFID", location, None, targets) if targets else None
    _, token_id, whitelist, answered = row
    if token_id is None or (whitelist not in ASKED_WHITELISTS and answered in ("", ALLOWED)):
        return None
    token = OcpiToken.objects.select_related("partner").get(pk=token_id)
    if services.realtime_fresh(token):
        return None
    partner = token.partner
    targets = (_targets([partner]) if partner.state == HandshakeState.REGISTERED and partner.realtime_authorization
               else [])
    # Without anyone to ask, the fallback decides at once.
    return Plan(token.uid, token.type, location, token.pk, targets)


# --- asking --------------------------------------------------------------------------------------------


@dataclass
class Answer:
    target: Target
    info: dict | None  # the AuthorizationInfo; None: the partner does not know the token
    error: str = ""


def _ask(target: Target, plan: Plan) -> Answer:
    url = f"{target.url.rstrip('/')}/{quote(plan.uid, safe='')}/authorize?type={plan.type}"
    try:
        answer = ocpi_request("POST", url, token=target.token, body=plan.location,
                              timeout=settings.CSMS_OCPI_AUTH_TIMEOUT)
    except OcpiClientError as exc:
        return Answer(target, None, str(exc))
    if answer.http_status == 404 or answer.status_code == 2004:
        return Answer(target, None)
    if not answer.ok or not isinstance(answer.data, dict):
        return Answer(target, None, f"HTTP {answer.http_status}, OCPI {answer.status_code} {answer.status_message}")
    return Answer(target, answer.data)


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ocpi-authorize")
    return _pool


async def ask(plan: Plan) -> tuple[list[Answer], bool]:
    """Ask every target at once; stop at the first ALLOWED. Returns the answers in the order they came
    and whether every target answered within CSMS_OCPI_AUTH_TIMEOUT."""
    loop = asyncio.get_running_loop()
    pending = [loop.run_in_executor(_executor(), _ask, target, plan) for target in plan.targets]
    answers: list[Answer] = []
    try:
        for next_answer in asyncio.as_completed(pending, timeout=settings.CSMS_OCPI_AUTH_TIMEOUT):
            answer = await next_answer
            answers.append(answer)
            if answer.info is not None and answer.info.get("allowed") == ALLOWED:
                return answers, True
    except TimeoutError:
        return answers, False
    return answers, len(answers) == len(pending)


def realtime_record(plan: Plan, answers: list[Answer], complete: bool) -> str:
    """Keep the outcome: the first ALLOWED answer, else the first other answer with a token, else the
    fallback for a known token. Returns what was decided (for the log)."""
    usable = [a for a in answers if a.info is not None]
    usable.sort(key=lambda a: a.info.get("allowed") != ALLOWED)  # stable: the first ALLOWED, or the first
    partners = {p.pk: p for p in OcpiPartner.objects.filter(pk__in={a.target.partner_id for a in usable})}
    for answer in usable:
        try:
            token = services.token_realtime_record(partner=partners[answer.target.partner_id], uid=plan.uid,
                                                   info=answer.info)
        except OcpiError as exc:
            logger.warning("real-time authorization of %s by partner %s unusable: %s", plan.uid,
                           answer.target.partner_id, exc.message)
            continue
        return token.realtime_allowed
    said_unknown = complete and answers and all(a.info is None and not a.error for a in answers)
    if plan.token_id is not None:
        token = OcpiToken.objects.select_related("partner__partner", "id_tag").get(pk=plan.token_id)
        services.token_realtime_unanswered(token=token, refused=bool(said_unknown))
        return "unknown to its eMSP" if said_unknown else "fallback"
    if said_unknown:
        with _lock:
            _unknown[plan.uid.upper()] = time.monotonic() + settings.CSMS_OCPI_AUTH_CACHE_SECONDS
        return "unknown"
    return "unanswered"


async def preauthorize(station_id: str, action: str, payload: dict) -> None:
    """The preauthorizer the OCPP runtime awaits before Authorize and StartTransaction (ocpi.apps)."""
    uid = payload.get("idTag") or ""
    if not uid or realtime_partners_known() is False:
        return
    plan = await run_db(realtime_plan, uid, station_id=station_id, connector_id=payload.get("connectorId"))
    if plan is None:
        return
    answers, complete = await ask(plan) if plan.targets else ([], False)
    outcome = await run_db(realtime_record, plan, answers, complete)
    errors = [a.error for a in answers if a.error]
    logger.info("real-time authorization of %s at %s: %s%s", uid, station_id, outcome,
                f" ({'; '.join(errors)})" if errors else "" if complete else " (no answer in time)")


def preauthorize_timeout() -> float:
    """How long the runtime waits for `preauthorize`: the partners' bound, and room for its two short
    database steps."""
    return settings.CSMS_OCPI_AUTH_TIMEOUT + 5


# --- what the sessions module reads --------------------------------------------------------------------


def realtime_result_for(uid: str) -> tuple[str, object] | None:
    """(authorization_reference, checked_at) when the tag's token was ALLOWED by a real-time answer
    that still stands: its session is then AUTH_REQUEST with that reference. None otherwise."""
    token = (OcpiToken.objects.filter(id_tag__id_tag__iexact=uid, realtime_allowed=ALLOWED)
             .order_by("-realtime_checked_at").first())
    if token is None or not services.realtime_fresh(token, timezone.now()):
        return None
    return token.authorization_reference, token.realtime_checked_at
