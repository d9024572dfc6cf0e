"""The admin's other pages in headless Chromium: a group's grants edited by keyboard and saved; a custom role
created and its deletion refused while a group grants it; settings saved; a service token and a personal token
created. Every screenshot is also an axe-core check (the `shots` fixture)."""

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from tests.browser.test_console_browser import shots, sign_in, wait_for  # noqa: F401  (shots is a fixture)
from tests.browser.test_console_log_browser import click

pytestmark = pytest.mark.browser


def test_groups_roles_settings_tokens(app, workspace_setup, roster_server, browser, mailbox, shots):
    s, base = workspace_setup, roster_server.url
    ids = [s.scim_client.post("/scim/v2/Users", json={
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email,
        "displayName": email.split("@")[0].title()}).json["id"] for email in ("ada@acme.test", "grace@acme.test")]
    r = s.scim_client.post("/scim/v2/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                                    "displayName": "Engineering",
                                                    "members": [{"value": i} for i in ids]})
    assert r.status_code == 201
    browser.set_window_size(1280, 860)
    sign_in(browser, base, mailbox, "owner@acme.test")
    wait_for(browser, "stat-members")
    ws = f"{base}/console/w/{s.workspace.slug}"

    click(browser, browser.find_element(By.LINK_TEXT, "Roles"))
    wait_for(browser, "roles-table")
    shots(browser, "roles")
    click(browser, browser.find_element(By.ID, "new-role"))
    browser.find_element(By.ID, "role-name").send_keys("Auditor")
    browser.find_element(By.ID, "role-description").send_keys("Reads and exports the provisioning log")
    for box in ("p-audit-read", "p-audit-export", "p-members-read"):
        click(browser, browser.find_element(By.ID, box))
    shots(browser, "role-new")
    click(browser, browser.find_element(By.ID, "save-role"))
    assert wait_for(browser, "notice").text == "Role created."

    click(browser, browser.find_element(By.LINK_TEXT, "Groups"))
    wait_for(browser, "groups-table")
    shots(browser, "groups")
    click(browser, browser.find_element(By.LINK_TEXT, "Engineering"))
    select = wait_for(browser, "role-dev")
    select.send_keys(Keys.NULL)  # keyboard: focus the select, choose with the arrow keys, submit with Enter
    Select(select).select_by_visible_text("Auditor")
    browser.find_element(By.ID, "save-grants").send_keys(Keys.ENTER)
    assert wait_for(browser, "notice").text == "Grants saved."
    assert [r.get_attribute("data-member") for r in browser.find_elements(
        By.CSS_SELECTOR, "#group-members tbody tr")] == ["ada@acme.test", "grace@acme.test"]
    shots(browser, "group")

    browser.get(f"{ws}/roles")
    click(browser, browser.find_element(By.LINK_TEXT, "Auditor"))
    click(browser, wait_for(browser, "delete-role"))
    assert "is in use" in wait_for(browser, "delete-error").text
    shots(browser, "role-in-use")

    click(browser, browser.find_element(By.LINK_TEXT, "Settings"))
    click(browser, wait_for(browser, "s-scim-strict-rfc"))
    field = browser.find_element(By.ID, "s-audit-retention-days")
    field.clear()
    field.send_keys("365")
    click(browser, browser.find_element(By.ID, "save-settings"))
    assert wait_for(browser, "notice").text == "Settings saved."
    assert browser.find_element(By.ID, "s-scim-strict-rfc").is_selected()
    shots(browser, "settings")

    click(browser, browser.find_element(By.LINK_TEXT, "Service tokens"))
    browser.find_element(By.ID, "token-label").send_keys("log-collector")
    click(browser, browser.find_element(By.ID, "scope-audit-read"))
    click(browser, browser.find_element(By.ID, "create-token"))
    assert wait_for(browser, "token-secret").get_attribute("value").startswith("rst_svc_")
    shots(browser, "tokens")

    browser.get(f"{base}/console/tokens")
    browser.find_element(By.ID, "token-label").send_keys("laptop")
    click(browser, browser.find_element(By.ID, "create-token"))
    assert wait_for(browser, "token-secret").get_attribute("value").startswith("rst_pat_")
    shots(browser, "personal-tokens")
