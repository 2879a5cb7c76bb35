"""What a list entry says about a tag, and which changes mark lists out of date (no station needed)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from csms.ocpp.schemas import format_datetime
from locallists import selectors
from locallists.models import LocalList, LocalListEntry, Selection
from transactions.services import id_tag_info

pytestmark = pytest.mark.django_db(transaction=True)


def test_entry_status_follows_the_authorization_rules(make_id_tag):
    now = timezone.now()
    tags = [
        make_id_tag("R-PLAIN"),
        make_id_tag("R-BLOCKED", blocked=True),
        make_id_tag("R-ZERO", max_active_transactions=0),
        make_id_tag("R-EXPIRED", expiry_date=now - timedelta(days=1)),
        make_id_tag("R-CHILD", parent_id_tag="R-GROUP", expiry_date=now + timedelta(days=3)),
    ]
    for tag in tags:
        entry = selectors.entry_info(tag, timezone.now())
        answered = id_tag_info(id_tag=tag.id_tag, check_concurrency=False)
        assert entry["status"] == answered["status"], tag.id_tag
        assert entry.get("parentIdTag") == answered.get("parentIdTag"), tag.id_tag
        # The list carries the tag's own expiry, not the authorization cache's horizon.
        expected = format_datetime(tag.expiry_date, timespec="seconds") if tag.expiry_date else None
        assert entry.get("expiryDate") == expected, tag.id_tag


def test_changes_put_removals_first_and_additions_last():
    held = {"A": {"status": "Accepted"}, "B": {"status": "Accepted"}}
    desired = {"C": {"status": "Accepted"}, "A": {"status": "Blocked"}}
    assert selectors.list_changes(held, desired) == [
        {"idTag": "B"}, {"idTag": "A", "idTagInfo": {"status": "Blocked"}}, {"idTag": "C", "idTagInfo": {"status": "Accepted"}},
    ]


def test_tag_changes_mark_the_lists_concerned(make_station, make_id_tag):
    from partners.models import Partner
    from locallists.services import local_list_configure
    from transactions.id_tags import id_tag_delete, id_tag_update

    ours, theirs = Partner.objects.create(name="Mark A"), Partner.objects.create(name="Mark B")
    by_partner = LocalList.objects.create(station=make_station(partner=ours), outdated=False)
    explicit = LocalList.objects.create(station=make_station(partner=theirs), selection=Selection.EXPLICIT, outdated=False)
    unrelated = LocalList.objects.create(station=make_station(partner=theirs), outdated=False)

    def outdated():
        return set(LocalList.objects.filter(outdated=True).values_list("pk", flat=True))

    tag = make_id_tag("MARK-1", partner=ours)
    assert outdated() == {by_partner.pk}
    LocalList.objects.update(outdated=False)
    local_list_configure(station=explicit.station, id_tags=[tag])  # choosing it in admin or the API
    assert outdated() == {explicit.pk}
    LocalList.objects.update(outdated=False)
    LocalListEntry.objects.create(local_list=unrelated, id_tag="MARK-1", id_tag_info={"status": "Accepted"})
    id_tag_update(id_tag=tag, blocked=True)
    assert outdated() == {by_partner.pk, explicit.pk, unrelated.pk}
    LocalList.objects.update(outdated=False)
    id_tag_delete(id_tag=tag)
    assert outdated() == {unrelated.pk}  # the only list that still holds it
