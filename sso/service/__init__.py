"""The SSO service: connections (connections.py) and their test sign-ins (runs.py), with the Site they are
reachable at (site.py). Every write opens its own `models.services.mutation`; views only call these functions.
"""

# Whether SAML responses can be verified here (the xmlsec1 binary), for the start-up log of api/sso.
from sso.saml import xmlsec_available, xmlsec_status

from .connections import (
    Prepared,
    create_connection,
    delete_connection,
    describe,
    find_public_connection,
    get_connection,
    list_connections,
    normalize_domains,
    prepare_connection,
    public_config,
    test_is_current,
    update_connection,
)
from .runs import (
    CONSUMED_ID_TTL,
    RUN_TTL,
    TestStart,
    consumed_ids,
    expire_if_due,
    find_pending_run,
    finish_oidc_test,
    finish_saml_test,
    finish_test,
    actor_key,
    get_test_run,
    may_see_private,
    prepare_oidc_test,
    prepare_saml_test,
    prepare_test,
    start_test,
    verify_oidc_answer,
    verify_saml_answer,
)
from .site import Site, hash_state

__all__ = [
    "CONSUMED_ID_TTL",
    "RUN_TTL",
    "Prepared",
    "Site",
    "TestStart",
    "consumed_ids",
    "create_connection",
    "delete_connection",
    "describe",
    "expire_if_due",
    "find_pending_run",
    "find_public_connection",
    "finish_oidc_test",
    "finish_saml_test",
    "finish_test",
    "get_connection",
    "actor_key",
    "get_test_run",
    "may_see_private",
    "hash_state",
    "list_connections",
    "normalize_domains",
    "prepare_connection",
    "prepare_oidc_test",
    "prepare_saml_test",
    "prepare_test",
    "public_config",
    "start_test",
    "test_is_current",
    "update_connection",
    "verify_oidc_answer",
    "verify_saml_answer",
    "xmlsec_available",
    "xmlsec_status",
]
