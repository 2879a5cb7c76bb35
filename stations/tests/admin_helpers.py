"""Driving the Django admin over HTTP, as an operator's browser does, against a running node.

The Django test client runs views in the test process, whose in-memory channel layer cannot reach
the node holding the station's socket; an admin action that sends a Call must therefore go through
the node's own HTTP server.
"""

from __future__ import annotations

import html
import re
import secrets
import uuid

import pytest
import requests

MESSAGE = re.compile(r'<li class="(success|info|warning|error|debug)">(.*?)</li>', re.S)
TAG = re.compile(r"<[^>]+>")


def page_messages(page: str) -> list[tuple[str, str]]:
    """The admin messages on a page as (level, text without markup)."""
    block = page.split('<ul class="messagelist">', 1)
    if len(block) < 2:
        return []
    block = block[1].split("</ul>", 1)[0]
    return [(level, html.unescape(TAG.sub("", text)).strip()) for level, text in MESSAGE.findall(block)]


class AdminSession:
    """A logged-in admin user's browser: GETs pages and POSTs action forms with the CSRF token."""

    def __init__(self, base_url: str, username: str, password: str):
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.http = requests.Session()

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    @property
    def csrf_token(self) -> str:
        return self.http.cookies["csrftoken"]

    def login(self) -> AdminSession:
        self.http.get(self.url("/admin/login/"), timeout=30).raise_for_status()
        response = self.http.post(
            self.url("/admin/login/?next=/admin/"),
            data={"username": self.username, "password": self.password, "next": "/admin/",
                  "csrfmiddlewaretoken": self.csrf_token},
            timeout=30,
        )
        assert response.status_code == 200 and response.url.endswith("/admin/"), (response.status_code, response.url)
        assert "sessionid" in self.http.cookies
        return self

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.http.get(self.url(path), **kwargs)

    def post(self, path: str, data: dict, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.http.post(self.url(path), data={**data, "csrfmiddlewaretoken": self.csrf_token}, **kwargs)

    def action(self, changelist: str, action: str, selected: list, *, apply: bool = True, **fields) -> requests.Response:
        """POST an admin action; with `apply`, the intermediate page's fields are submitted at once."""
        data = {"action": action, "_selected_action": [str(pk) for pk in selected], **fields}
        if apply:
            data["apply"] = "1"
        return self.post(changelist, data)


@pytest.fixture
def admin_session(node, transactional_db, django_user_model) -> AdminSession:
    """A superuser logged in to the node's admin over HTTP; `.user` is that user."""
    password = secrets.token_urlsafe(16)
    user = django_user_model.objects.create_superuser(username=f"operator-{uuid.uuid4().hex[:8]}", password=password,
                                                      email="")
    session = AdminSession(node.http, user.username, password).login()
    session.user = user
    return session
