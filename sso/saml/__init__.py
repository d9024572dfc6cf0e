"""SAML 2.0 engine: IdP metadata checks, SP metadata, AuthnRequests and Response verification.

Pure functions: connection config, pending request ids and consumed response ids come in as
arguments and leave as return values; nothing is kept in process memory. Signatures are checked
by the xmlsec1 binary through pysaml2's xmlsec1 backend, only with the certificates of the
imported metadata, and data is read only from elements the verified signature covers.

Modules: base (names, errors, safe XML, certificates), xmlsec (the xmlsec1 wrapper), metadata (IdP metadata
and its checks), login (SP metadata, AuthnRequest), response and assertion (Response verification).
"""

from .base import (
    NAMEID_EMAIL,
    CertificateInfo,
    MetadataError,
    SamlError,
    XmlsecMissingError,
    certificate_info,
    fingerprint,
    parse_xml,
)
from .login import new_request_id, sp_metadata, start_login
from .metadata import IdpMetadata, check_metadata, parse_metadata
from .response import DEFAULT_CLOCK_SKEW, verify_response
from .xmlsec import xmlsec_available, xmlsec_status

__all__ = [
    "DEFAULT_CLOCK_SKEW",
    "NAMEID_EMAIL",
    "CertificateInfo",
    "IdpMetadata",
    "MetadataError",
    "SamlError",
    "XmlsecMissingError",
    "certificate_info",
    "check_metadata",
    "fingerprint",
    "new_request_id",
    "parse_metadata",
    "parse_xml",
    "sp_metadata",
    "start_login",
    "verify_response",
    "xmlsec_available",
    "xmlsec_status",
]
