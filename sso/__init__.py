"""SSO: the SAML and OIDC verification engines and the service that stores connections and test runs.

Engines (no database, no HTTP framework): checks (check results), fetch (safe fetching), saml, oidc.
The service (sso.service) validates and stores connections and test runs, in the database and inside
`models.services.mutation`; the HTTP views live in api/sso/.
"""
