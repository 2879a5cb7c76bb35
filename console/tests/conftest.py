"""A real headless Chromium (Debian's chromium + chromium-driver, driven by Selenium) logged in to a
node's admin, with every host but this machine unreachable: what a page needs must come from the CSMS."""

from __future__ import annotations

import os
import shutil

import pytest


def chromedriver_path() -> str | None:
    return shutil.which("chromedriver") or next(
        (path for path in ("/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver") if os.path.exists(path)), None)


@pytest.fixture
def browser(node, admin_session):
    driver_path = chromedriver_path()
    if driver_path is None:
        if os.environ.get("CI"):
            pytest.fail("CI needs chromium and chromium-driver (.ci/run installs them)")
        pytest.skip("chromium-driver is not installed (apt-get install chromium chromium-driver)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-dev-shm-usage", "--window-size=1400,1000",
                     # Offline: any host but this machine fails to resolve (no CDN can serve a page).
                     "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    driver.set_page_load_timeout(60)
    try:
        # The operator's session, as the login form made it.
        driver.get(f"{node.http}/admin/login/")
        driver.add_cookie({"name": "sessionid", "value": admin_session.http.cookies["sessionid"], "path": "/"})
        driver.base_url = node.http
        yield driver
    finally:
        driver.quit()
