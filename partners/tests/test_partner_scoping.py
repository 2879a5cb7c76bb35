"""A partner user sees and commands only its own partner's stations and id tags; what it creates belongs
to its partner (CONTRACT.md "Partner REST API")."""

import os
import subprocess
import sys
import uuid

import pytest
from django.conf import settings

from csms.testing import Api, connect_station, db, results

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def partner_api(node, transactional_db):
    """Make an Api for a new user of partner `name` (created when missing)."""
    from partners.services import partner_user_create

    def make(name):
        _, token = partner_user_create(partner_name=name, username=f"{name}-user-{uuid.uuid4().hex[:6]}")
        return Api(node.http, token.key)

    return make


@pytest.fixture
def two_partners(partner_api, make_station, make_id_tag):
    from partners.models import Partner

    alpha, beta = partner_api("alpha"), partner_api("beta")
    partners = {p.name: p for p in Partner.objects.all()}
    stations = {
        "alpha": make_station("ALPHA-CP", partner=partners["alpha"]),
        "beta": make_station("BETA-CP", partner=partners["beta"]),
        "none": make_station("NOBODY-CP"),
    }
    tags = {
        "alpha": make_id_tag("ALPHA-TAG", partner=partners["alpha"]),
        "beta": make_id_tag("BETA-TAG", partner=partners["beta"]),
    }
    return alpha, beta, stations, tags


def test_partner_lists_only_its_own(two_partners, api):
    alpha, beta, stations, tags = two_partners
    assert [s["id"] for s in results(alpha.get("/api/v1/stations/"))] == ["ALPHA-CP"]
    assert [s["id"] for s in results(beta.get("/api/v1/stations/"))] == ["BETA-CP"]
    assert [t["id_tag"] for t in results(alpha.get("/api/v1/id-tags/"))] == ["ALPHA-TAG"]
    # Staff see everything.
    assert {s["id"] for s in results(api.get("/api/v1/stations/"))} == {"ALPHA-CP", "BETA-CP", "NOBODY-CP"}
    assert {t["id_tag"] for t in results(api.get("/api/v1/id-tags/"))} == {"ALPHA-TAG", "BETA-TAG"}


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/api/v1/stations/BETA-CP/", None),
    ("PATCH", "/api/v1/stations/BETA-CP/", {"description": "mine now"}),
    ("DELETE", "/api/v1/stations/BETA-CP/", None),
    ("GET", "/api/v1/stations/BETA-CP/configuration/", None),
    ("POST", "/api/v1/stations/BETA-CP/calls/", {"action": "ClearCache", "payload": {}}),
    ("GET", "/api/v1/stations/NOBODY-CP/", None),
    ("GET", "/api/v1/id-tags/BETA-TAG/", None),
    ("PATCH", "/api/v1/id-tags/BETA-TAG/", {"blocked": True}),
    ("DELETE", "/api/v1/id-tags/BETA-TAG/", None),
])
def test_others_are_404(two_partners, method, path, body):
    from csms.ocpp.models import Call
    from stations.models import ChargeStation
    from transactions.models import IdTag

    alpha, _, _, _ = two_partners
    response = alpha.request(method, path, json=body)
    assert response.status_code == 404, (response.status_code, response.text)
    assert response.json()["detail"]
    beta_station = ChargeStation.objects.get(pk="BETA-CP")
    assert beta_station.description == "" and not Call.objects.exists()
    assert IdTag.objects.get(id_tag="BETA-TAG").blocked is False


def test_created_stations_and_tags_belong_to_the_partner(two_partners, api):
    from stations.models import ChargeStation
    from transactions.models import IdTag

    alpha, beta, _, _ = two_partners
    response = alpha.post("/api/v1/stations/", json={"id": "ALPHA-NEW"})
    assert response.status_code == 201, response.text
    assert response.json()["partner"] == "alpha"
    assert ChargeStation.objects.get(pk="ALPHA-NEW").partner.name == "alpha"
    response = alpha.post("/api/v1/id-tags/", json={"id_tag": "ALPHA-NEW-TAG"})
    assert response.status_code == 201, response.text
    assert IdTag.objects.get(id_tag="ALPHA-NEW-TAG").partner.name == "alpha"

    assert "ALPHA-NEW" in [s["id"] for s in results(alpha.get("/api/v1/stations/"))]
    assert beta.get("/api/v1/stations/ALPHA-NEW/").status_code == 404
    assert beta.get("/api/v1/id-tags/ALPHA-NEW-TAG/").status_code == 404
    # A partner cannot hand its station to another partner.
    response = alpha.patch("/api/v1/stations/ALPHA-NEW/", json={"partner": "beta"})
    assert ChargeStation.objects.get(pk="ALPHA-NEW").partner.name == "alpha"
    # A station created by staff belongs to no partner.
    assert api.post("/api/v1/stations/", json={"id": "STAFF-NEW"}).json()["partner"] is None


def test_partner_cannot_take_an_existing_id_of_another_partner(two_partners):
    from stations.models import ChargeStation

    alpha, _, _, _ = two_partners
    assert alpha.post("/api/v1/stations/", json={"id": "BETA-CP"}).status_code == 400
    assert alpha.post("/api/v1/id-tags/", json={"id_tag": "BETA-TAG"}).status_code == 400
    assert ChargeStation.objects.get(pk="BETA-CP").partner.name == "beta"


async def test_partner_sees_and_commands_only_its_own_transactions_and_calls(node, two_partners):
    alpha, beta, stations, _ = two_partners
    tx_ids = {}
    for name in ("alpha", "beta"):
        async with connect_station(node, stations[name].id, boot=True) as cp:
            tx_ids[name] = (await cp.send("StartTransaction", {"connectorId": 1, "idTag": f"{name.upper()}-TAG",
                                                               "meterStart": 0,
                                                               "timestamp": "2024-05-01T10:00:00Z"}))["transactionId"]
            if name == "alpha":
                call = await db(alpha.call)(stations[name].id, "ClearCache", {})
                assert call["status"] == "completed"
                assert cp.received == [("ClearCache", {})]

    assert [t["id"] for t in results(await db(alpha.get)("/api/v1/transactions/"))] == [tx_ids["alpha"]]
    assert (await db(alpha.get)(f"/api/v1/transactions/{tx_ids['beta']}/")).status_code == 404
    assert (await db(alpha.get)(f"/api/v1/transactions/{tx_ids['beta']}/meter-values/")).status_code == 404
    assert (await db(beta.get)(f"/api/v1/calls/{call['id']}/")).status_code == 404
    assert results(await db(beta.get)("/api/v1/calls/")) == []
    assert [c["id"] for c in results(await db(alpha.get)("/api/v1/calls/"))] == [call["id"]]


def test_user_outside_any_partner_sees_nothing(node, django_user_model, make_station):
    from rest_framework.authtoken.models import Token

    make_station("SOME-CP")
    user = django_user_model.objects.create_user(username=f"loner-{uuid.uuid4().hex[:6]}")
    loner = Api(node.http, Token.objects.create(user=user).key)
    assert results(loner.get("/api/v1/stations/")) == []
    assert loner.get("/api/v1/stations/SOME-CP/").status_code == 404


# --- python manage.py create_partner_user -------------------------------------------------------------


def run_command(test_database_url, *args) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": test_database_url}
    return subprocess.run([sys.executable, "manage.py", "create_partner_user", *args], cwd=settings.BASE_DIR,
                          env=env, capture_output=True, text=True, timeout=60)


def test_create_partner_user_prints_a_working_token(node, test_database_url, make_station, transactional_db):
    from partners.models import Partner

    done = run_command(test_database_url, "gamma", "gamma-ops")
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert len(token) == 40 and token.isalnum()
    assert Partner.objects.filter(name="gamma").exists()

    gamma = Api(node.http, token)
    assert gamma.post("/api/v1/stations/", json={"id": "GAMMA-CP"}).status_code == 201
    assert [s["id"] for s in results(gamma.get("/api/v1/stations/"))] == ["GAMMA-CP"]

    # Again: the same user keeps its token; another user joins the existing partner.
    again = run_command(test_database_url, "gamma", "gamma-ops")
    assert again.returncode == 0 and again.stdout.strip() == token
    second = run_command(test_database_url, "gamma", "gamma-ops-2")
    assert second.returncode == 0 and second.stdout.strip() != token
    assert Partner.objects.filter(name="gamma").count() == 1
    colleague = Api(node.http, second.stdout.strip())
    assert [s["id"] for s in results(colleague.get("/api/v1/stations/"))] == ["GAMMA-CP"]
