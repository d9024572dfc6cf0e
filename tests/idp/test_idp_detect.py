"""scim/idp.py: which IdP sent a request, from the User-Agent, the token label or the workspace default."""

import pytest

from scim.idp import detect_idp, idp_from_label, idp_from_user_agent


@pytest.mark.parametrize("user_agent, expected", [
    ("Okta SCIM Client 1.0.0", "okta"),
    ("okta scim client 2.3.1", "okta"),
    ("Microsoft Azure AD SCIM provisioning", "entra"),
    ("Microsoft Azure AD SCIM provisioning 1.2.3", "entra"),
    ("Microsoft.AAD.Provisioning/1.0", "entra"),
    ("OneLogin-SCIM/1.0", "onelogin"),
    ("JumpCloud SCIM", "jumpcloud"),
    ("PingOne Provisioning", "pingone"),
    ("Rippling-SCIM-Client", "rippling"),
    ("Apache-HttpClient/4.5.13 (Java/11.0.20)", None),
    ("python-requests/2.31.0", None),
    ("", None),
    (None, None),
])
def test_idp_from_user_agent(user_agent, expected):
    assert idp_from_user_agent(user_agent) == expected


@pytest.mark.parametrize("label, expected", [
    ("entra", "entra"),
    ("Entra ID prod", "entra"),
    ("Azure AD", "entra"),
    ("aad-provisioning", "entra"),
    ("okta-scim", "okta"),
    ("OneLogin", "onelogin"),
    ("JumpCloud SCIM", "jumpcloud"),
    ("Ping Identity", "pingone"),
    ("pingfederate", "pingone"),
    ("Rippling", "rippling"),
    ("Google Workspace", "google"),
    ("production provisioning", None),
    ("workspace", None),
    ("", None),
    (None, None),
])
def test_idp_from_label(label, expected):
    assert idp_from_label(label) == expected


def test_user_agent_wins_over_label_and_setting():
    assert detect_idp("Okta SCIM Client 1.0.0", "entra", "jumpcloud") == "okta"


def test_label_wins_over_setting():
    assert detect_idp("python-requests/2.31.0", "OneLogin prod", "okta") == "onelogin"


def test_setting_is_the_fallback_canonical_when_known():
    assert detect_idp(None, "directory sync", "Google Workspace") == "google"


def test_unknown_setting_is_kept_as_typed_trimmed_and_bounded():
    assert detect_idp(None, None, "  Keycloak  ") == "keycloak"
    assert len(detect_idp(None, None, "x" * 100)) == 40


def test_nothing_known_is_none():
    assert detect_idp(None, "test", "") is None
    assert detect_idp(None, None, "   ") is None
