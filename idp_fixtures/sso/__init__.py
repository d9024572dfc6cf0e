"""Test IdPs for the SSO engines: a pysaml2 SAML IdP and an OpenID provider, both runnable on 127.0.0.1."""

from .keys import SigningKey, make_signing_key
from .metadata import SHAPES, render_metadata
from .oidc_provider import TOKEN_ATTACKS, OidcProvider
from .saml_idp import ATTACKS, WRAPPING_ATTACKS, SamlIdp, SamlIdpServer

__all__ = [
    "ATTACKS",
    "SHAPES",
    "TOKEN_ATTACKS",
    "WRAPPING_ATTACKS",
    "OidcProvider",
    "SamlIdp",
    "SamlIdpServer",
    "SigningKey",
    "make_signing_key",
    "render_metadata",
]
