"""Browser fixtures: Roster over real HTTP on 127.0.0.1, and headless Debian Chromium driven by Selenium."""

import os
import shutil

import pytest

from idp_fixtures.sso.http import LocalServer

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync")


def _missing_browser():
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            return path
    return None


@pytest.fixture
def roster_server(app, monkeypatch):
    """Serve the app on an ephemeral 127.0.0.1 port with PUBLIC_URL pointing at it."""
    server = LocalServer(app)
    monkeypatch.setitem(app.config, "PUBLIC_URL", server.url)
    server.start()
    yield server
    server.close()


@pytest.fixture
def browser(tmp_path):
    missing = _missing_browser()
    if missing:
        pytest.skip(f"{missing} is not installed (Debian packages chromium and chromium-driver; `make test` "
                    "installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)
