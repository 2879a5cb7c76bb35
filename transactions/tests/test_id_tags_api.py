"""The partner API for id tags: CRUD, defaults and refusals (CONTRACT.md "Id tags")."""

import uuid
from urllib.parse import quote

import pytest

from csms.testing import results

pytestmark = pytest.mark.django_db(transaction=True)


def new_tag() -> str:
    return f"T{uuid.uuid4().hex[:10]}"


def test_create_with_defaults_and_read_back(api):
    id_tag = new_tag()
    response = api.post("/api/v1/id-tags/", json={"id_tag": id_tag})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["id_tag"] == id_tag
    assert body["max_active_transactions"] == 1
    assert body["blocked"] is False
    assert body["expiry_date"] is None
    assert not body["parent_id_tag"]
    assert api.get(f"/api/v1/id-tags/{id_tag}/").json() == body
    assert id_tag in [t["id_tag"] for t in results(api.get("/api/v1/id-tags/"))]


def test_create_with_every_field_then_patch_and_delete(api):
    id_tag = new_tag()
    response = api.post("/api/v1/id-tags/", json={
        "id_tag": id_tag, "parent_id_tag": "FLEET", "expiry_date": "2030-01-01T00:00:00Z", "blocked": True,
        "max_active_transactions": -1})
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["parent_id_tag"], body["blocked"], body["max_active_transactions"]) == ("FLEET", True, -1)
    assert body["expiry_date"].startswith("2030-01-01T00:00:00")

    response = api.patch(f"/api/v1/id-tags/{id_tag}/", json={"blocked": False, "max_active_transactions": 0,
                                                              "expiry_date": None, "parent_id_tag": None})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["blocked"], body["max_active_transactions"], body["expiry_date"]) == (False, 0, None)
    assert not body["parent_id_tag"]

    assert api.delete(f"/api/v1/id-tags/{id_tag}/").status_code == 204
    response = api.get(f"/api/v1/id-tags/{id_tag}/")
    assert response.status_code == 404 and response.json()["detail"]


def test_filter_by_blocked(api):
    blocked, free = new_tag(), new_tag()
    api.post("/api/v1/id-tags/", json={"id_tag": blocked, "blocked": True})
    api.post("/api/v1/id-tags/", json={"id_tag": free})
    listed = [t["id_tag"] for t in results(api.get("/api/v1/id-tags/?blocked=true"))]
    assert blocked in listed and free not in listed


def test_tags_with_odd_characters_work_in_urls(api):
    id_tag = f"A B+{uuid.uuid4().hex[:6]}"
    assert api.post("/api/v1/id-tags/", json={"id_tag": id_tag}).status_code == 201
    assert api.get(f"/api/v1/id-tags/{quote(id_tag)}/").json()["id_tag"] == id_tag


@pytest.mark.parametrize("body", [
    {"id_tag": "T" * 21},
    {"id_tag": ""},
    {"id_tag": "   "},
    {},
    {"id_tag": "OK-TAG", "max_active_transactions": "many"},
    {"id_tag": "OK-TAG", "expiry_date": "tomorrow"},
    {"id_tag": "OK-TAG", "blocked": "perhaps"},
    {"id_tag": "OK-TAG", "parent_id_tag": "P" * 21},
    {"id_tag": "SELF", "parent_id_tag": "SELF"},
])
def test_invalid_input_is_a_400_with_a_reason(api, body):
    response = api.post("/api/v1/id-tags/", json=body)
    assert response.status_code == 400, response.text
    assert isinstance(response.json()["detail"], str) and response.json()["detail"]


def test_duplicates_and_renames_are_refused(api):
    id_tag = new_tag()
    assert api.post("/api/v1/id-tags/", json={"id_tag": id_tag}).status_code == 201
    response = api.post("/api/v1/id-tags/", json={"id_tag": id_tag})
    assert response.status_code == 400 and response.json()["detail"]
    response = api.patch(f"/api/v1/id-tags/{id_tag}/", json={"id_tag": new_tag()})
    assert response.status_code == 400 and response.json()["detail"]
