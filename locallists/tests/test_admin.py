"""The operator's pages for local lists. The admin runs in this process, so these tests look at the
calls it stores, not at a station."""

import pytest
from django.urls import reverse

from locallists.models import LocalList, LocalListEntry
from csms.ocpp.models import Call
from stations.models import ConfigurationKey

pytestmark = pytest.mark.django_db(transaction=True)


def test_choose_tags_sync_and_see_entries(admin_client, make_station, make_id_tag):
    station = make_station(online=True, channel_name="test.nobody-listens")
    for key in ("LocalAuthListMaxLength", "SendLocalListMaxLength"):  # read before: the sync sends the list at once
        ConfigurationKey.objects.create(station=station, key=key, value=None, known=False)
    chosen, _ = make_id_tag("ADM-CHOSEN"), make_id_tag("ADM-OTHER")
    response = admin_client.post(reverse("admin:locallists_locallist_add"), {
        "station": station.pk, "selection": "explicit", "id_tags": [chosen.pk], "auto_sync": "on",
        "entries-TOTAL_FORMS": 0, "entries-INITIAL_FORMS": 0, "syncs-TOTAL_FORMS": 0, "syncs-INITIAL_FORMS": 0,
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    local_list = LocalList.objects.get()
    assert list(local_list.id_tags.values_list("id_tag", flat=True)) == ["ADM-CHOSEN"] and local_list.outdated

    admin_client.post(reverse("admin:locallists_locallist_sync", args=[station.pk]))
    call = Call.objects.get(action="SendLocalList")
    assert call.payload == {"listVersion": 1, "updateType": "Full",
                            "localAuthorizationList": [{"idTag": "ADM-CHOSEN", "idTagInfo": {"status": "Accepted"}}]}

    response = admin_client.post(reverse("admin:locallists_locallist_changelist"),
                                 {"action": "read_versions", "_selected_action": [station.pk]}, follow=True)
    assert "GetLocalListVersion #" in response.content.decode()

    LocalListEntry.objects.create(local_list=local_list, id_tag="ADM-HELD", id_tag_info={"status": "Blocked"})
    page = admin_client.get(reverse("admin:locallists_locallist_change", args=[station.pk])).content.decode()
    assert "ADM-HELD" in page and "Sync with the station" in page and "running" in page
    assert admin_client.get(reverse("admin:locallists_locallist_changelist")).status_code == 200
