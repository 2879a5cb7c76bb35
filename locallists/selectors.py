"""Reads about local authorization lists: which tags belong on a station's list, what it holds, and
the changes that take one to the other (docs/adr/0022-local-list-contents.md)."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from csms.ocpp.schemas import format_datetime

from stations.models import ChargeStation
from stations.selectors import station_config_int
from transactions.models import AuthorizationStatus, IdTag

from .models import LocalList, LocalListSync, Selection


def selected_tags(local_list: LocalList) -> QuerySet[IdTag]:
    """The tags chosen for the list: an explicit set, or every tag of the station's partner (the
    operator's own, partnerless tags for a partnerless station). Tags that must be checked online at
    every use never go on a list, even when chosen explicitly: a list is what a station accepts offline."""
    if local_list.selection == Selection.EXPLICIT:
        return local_list.id_tags.filter(offline_allowed=True)
    partner_id = ChargeStation.objects.values_list("partner_id", flat=True).get(pk=local_list.station_id)
    return IdTag.objects.filter(partner_id=partner_id, offline_allowed=True)


def entry_info(tag: IdTag, now: datetime) -> dict:
    """The idTagInfo a list entry carries. The status follows the same rules as Authorize
    (transactions.services.id_tag_info without concurrency); the expiryDate is the tag's own, never the
    cache horizon, so that the list keeps working through a long offline spell."""
    if tag.blocked or tag.max_active_transactions == 0:
        status = AuthorizationStatus.BLOCKED
    elif tag.expiry_date is not None and tag.expiry_date <= now:
        status = AuthorizationStatus.EXPIRED
    else:
        status = AuthorizationStatus.ACCEPTED
    info = {"status": status.value}
    if tag.parent_id_tag:
        info["parentIdTag"] = tag.parent_id_tag
    if tag.expiry_date is not None:
        info["expiryDate"] = format_datetime(tag.expiry_date, timespec="seconds")
    return info


def list_capacity(station_id: str) -> int | None:
    """LocalAuthListMaxLength as last read; None when unknown (no limit is applied)."""
    value = station_config_int(station_id, "LocalAuthListMaxLength")
    return value if value is not None and value >= 0 else None


def chunk_size(station_id: str) -> int | None:
    """SendLocalListMaxLength as last read; None when unknown or meaningless (one message)."""
    value = station_config_int(station_id, "SendLocalListMaxLength")
    return value if value is not None and value > 0 else None


def desired_entries(local_list: LocalList) -> tuple[dict[str, dict], int]:
    """What the station should hold, and how many selected tags did not fit. Beyond the station's
    capacity, Accepted tags come first (they are what lets people charge offline), then by idTag."""
    now = timezone.now()
    entries = [(tag.id_tag, entry_info(tag, now)) for tag in selected_tags(local_list).order_by("id_tag")]
    entries.sort(key=lambda item: item[1]["status"] != AuthorizationStatus.ACCEPTED.value)
    capacity = list_capacity(local_list.station_id)
    kept = entries if capacity is None else entries[:capacity]
    return dict(kept), len(entries) - len(kept)


def held_entries(local_list: LocalList) -> dict[str, dict]:
    return dict(local_list.entries.values_list("id_tag", "id_tag_info"))


def list_changes(held: dict[str, dict], desired: dict[str, dict]) -> list[dict]:
    """The Differential entries taking `held` to `desired`: removals first, then updates, then
    additions, so that a list sent in chunks never holds more than the larger of both. Tags compare
    case-insensitively, as the station compares them: a held `abc` is the desired `ABC`."""
    held_by_key = {tag.upper(): (tag, info) for tag, info in held.items()}
    desired_keys = {tag.upper() for tag in desired}
    removals = [{"idTag": tag} for key, (tag, _) in sorted(held_by_key.items()) if key not in desired_keys]
    updates, additions = [], []
    for tag, info in desired.items():
        was = held_by_key.get(tag.upper())
        if was is None:
            additions.append({"idTag": tag, "idTagInfo": info})
        elif was[1] != info or was[0] != tag:
            updates.append({"idTag": tag, "idTagInfo": info})
    return removals + updates + additions


def full_entries(desired: dict[str, dict]) -> list[dict]:
    return [{"idTag": tag, "idTagInfo": info} for tag, info in desired.items()]


def running_sync(local_list: LocalList) -> LocalListSync | None:
    return local_list.syncs.filter(finished_at__isnull=True).order_by("-started_at").first()


def lists_concerned_by_tag(*, id_tag: str, partner_id: int | None, deleted: bool) -> QuerySet[LocalList]:
    """Lists that hold the tag, or whose selection includes it."""
    concerned = Q(entries__id_tag__iexact=id_tag)
    if not deleted:
        concerned |= Q(selection=Selection.PARTNER, station__partner_id=partner_id)
        concerned |= Q(selection=Selection.EXPLICIT, id_tags__id_tag__iexact=id_tag)
    return LocalList.objects.filter(concerned)


def lists_to_sync() -> QuerySet[LocalList]:
    """Out-of-date lists the periodic job should bring up to date."""
    return (
        LocalList.objects.filter(outdated=True, auto_sync=True, station__online=True)
        .exclude(supported=False)
        .order_by("updated_at")
    )
