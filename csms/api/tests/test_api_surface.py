"""What every API caller meets whatever the endpoint: JSON errors (unknown URLs with any method,
CSRF refusals) and per-token rate limits answering 429 with Retry-After."""

import pytest
import requests
from django.test import RequestFactory

from csms.api.errors import csrf_failure
from csms.testing import Api, Node

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("method", ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("path", ["/api/v1/no-such-thing/", "/api/nothing", "/api/v1/stations", "/api/v2/"])
def test_unknown_api_urls_answer_json_404_whatever_the_method(api, method, path):
    response = api.request(method, path, json={"some": "body"}, allow_redirects=False)
    assert response.status_code == 404, (response.status_code, response.text[:200])
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": "Not found."}


def test_unknown_api_url_without_credentials_or_csrf_token_is_json_too(node):
    # A browser-like client: a cookie, no CSRF token. Django used to answer an HTML CSRF page here.
    response = requests.post(f"{node.http}/api/v1/no-such-thing/", data="x=1", cookies={"csrftoken": "abc"},
                             headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}


def test_a_csrf_refusal_under_api_is_json_and_elsewhere_the_usual_page():
    factory = RequestFactory()
    refused = csrf_failure(factory.post("/api/v1/stations/"), reason="CSRF cookie not set.")
    assert refused.status_code == 403 and refused["Content-Type"] == "application/json"
    assert b"CSRF cookie not set." in refused.content
    page = csrf_failure(factory.post("/admin/login/"), reason="CSRF cookie not set.")
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")


@pytest.fixture(scope="module")
def throttled_node(test_database_url):
    started = Node(test_database_url, env={"CSMS_API_RATE": "5/min"}).start()
    yield started
    started.stop()


def test_each_token_gets_its_rate_then_429_with_retry_after(throttled_node, django_user_model):
    from rest_framework.authtoken.models import Token

    def client(name):
        user = django_user_model.objects.create_user(username=name, is_staff=True)
        return Api(throttled_node.http, Token.objects.create(user=user).key)

    busy, other = client("busy-partner"), client("quiet-partner")
    answers = [busy.get("/api/v1/stations/").status_code for _ in range(5)]
    assert answers == [200] * 5
    refused = busy.get("/api/v1/stations/")
    assert refused.status_code == 429
    assert refused.headers["Content-Type"].startswith("application/json") and "throttled" in refused.json()["detail"]
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert other.get("/api/v1/stations/").status_code == 200  # per token: the others are not slowed


def test_the_rate_limit_lets_requests_through_when_its_counters_are_unreachable(django_user_model, settings):
    from types import SimpleNamespace

    from csms.api.throttling import TokenRateThrottle

    class Unreachable:
        def get(self, *args, **kwargs):
            raise ConnectionError("Redis is away")

    settings.CSMS_API_RATE = "1/min"
    throttle = TokenRateThrottle()
    throttle.cache = Unreachable()
    user = django_user_model.objects.create_user(username="counted-nowhere")
    request = SimpleNamespace(user=user, auth=SimpleNamespace(key="k" * 40))
    assert throttle.allow_request(request, None) and throttle.allow_request(request, None)
