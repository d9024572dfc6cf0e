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
