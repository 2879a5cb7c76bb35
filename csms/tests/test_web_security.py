"""The web side behind the TLS terminator (docs/adr/0122-web-hardening.md): `check --deploy` silent with
CSMS_HTTPS=1, forwarded scheme and address believed only from CSMS_TRUSTED_PROXIES, admin login
guessing locked out per user and address (django-axes), TOTP for staff (django-otp)."""

from __future__ import annotations

import http.client
import os
import re
import secrets
import subprocess
import sys
import time
import uuid

import pytest
import requests
from django.conf import settings

from csms.proxies import proxied_scope
from csms.testing import Node

pytestmark = pytest.mark.django_db(transaction=True)


def test_check_deploy_reports_nothing_behind_tls():
    env = {**os.environ, "CSMS_HTTPS": "1", "DJANGO_SECRET_KEY": secrets.token_urlsafe(60), "DJANGO_DEBUG": "0",
           "CSMS_ALLOWED_HOSTS": "csms.example.com", "CSMS_PUBLIC_URL": "https://csms.example.com"}
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
                            cwd=settings.BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_forwarded_headers_count_only_from_a_trusted_proxy(settings):
    settings.CSMS_TRUSTED_PROXIES = ["10.0.0.0/8"]
    headers = [(b"x-forwarded-for", b"198.51.100.7, 10.1.2.3"), (b"x-forwarded-proto", b"https"),
               (b"x-client-cert", b"-----BEGIN%20CERTIFICATE-----"), (b"x-client-cert-verify", b"SUCCESS"),
               (b"host", b"csms")]
    trusted = proxied_scope({"type": "websocket", "client": ["10.9.9.9", 4000], "scheme": "ws", "headers": headers})
    assert trusted["client"] == ["198.51.100.7", 0] and trusted["scheme"] == "wss"
    assert (b"x-client-cert", b"-----BEGIN%20CERTIFICATE-----") in trusted["headers"]
    stranger = proxied_scope({"type": "http", "client": ["192.0.2.1", 4000], "scheme": "http", "headers": headers})
    assert stranger["client"] == ["192.0.2.1", 4000] and stranger["scheme"] == "http"
    assert stranger["headers"] == [(b"host", b"csms")]
    settings.CSMS_TRUSTED_PROXIES = []
    nobody = proxied_scope({"type": "http", "client": ["10.9.9.9", 4000], "scheme": "http", "headers": headers})
    assert nobody["headers"] == [(b"host", b"csms")]


@pytest.fixture(scope="module")
def https_node(test_database_url):
    started = Node(test_database_url, env={"CSMS_HTTPS": "1", "CSMS_TRUSTED_PROXIES": "127.0.0.1",
                                           "CSMS_ADMIN_OTP": "0", "CSMS_LOGIN_FAILURE_LIMIT": "3"}).start()
    yield started
    started.stop()


def get(node: Node, path: str, *, source: str = "127.0.0.1", headers: dict | None = None) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", node.port, timeout=20, source_address=(source, 0))
    connection.request("GET", path, headers={"Host": "localhost", **(headers or {})})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_behind_tls_plain_http_is_redirected_and_https_gets_hsts(https_node):
    proxied = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    response = get(https_node, "/admin/login/")
    assert response.status == 301 and response.getheader("Location") == "https://localhost/admin/login/"
    response = get(https_node, "/admin/login/", headers=proxied)
    assert response.status == 200
    assert response.getheader("Strict-Transport-Security") == "max-age=31536000; includeSubDomains; preload"
    assert "Secure" in response.getheader("Set-Cookie", "")
    # The same claim from an address that is not a trusted proxy is not believed.
    assert get(https_node, "/admin/login/", source="127.0.0.2", headers=proxied).status == 301
    # What stations fetch over plain HTTP (profiles 0 and 1) is not redirected.
    assert get(https_node, "/firmware/download/0123456789abcdefXYZ/fw.bin").status == 404


class ProxiedBrowser:
    """A browser behind the TLS terminator, talking to the node as the terminator would (plain HTTP,
    X-Forwarded-Proto: https). Its cookies are Secure, so it carries them itself."""

    def __init__(self, base: str):
        self.base = base
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Host": "localhost", "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9",
                   "Referer": "https://localhost/admin/login/",
                   "Cookie": "; ".join(f"{name}={value}" for name, value in self.cookies.items())}
        response = requests.request(method, f"{self.base}{path}", headers=headers, timeout=30, allow_redirects=False,
                                    **kwargs)
        self.cookies.update(response.cookies.get_dict())
        return response

    def login(self, username: str, password: str, **extra) -> requests.Response:
        page = self.request("GET", "/admin/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
        return self.request("POST", "/admin/login/?next=/admin/",
                            data={"csrfmiddlewaretoken": token, "username": username, "password": password, **extra})


def login(base: str, username: str, password: str, **extra) -> requests.Response:
    return ProxiedBrowser(base).login(username, password, **extra)


def test_admin_login_guessing_is_locked_out_per_user_and_address_and_an_admin_unlocks(https_node, django_user_model):
    from axes.models import AccessAttempt

    password = secrets.token_urlsafe(16)
    victim = django_user_model.objects.create_superuser(username=f"victim-{uuid.uuid4().hex[:6]}", password=password)
    other = django_user_model.objects.create_superuser(username=f"other-{uuid.uuid4().hex[:6]}", password=password)
    base = https_node.http
    # CSMS_LOGIN_FAILURE_LIMIT=3: two failures show the form again, the third locks the pair out.
    assert [login(base, victim.username, "a-wrong-guess").status_code for _ in range(3)] == [200, 200, 429]
    assert login(base, victim.username, password).status_code == 429  # locked out, even when right
    assert login(base, other.username, password).status_code == 302  # another user is not
    attempt = AccessAttempt.objects.get(username=victim.username)
    # The address is the browser's, as the trusted terminator forwarded it.
    assert attempt.ip_address == "203.0.113.9" and attempt.failures_since_start >= 3
    assert "a-wrong-guess" not in (attempt.post_data or "")

    admin = ProxiedBrowser(base)
    assert admin.login(other.username, password).status_code == 302
    changelist = admin.request("GET", "/admin/axes/accessattempt/")
    assert changelist.status_code == 200 and victim.username in changelist.text
    attempt.delete()  # what the admin's delete action does: the pair is unlocked
    assert login(base, victim.username, password).status_code == 302


@pytest.fixture(scope="module")
def otp_node(test_database_url):
    started = Node(test_database_url, env={"CSMS_ADMIN_OTP": "1"}).start()
    yield started
    started.stop()


def test_staff_need_a_totp_code_when_required(otp_node, test_database_url, django_user_model):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    password = secrets.token_urlsafe(16)
    user = django_user_model.objects.create_superuser(username=f"otp-{uuid.uuid4().hex[:6]}", password=password)
    base = otp_node.http
    assert login(base, user.username, password).status_code == 200  # no device, no entry

    result = subprocess.run([sys.executable, "manage.py", "add_totp_device", user.username], cwd=settings.BASE_DIR,
                            env={**os.environ, "DATABASE_URL": test_database_url}, capture_output=True, text=True,
                            timeout=60, check=True)
    assert result.stdout.startswith("otpauth://totp/")
    device = TOTPDevice.objects.get(user=user)
    wrong = f"{(totp(device.bin_key) + 500000) % 1000000:06d}"
    assert login(base, user.username, password, otp_device=device.persistent_id,
                 otp_token=wrong).status_code == 200
    time.sleep(1.5)  # django-otp throttles a device for a second after a wrong code
    browser = ProxiedBrowser(base)
    assert browser.login(user.username, password, otp_device=device.persistent_id,
                         otp_token=f"{totp(device.bin_key):06d}").status_code == 302
    assert browser.request("GET", "/admin/").status_code == 200
