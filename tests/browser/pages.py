"""Browser helpers shared by the browser tests: filling in the test IdPs' login page."""

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait


def sign_in(driver, url, email):
    """Open a test IdP's login page (SAML or OIDC), enter the email and submit it."""
    driver.get(url)
    field = WebDriverWait(driver, 15).until(EC.presence_of_element_located((By.ID, "email")))
    field.clear()
    field.send_keys(email)
    driver.find_element(By.ID, "sign-in").click()


# Autocomplete values the HTML standard allows (WHATWG HTML, "Autofill") that the axe-core 3.1 packaged with
# axe-selenium-python does not know: "on" and "off" (later axe-core skips them) and "one-time-code" (added in 2018).
AXE_31_UNKNOWN_AUTOCOMPLETE = ('autocomplete="off"', 'autocomplete="on"', 'autocomplete="one-time-code"')


def _outdated_rule(rule, node):
    """Tell a finding of the packaged axe-core 3.1 that the HTML standard has since made valid."""
    return rule == "autocomplete-valid" and any(v in node.get("html", "") for v in AXE_31_UNKNOWN_AUTOCOMPLETE)


def assert_accessible(driver, page_name):
    """Run axe-core (shipped inside axe-selenium-python, no download) on the page; fail on a serious or
    critical violation, naming the rule and the elements."""
    from axe_selenium_python import Axe
    axe = Axe(driver)
    axe.inject()
    results = axe.run(options="{resultTypes: ['violations']}")
    bad = []
    for violation in results["violations"]:
        nodes = [n for n in violation["nodes"] if not _outdated_rule(violation["id"], n)]
        if violation.get("impact") in ("serious", "critical") and nodes:
            bad.append(dict(violation, nodes=nodes))
    assert not bad, f"{page_name}: " + "; ".join(
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:5]}" for v in bad)
    return results["violations"]
