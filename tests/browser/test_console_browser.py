"""The console's main path in headless Chromium: sign in by the emailed code, invite someone, open the mailed
link, accept, and find the new member listed; a Readonly member sees no write controls. Screenshots of every
page (each also checked with axe-core) go to $CONSOLE_SCREENSHOTS (default: the test's temporary folder) to be looked at."""

import os
import re

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser.pages import assert_accessible

pytestmark = pytest.mark.browser


@pytest.fixture
def shots(tmp_path):
    folder = os.environ.get("CONSOLE_SCREENSHOTS") or str(tmp_path)
    os.makedirs(folder, exist_ok=True)

    def take(browser, name):
        """Screenshot the page, and check it with axe-core: no serious or critical violation."""
        browser.set_window_size(1280, 860)
        browser.save_screenshot(os.path.join(folder, f"{name}.png"))
        assert_accessible(browser, name)
    return take


def wait_for(browser, element_id):
    return WebDriverWait(browser, 15).until(EC.presence_of_element_located((By.ID, element_id)))


def sign_in(browser, base, mailbox, email, shots=None):
    browser.get(f"{base}/console/")
    field = wait_for(browser, "email")
    if shots:
        shots(browser, "signin")
    field.send_keys(email)
    browser.find_element(By.ID, "send-code").click()
    code_field = wait_for(browser, "code")
    body = mailbox.last_to(email)["body"]
    code = re.search(r"code is\s+(\d{8})", body).group(1)
    if shots:
        shots(browser, "code")
    code_field.send_keys(code)
    browser.find_element(By.ID, "verify-code").click()


def test_sign_in_invite_accept_listed(app, workspace_setup, roster_server, browser, mailbox, shots):
    s, base = workspace_setup, roster_server.url
    sign_in(browser, base, mailbox, "owner@acme.test", shots)
    wait_for(browser, "stat-members")
    assert browser.current_url == f"{base}/console/w/{s.workspace.slug}/"
    shots(browser, "overview")

    browser.find_element(By.ID, "invite-button").click()
    wait_for(browser, "invite-form")
    browser.find_element(By.ID, "email").send_keys("not-an-email")
    browser.find_element(By.ID, "send-invitation").click()
    error = wait_for(browser, "email-error")
    assert "valid email" in error.text
    assert browser.find_element(By.ID, "email").get_attribute("value") == "not-an-email"
    shots(browser, "invite-error")
    field = browser.find_element(By.ID, "email")
    field.clear()
    field.send_keys("new.person@example.test")
    browser.find_element(By.ID, "name").send_keys("New Person")
    Select(browser.find_element(By.ID, "role-dev")).select_by_visible_text("Member")
    browser.find_element(By.ID, "send-invitation").click()
    assert "Invitation sent to new.person@example.test" in wait_for(browser, "invited-notice").text
    shots(browser, "members-pending")

    mail = mailbox.last_to("new.person@example.test")
    assert "curl" not in mail["body"] and "POST" not in mail["body"]
    link = re.search(r"(http\S+/invitations/accept\?token=\S+)", mail["body"]).group(1)
    browser.delete_all_cookies()  # the invitee's own browser
    browser.get(link)
    assert wait_for(browser, "invitation-workspace").text == "Acme"
    assert browser.find_element(By.ID, "invitation-inviter").text == "owner@acme.test"
    assert "Member" in browser.find_element(By.ID, "invitation-roles").text
    shots(browser, "invitation")
    browser.find_element(By.ID, "accept").click()
    assert "Welcome to Acme" in wait_for(browser, "welcome").text
    browser.get(f"{base}/console/w/{s.workspace.slug}/members")
    rows = browser.find_elements(By.CSS_SELECTOR, "#members-table tbody tr")
    assert {r.get_attribute("data-member") for r in rows} == {"owner@acme.test", "new.person@example.test"}
    assert browser.find_elements(By.ID, "invite-button") == []  # a Member may not invite

    browser.get(link)  # the link worked once
    assert "already accepted" in wait_for(browser, "invitation-state-title").text


def test_owner_pages_look_right(app, workspace_setup, roster_server, browser, mailbox, shots):
    """Members list and a member page with history, for the screenshots."""
    s, base = workspace_setup, roster_server.url
    for i, (email, status) in enumerate([("ada@acme.test", "active"), ("grace@acme.test", "active"),
                                         ("linus@acme.test", "suspended")]):
        r = s.scim_client.post("/scim/v2/Users", json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email,
            "displayName": email.split("@")[0].title(), "active": status == "active",
            "emails": [{"value": email, "primary": True}], "roles": [{"value": "Member", "type": "dev"}]})
        assert r.status_code == 201, r.json
    sign_in(browser, base, mailbox, "owner@acme.test")
    wait_for(browser, "stat-members")
    shots(browser, "overview-activity")
    browser.get(f"{base}/console/w/{s.workspace.slug}/members")
    wait_for(browser, "members-table")
    shots(browser, "members")
    browser.find_element(By.CSS_SELECTOR, 'tr[data-member="ada@acme.test"] a').click()
    wait_for(browser, "member-history")
    shots(browser, "member")
