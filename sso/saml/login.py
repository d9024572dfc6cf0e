"""The SP side of a SAML sign-in: Roster's SP metadata and the AuthnRequest (HTTP-Redirect binding)."""

import secrets
from datetime import datetime, timezone

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, md, saml, samlp
from saml2.pack import http_redirect_message

from .base import NAMEID_EMAIL, NAMEID_ENTITY, PROTOCOL, MetadataError, SamlError, _iso
from .metadata import parse_metadata

MAX_RELAY_STATE_BYTES = 80


def sp_metadata(sp_entity_id, acs_url, nameid_format=NAMEID_EMAIL):
    """Return SP metadata XML for an SSO connection (entityID, POST ACS URL, NameID format)."""
    descriptor = md.SPSSODescriptor(
        protocol_support_enumeration=PROTOCOL,
        authn_requests_signed="false",
        want_assertions_signed="true",
        name_id_format=[md.NameIDFormat(text=nameid_format)],
        assertion_consumer_service=[
            md.AssertionConsumerService(
                binding=BINDING_HTTP_POST, location=acs_url, index="0", is_default="true"
            )
        ],
    )
    entity = md.EntityDescriptor(entity_id=sp_entity_id, spsso_descriptor=[descriptor])
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + entity.to_string().decode("utf-8")


def new_request_id():
    """Return a fresh AuthnRequest ID (an xs:ID: starts with a letter, 160 random bits)."""
    return "id-" + secrets.token_hex(20)


def start_login(
    idp_metadata_xml,
    sp_entity_id,
    acs_url,
    relay_state,
    *,
    now=None,
):
    """Return (request_id, redirect_url) for an AuthnRequest sent with the HTTP-Redirect binding."""
    if relay_state is not None and len(relay_state.encode("utf-8")) > MAX_RELAY_STATE_BYTES:
        # SAML 2.0 Bindings §3.4.3: RelayState MUST NOT exceed 80 bytes.
        raise SamlError(f"RelayState must be at most {MAX_RELAY_STATE_BYTES} bytes")
    meta = parse_metadata(idp_metadata_xml)
    destination = meta.sso_url(BINDING_HTTP_REDIRECT)
    if destination is None:
        raise MetadataError("The IdP has no HTTP-Redirect SingleSignOnService endpoint")
    request_id = new_request_id()
    request = samlp.AuthnRequest(
        id=request_id,
        version="2.0",
        issue_instant=_iso(now or datetime.now(timezone.utc)),
        destination=destination,
        protocol_binding=BINDING_HTTP_POST,
        assertion_consumer_service_url=acs_url,
        issuer=saml.Issuer(text=sp_entity_id, format=NAMEID_ENTITY),
        name_id_policy=samlp.NameIDPolicy(format=NAMEID_EMAIL, allow_create="true"),
    )
    message = http_redirect_message(request.to_string().decode("utf-8"), destination, relay_state or "")
    location = dict(message["headers"])["Location"]
    return request_id, location
