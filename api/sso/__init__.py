"""SSO verification engines: SAML and OIDC checks with no database and no routes."""
