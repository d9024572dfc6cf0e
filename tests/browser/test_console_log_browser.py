"""The auditor's path and the SCIM setup in headless Chromium: the auditor filters the log, follows a member's
history, exports CSV (a real download), and verifies the chain; an admin creates a SCIM token, copies it with the
copy button, and watches the first request from the IdP arrive in the live panel. Every screenshot is also an
axe-core check (the `shots` fixture)."""

import csv
import os
import re
import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from models.db import db
from tests import factories
from tests.browser.test_console_browser import shots, sign_in, wait_for  # noqa: F401  (shots is a fixture)

pytestmark = pytest.mark.browser


def click(browser, element):
    """Click `element` after scrolling it to the middle of the window, clear of the sticky top bar."""
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()


def _scim_user(setup, email, active=True, agent="Okta SCIM Client 1.0.0"):
    r = setup.scim_client.client.post("/scim/v2/Users", headers={
        "Authorization": f"Bearer {setup.scim_token}", "User-Agent": agent, "Content-Type": "application/scim+json"},
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email, "active": active,
              "displayName": email.split("@")[0].title()})
    assert r.status_code in (201, 409), r.json
    return r


def test_auditor_filters_exports_and_verifies(app, workspace_setup, roster_server, browser, mailbox, shots,
                                              tmp_path):
    s, base = workspace_setup, roster_server.url
    with app.app_context(), db.connection_context():
        factories.make_role(s.workspace, "Auditor", ["audit:read", "audit:export"])
        factories.make_member(s.workspace, "auditor@acme.test", {"dev": "Auditor"})
    for email in ("ada@acme.test", "grace@acme.test", "linus@acme.test"):
        _scim_user(s, email)
    _scim_user(s, "ada@acme.test", agent="Microsoft Azure AD SCIM provisioning")  # a refused duplicate
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.set_window_size(1280, 860)
    browser.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})

    sign_in(browser, base, mailbox, "auditor@acme.test")
    wait_for(browser, "events-table")
    assert browser.current_url == f"{base}/console/w/{s.workspace.slug}/log"
    nav = browser.find_element(By.CSS_SELECTOR, ".sidenav").text
    assert "Provisioning log" in nav and "Members" not in nav and "Overview" not in nav
    shots(browser, "log")

    Select(browser.find_element(By.ID, "f-outcome")).select_by_visible_text("Refused")
    browser.find_element(By.ID, "apply-filters").click()
    rows = WebDriverWait(browser, 15).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#events-table tbody tr")
                                            if "outcome=failure" in d.current_url else None)
    assert len(rows) == 1 and "Refused 409" in rows[0].text and "entra" in rows[0].text
    shots(browser, "log-refused")

    browser.get(f"{base}/console/w/{s.workspace.slug}/log")
    browser.find_element(By.CSS_SELECTOR, 'a[title="History of grace@acme.test"]').click()
    assert "grace@acme.test" in wait_for(browser, "history-notice").text
    assert "ada@acme.test" not in browser.find_element(By.ID, "events-table").text
    browser.find_element(By.CSS_SELECTOR, "#events-table tbody tr a").click()
    wait_for(browser, "event-after")
    shots(browser, "log-event")

    browser.get(f"{base}/console/w/{s.workspace.slug}/log")
    browser.find_element(By.ID, "export-button").click()  # CSV is the default
    path = downloads / f"{s.workspace.slug}-events.csv"
    deadline = time.monotonic() + 15
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    table = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    assert {"ada@acme.test", "grace@acme.test", "linus@acme.test"} <= {r["target_name"] for r in table}

    click(browser, browser.find_element(By.LINK_TEXT, "Verify chain"))
    wait_for(browser, "verify-button").click()
    verdict = wait_for(browser, "verdict")
    assert "The chain is intact" in verdict.text and str(len(table)) in verdict.text
    shots(browser, "log-verify")

    for name, shot in (("Operations per day", "log-daily"), ("Deprovisioning times", "log-deprovisioning"),
                       ("Who has access", "log-access")):
        browser.find_element(By.LINK_TEXT, name).click()
        wait_for(browser, "report-table")
        shots(browser, shot)
    assert "auditor@acme.test" in browser.find_element(By.ID, "report-table").text


def test_scim_setup_token_copy_and_first_request(app, workspace_setup, roster_server, browser, mailbox, shots):
    s, base = workspace_setup, roster_server.url
    browser.set_window_size(1280, 860)
    sign_in(browser, base, mailbox, "owner@acme.test")
    wait_for(browser, "stat-members")
    browser.find_element(By.LINK_TEXT, "SCIM setup").click()
    wait_for(browser, "recent-empty")
    assert browser.find_element(By.ID, "base-url").get_attribute("value") == f"{base}/scim/v2"
    browser.find_element(By.ID, "guide-okta").click()
    assert "Provisioning from Okta" in wait_for(browser, "guide").text
    label = browser.find_element(By.ID, "token-label")
    assert label.get_attribute("value") == "okta"
    click(browser, browser.find_element(By.ID, "create-token"))
    secret = wait_for(browser, "token-secret").get_attribute("value")
    assert secret.startswith("rst_svc_")
    click(browser, browser.find_element(By.ID, "copy-token"))
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "copy-token").text == "Copied")
    shots(browser, "scim-token")

    # The IdP's first request arrives while the page is open: the panel refreshes by itself.
    r = s.scim_client.client.post("/scim/v2/Users", headers={
        "Authorization": f"Bearer {secret}", "Content-Type": "application/scim+json"},
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "first@acme.test"})
    assert r.status_code == 201
    WebDriverWait(browser, 15).until(EC.presence_of_element_located((By.CSS_SELECTOR, '[data-idp="okta"]')))
    assert "first@acme.test" in browser.find_element(By.ID, "recent-requests").text
    browser.execute_script("document.getElementById('recent-requests').scrollIntoView()")
    shots(browser, "scim-recent")
    assert re.search(r"user\.created", browser.find_element(By.ID, "recent-requests").text)
    browser.get(f"{base}/console/w/{s.workspace.slug}/scim?idp=entra")
    wait_for(browser, "guide")
    shots(browser, "scim-guide-entra")
