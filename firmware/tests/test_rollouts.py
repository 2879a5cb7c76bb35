"""Firmware rollouts over simulated stations on real sockets: waves that wait for each station to come
back with the new version, halt on failures, resume after a fix and catch offline stations up; then
the engine's rules in process (timeouts, pause, cancel, the plan)."""

import asyncio
import contextlib
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from alerts.models import Alert
from csms.testing import db, eventually, results
from firmware.models import FirmwareRollout, FirmwareUpdateTarget, RolloutStation

pytestmark = pytest.mark.django_db(transaction=True)

ROLLOUTS = "/api/v1/firmware-rollouts/"


def behave(cp, *, version: str, succeed: bool) -> None:
    """How the station goes through an UpdateFirmware: it answers, downloads, and either reboots into
    `version` and reports Installed, or reports DownloadFailed."""

    async def script():
        await cp.send("FirmwareStatusNotification", {"status": "Downloading"})
        if not succeed:
            await cp.send("FirmwareStatusNotification", {"status": "DownloadFailed"})
            return
        for status in ("Downloaded", "Installing"):
            await cp.send("FirmwareStatusNotification", {"status": status})
        await cp.boot(firmwareVersion=version)  # OCPP 1.6 §5.19: the reboot comes before Installed
        await cp.send("FirmwareStatusNotification", {"status": "Installed"})

    running = set()

    def answer(payload):
        loop = asyncio.get_running_loop()  # the script starts once the answer is on its way
        loop.call_later(0.05, lambda: running.add(loop.create_task(script())))
        return {}

    cp.answers["UpdateFirmware"] = answer


async def progress(api, rollout_id: int) -> dict:
    response = await db(api.get)(f"{ROLLOUTS}{rollout_id}/")
    assert response.status_code == 200, response.text
    return response.json()


async def outcomes(api, rollout_id: int, **params) -> dict[str, str]:
    response = await db(api.get)(f"{ROLLOUTS}{rollout_id}/stations/", params=params)
    assert response.status_code == 200, response.text
    return {row["station"]: row["outcome"] for row in results(response)}


async def test_a_rollout_halts_on_a_failing_wave_and_resumes_after_a_fix(node, api, make_station, make_firmware):
    from csms.testing import connect_station

    firmware = await db(make_firmware)(b"image 2.0", "acme-2.0.bin", version="2.0", vendor="ACME")
    ids = [f"RO-{uuid.uuid4().hex[:6]}-{n}" for n in range(6)]
    for station_id in ids:
        await db(make_station)(station_id)
    second, third, late = ids[1:3], ids[3:5], ids[5]  # ids[0] is the canary
    async with contextlib.AsyncExitStack() as stack:
        cps = {}
        for station_id in ids[:5]:  # the last one stays offline for now
            cp = await stack.enter_async_context(connect_station(node, station_id))
            await cp.boot(vendor="ACME", firmwareVersion="1.0")
            behave(cp, version="2.0", succeed=station_id not in second)
            cps[station_id] = cp

        response = await db(api.post)(ROLLOUTS, json={
            "firmware": firmware.id, "stations": ids, "canary": 1, "growth_factor": 2,
            "failure_threshold_percent": 40, "wave_timeout_minutes": 30, "name": "ACME 2.0"})
        assert response.status_code == 201, response.text
        body = response.json()
        rollout_id = body["id"]
        assert (body["state"], body["current_wave"], body["version"]) == ("running", 1, "2.0")
        assert [wave["size"] for wave in body["progress"]["waves"]] == [1, 2, 3]

        # The canary succeeds: back online with 2.0, then the second wave goes, fails, and halts it all.
        await eventually(lambda: FirmwareRollout.objects.get(pk=rollout_id).state == "halted", timeout=30)
        shown = await progress(api, rollout_id)
        assert "wave 2: 2 of 2 stations failed" in shown["detail"]
        waves = shown["progress"]["waves"]
        assert [wave["state"] for wave in waves] == ["passed", "failed", "planned"]
        assert waves[0]["counts"]["succeeded"] == 1 and waves[1]["counts"]["failed"] == 2
        assert shown["progress"]["counts"]["planned"] == 3
        assert await outcomes(api, rollout_id, wave=3) == dict.fromkeys([*third, late], "planned")
        # The remaining stations are untouched: nothing sent, nothing to send.
        for station_id in third:
            assert "UpdateFirmware" not in [action for action, _ in cps[station_id].received]
        assert not await db(FirmwareUpdateTarget.objects.filter(station_id__in=[*third, late]).exists)()
        halted = await db(Alert.objects.get)(kind="firmware_rollout_halted", resolved_at__isnull=True)
        assert f"#{rollout_id}" in halted.message
        assert await db(Alert.objects.filter(kind="firmware_update_failed", station_id__in=second).count)() == 2

        # The fix: the failing stations now install; the operator retries them, then resumes.
        for station_id in second:
            behave(cps[station_id], version="2.0", succeed=True)
        response = await db(api.post)(f"{ROLLOUTS}{rollout_id}/retry-failed/")
        assert response.status_code == 200, response.text
        await eventually(lambda: set(RolloutStation.objects.filter(rollout_id=rollout_id, station_id__in=second)
                                     .values_list("outcome", flat=True)) == {"succeeded"}, timeout=20)
        response = await db(api.post)(f"{ROLLOUTS}{rollout_id}/resume/")
        assert response.status_code == 200 and response.json()["state"] == "running", response.text
        assert await db(Alert.objects.filter(kind="firmware_rollout_halted", resolved_at__isnull=True).count)() == 0

        # Wave 3 goes; its offline station does not hold it up and is caught up when it connects.
        await eventually(lambda: FirmwareRollout.objects.get(pk=rollout_id).state == "completed", timeout=30)
        assert (await outcomes(api, rollout_id, wave=3))[late] == "waiting"
        cp = await stack.enter_async_context(connect_station(node, late))
        behave(cp, version="2.0", succeed=True)
        await cp.boot(vendor="ACME", firmwareVersion="1.0")
        await eventually(lambda: RolloutStation.objects.get(rollout_id=rollout_id, station_id=late).outcome
                         == "succeeded", timeout=20)

    shown = await progress(api, rollout_id)
    assert shown["progress"]["counts"]["succeeded"] == 6 and shown["progress"]["done_percent"] == 100.0
    assert [wave["state"] for wave in shown["progress"]["waves"]] == ["passed", "accepted", "passed"]
    # Each station's firmware history, from its boots.
    history = await db(api.get)(f"/api/v1/stations/{late}/firmware-versions/")
    assert [row["version"] for row in history.json()] == ["2.0", "1.0"]


# --- The engine's rules, in process (stations "connected" to a channel nobody reads) -------------------------


@pytest.fixture
def fleet(make_station):
    def make(count: int, online: bool = True, **fields):
        extra = {"online": True, "channel_name": "test-channel-not-listening"} if online else {}
        return [make_station(firmware_version="1.0", **extra, **fields) for _ in range(count)]

    return make


def create(firmware, stations, **options):
    from firmware.services.rollouts import firmware_rollout_create
    from stations.models import ChargeStation

    return firmware_rollout_create(firmware=firmware, candidates=ChargeStation.objects.all(),
                                   station_ids=[station.pk for station in stations], base_url="http://csms.test",
                                   **options)


def advance(rollout, after_minutes: float = 0):
    """Run the engine as if `after_minutes` had passed since the current wave started."""
    from firmware.models import RolloutWave
    from firmware.services.rollouts import firmware_rollout_advance

    if after_minutes:
        RolloutWave.objects.filter(rollout=rollout, number=rollout.current_wave).update(
            started_at=timezone.now() - timedelta(minutes=after_minutes))
    return firmware_rollout_advance(rollout_id=rollout.pk)


def test_a_wave_without_outcome_in_time_fails(fleet, make_firmware):
    firmware = make_firmware(version="2.0")
    rollout = create(firmware, fleet(3), canary=1, wave_timeout_minutes=60, failure_threshold_percent=50)
    assert dict(RolloutStation.objects.filter(rollout=rollout).values_list("outcome", "wave__number")) == {
        "updating": 1, "planned": 2}
    assert advance(rollout, after_minutes=30).state == "running"  # still within its time
    rollout = advance(rollout, after_minutes=61)
    assert rollout.state == "halted" and "1 of 1 stations failed" in rollout.detail
    entry = RolloutStation.objects.get(rollout=rollout, wave__number=1)
    assert entry.outcome == "failed" and "no outcome within 60 minutes" in entry.detail
    # A report arriving late does not bring a timed-out station back to "updating".
    FirmwareUpdateTarget.objects.filter(pk=entry.target_id).update(state="in_progress", status="Downloading")
    advance(rollout)
    assert RolloutStation.objects.get(pk=entry.pk).outcome == "failed"


def test_a_wave_nobody_could_be_reached_in_halts_when_its_time_is_up(fleet, make_firmware):
    rollout = create(make_firmware(version="2.0"), fleet(2, online=False), canary=1, wave_timeout_minutes=10)
    assert RolloutStation.objects.get(rollout=rollout, wave__number=1).outcome == "waiting"
    assert advance(rollout, after_minutes=5).state == "running"
    rollout = advance(rollout, after_minutes=11)
    assert rollout.state == "halted" and "no station could be reached" in rollout.detail
    # Halting takes back what was not sent: the offline station will not get it when it connects.
    entry = RolloutStation.objects.get(rollout=rollout, wave__number=1)
    assert entry.outcome == "planned" and entry.target is None
    assert FirmwareUpdateTarget.objects.get(update__rollout=rollout).state == "cancelled"


def test_pause_holds_back_resume_sends_cancel_stops(fleet, make_firmware):
    from firmware.services import rollouts

    offline, online = fleet(1, online=False), fleet(1)
    rollout = create(make_firmware(version="2.0"), offline + online, canary=2)
    assert set(RolloutStation.objects.filter(rollout=rollout).values_list("outcome", flat=True)) == {"waiting", "updating"}
    rollouts.firmware_rollout_pause(rollout=rollout)
    assert RolloutStation.objects.get(rollout=rollout, station=offline[0]).outcome == "planned"
    assert RolloutStation.objects.get(rollout=rollout, station=online[0]).outcome == "updating"
    with pytest.raises(Exception, match="only a running rollout"):
        rollouts.firmware_rollout_pause(rollout=rollout)
    rollout = rollouts.firmware_rollout_resume(rollout=rollout)
    entry = RolloutStation.objects.get(rollout=rollout, station=offline[0])
    assert rollout.state == "running" and entry.outcome == "waiting" and entry.target.state == "waiting"
    rollout = rollouts.firmware_rollout_cancel(rollout=rollout)
    assert rollout.state == "cancelled"
    assert RolloutStation.objects.get(rollout=rollout, station=offline[0]).outcome == "cancelled"
    # What the online station received goes on being followed.
    assert RolloutStation.objects.get(rollout=rollout, station=online[0]).outcome == "updating"
    assert FirmwareUpdateTarget.objects.get(pk=entry.target_id).state == "cancelled"
    with pytest.raises(Exception, match="cancelled"):
        rollouts.firmware_rollout_retry_failed(rollout=rollout)


def test_stations_are_chosen_by_vendor_model_version_and_partner(make_station, make_firmware):
    from firmware.services.rollouts import firmware_rollout_plan, rollout_wave_sizes
    from partners.models import Partner
    from stations.models import ChargeStation

    partner = Partner.objects.create(name=f"RO {uuid.uuid4().hex[:6]}")
    firmware = make_firmware(version="5.0")
    tag = uuid.uuid4().hex[:6]
    wanted = [make_station(vendor="ACME", model=f"M{tag}", firmware_version="4.0", partner=partner) for _ in range(3)]
    make_station(vendor="ACME", model=f"M{tag}", firmware_version="3.0", partner=partner)  # another version
    make_station(vendor="Other", model=f"M{tag}", firmware_version="4.0", partner=partner)  # another vendor
    current = make_station(vendor="ACME", model=f"M{tag}", firmware_version="5.0", partner=partner)
    plan = firmware_rollout_plan(firmware=firmware, candidates=ChargeStation.objects.all(), vendor="acme",
                                 model=f"M{tag}", firmware_versions=["4.0", "5.0"], partner=partner, canary_percent=50)
    assert {s.pk for s in plan.to_update} == {s.pk for s in wanted} and current in plan.stations
    assert plan.wave_sizes == [2, 1]
    assert rollout_wave_sizes(20, canary=1) == [1, 2, 4, 8, 5]
    assert rollout_wave_sizes(10, canary_percent=10, wave_sizes=[3, 2]) == [1, 3, 2, 2, 2]


@pytest.mark.parametrize(("body", "reason"), [
    ({}, "choose the stations"),
    ({"stations": ["NOPE-RO"]}, "NOPE-RO"),
    ({"canary": 1, "canary_percent": 10}, "not both"),
    ({"growth_factor": 0.5}, "growth_factor"),
    ({"failure_threshold_percent": 150}, "failure_threshold_percent"),
    ({"firmware": 999999}, "no firmware"),
])
def test_bad_rollouts_are_refused_and_nothing_is_sent(api, make_station, make_firmware, body, reason):
    station = make_station(firmware_version="1.0")
    firmware = make_firmware(version="2.0")
    payload = {"firmware": firmware.id, **({"stations": [station.pk]} if body else {}), **body}
    response = api.post(ROLLOUTS, json=payload)
    assert response.status_code == 400 and reason in response.json()["detail"], response.text
    assert not FirmwareRollout.objects.exists() and not FirmwareUpdateTarget.objects.exists()


def test_a_rollout_needs_a_firmware_with_a_version_and_a_station_to_update(api, make_station, make_firmware):
    station = make_station(firmware_version="2.0")
    response = api.post(ROLLOUTS, json={"firmware": make_firmware(version="").id, "stations": [station.pk]})
    assert response.status_code == 400 and "version" in response.json()["detail"]
    response = api.post(ROLLOUTS, json={"firmware": make_firmware(version="2.0").id, "stations": [station.pk]})
    assert response.status_code == 400 and "already run" in response.json()["detail"]


def test_partners_see_their_own_rollouts_and_pick_only_their_stations(partner_api, make_station, make_firmware, api):
    partner_a, api_a = partner_api(f"RO A {uuid.uuid4().hex[:4]}")
    partner_b, api_b = partner_api(f"RO B {uuid.uuid4().hex[:4]}")
    mine = make_station(partner=partner_a, firmware_version="1.0")
    theirs = make_station(partner=partner_b, firmware_version="1.0")
    firmware = make_firmware(version="2.0")
    response = api_a.post(ROLLOUTS, json={"firmware": firmware.id, "stations": [theirs.pk]})
    assert response.status_code == 400 and theirs.pk in response.json()["detail"]
    assert api_a.post(ROLLOUTS, json={"firmware": firmware.id, "partner": partner_b.name}).status_code == 400
    created = api_a.post(ROLLOUTS, json={"firmware": firmware.id, "stations": [mine.pk]})
    assert created.status_code == 201, created.text
    rollout_id = created.json()["id"]
    assert api_b.get(f"{ROLLOUTS}{rollout_id}/").status_code == 404
    assert api_b.post(f"{ROLLOUTS}{rollout_id}/pause/").status_code == 404
    assert api_a.post(f"{ROLLOUTS}{rollout_id}/pause/").json()["state"] == "paused"
    assert api_a.post(f"{ROLLOUTS}{rollout_id}/pause/").status_code == 409
    assert [row["id"] for row in results(api.get(ROLLOUTS))] == [rollout_id]
