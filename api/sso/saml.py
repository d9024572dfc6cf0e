"""SAML 2.0 engine: IdP metadata checks, SP metadata, AuthnRequests and Response verification.

Pure functions: connection config, pending request ids and consumed response ids come in as
arguments and leave as return values; nothing is kept in process memory. Signatures are checked
by the xmlsec1 binary through pysaml2's xmlsec1 backend, only with the certificates of the
imported metadata, and data is read only from elements the verified signature covers.
"""

import base64
import binascii
import functools
import hashlib
import os
import re
import secrets
import shutil
import tempfile
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit

import defusedxml.ElementTree as SafeET
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from defusedxml import DefusedXmlException
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, md, saml, samlp
from saml2.pack import http_redirect_message
from saml2.sigver import CryptoBackendXmlSec1, SignatureError, XmlsecError

from .checks import FAIL, INFO, PASS, WARN, Check, check_email_domain

NS_MD = "urn:oasis:names:tc:SAML:2.0:metadata"
NS_SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
NS_SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
NS_DS = "http://www.w3.org/2000/09/xmldsig#"
PROTOCOL = NS_SAMLP

NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
NAMEID_UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
NAMEID_ENTITY = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
CM_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"

TRANSFORM_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
C14N_METHODS = (
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    "http://www.w3.org/2006/12/xml-c14n11",
    "http://www.w3.org/2006/12/xml-c14n11#WithComments",
)
SHA1_ALGORITHMS = (
    "http://www.w3.org/2000/09/xmldsig#rsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1",
    "http://www.w3.org/2000/09/xmldsig#sha1",
)

DEFAULT_CLOCK_SKEW = timedelta(seconds=120)
MAX_CLOCK_SKEW = timedelta(minutes=5)
MAX_ASSERTION_AGE = timedelta(minutes=10)
CERT_EXPIRY_WARNING = timedelta(days=30)
MAX_XML_BYTES = 1024 * 1024
MAX_RELAY_STATE_BYTES = 80

EMAIL_ATTRIBUTES = (
    "email",
    "mail",
    "emailaddress",
    "e-mail",
    "user.email",
    "useremail",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
    "urn:oid:0.9.2342.19200300.100.1.3",
)
GIVEN_NAME_ATTRIBUTES = (
    "givenname",
    "firstname",
    "first_name",
    "user.firstname",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
    "urn:oid:2.5.4.42",
)
FAMILY_NAME_ATTRIBUTES = (
    "surname",
    "sn",
    "lastname",
    "last_name",
    "familyname",
    "user.lastname",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
    "urn:oid:2.5.4.4",
)
DISPLAY_NAME_ATTRIBUTES = (
    "displayname",
    "name",
    "cn",
    "http://schemas.microsoft.com/identity/claims/displayname",
    "urn:oid:2.16.840.1.113730.3.1.241",
)
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


def _q(ns, name):
    return f"{{{ns}}}{name}"


class SamlError(Exception):
    """A SAML input could not be used; the message is meant for the admin."""


class MetadataError(SamlError):
    """IdP metadata is unusable: not XML, unsafe XML, or missing what a sign-in needs."""


class XmlsecMissingError(SamlError):
    """The xmlsec1 binary is not installed or not runnable."""


# xmlsec1


def _find_xmlsec1():
    configured = os.environ.get("XMLSEC1_BINARY")
    candidates = [configured] if configured else []
    candidates += [
        shutil.which("xmlsec1"),
        "/usr/bin/xmlsec1",
        "/usr/local/bin/xmlsec1",
        "/opt/homebrew/bin/xmlsec1",
    ]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


XMLSEC1_MISSING = (
    "xmlsec1 not found: SAML sign-in tests cannot verify signatures. Install it "
    "(Debian/Ubuntu: apt-get install xmlsec1; macOS: brew install libxmlsec1) "
    "or set XMLSEC1_BINARY to its path."
)
XMLSEC1_FIX = "Install xmlsec1 on every Roster server (Debian/Ubuntu: apt-get install xmlsec1)."


class _XmlSec1(CryptoBackendXmlSec1):
    """pysaml2's xmlsec1 backend, asking the binary for its version once instead of twice per check."""

    @functools.cached_property
    def version(self):
        """Return the xmlsec1 version (one `xmlsec1 --version` run per backend)."""
        return super().version


@functools.lru_cache(maxsize=1)
def _backend():
    binary = _find_xmlsec1()
    if binary is None:
        raise XmlsecMissingError(XMLSEC1_MISSING)
    return _XmlSec1(binary)


def xmlsec_available():
    """Return True when the xmlsec1 binary that verifies SAML signatures can be run."""
    try:
        return bool(_backend().version_nums)
    except (SamlError, OSError, ValueError):
        return False


def xmlsec_status():
    """Return a one-line start-up message saying whether and where xmlsec1 was found."""
    binary = _find_xmlsec1()
    if binary is None:
        return XMLSEC1_MISSING
    backend = _backend()
    if backend.xmlsec != binary:
        backend = _XmlSec1(binary)
    try:
        version = backend.version
    except OSError as exc:
        return f"xmlsec1 at {backend.xmlsec} cannot be run: {exc}"
    return f"xmlsec1 {version} found at {backend.xmlsec}"


# XML


def parse_xml(data, what="XML", error=SamlError):
    """Parse XML safely (no DTD, no entities, no external references) or raise `error`."""
    if isinstance(data, str):
        data = _DECLARATION.sub("", data.lstrip("\ufeff"), count=1).strip()
        size = len(data.encode("utf-8"))
    else:
        data = data.lstrip(b"\xef\xbb\xbf").strip()
        size = len(data)
    if not data:
        raise error(f"{what} is empty")
    if size > MAX_XML_BYTES:
        raise error(f"{what} is larger than {MAX_XML_BYTES} bytes")
    try:
        return SafeET.fromstring(data, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise error(
            f"{what} contains a DOCTYPE, entity declaration or external reference, which Roster refuses "
            f"(it is how XXE and entity-expansion attacks work): {exc}"
        ) from exc
    except SafeET.ParseError as exc:
        raise error(f"{what} is not well-formed XML: {exc}") from exc


def _text(element):
    if element is None:
        return None
    return "".join(element.itertext()).strip()


def _parse_instant(value):
    if not value:
        return None
    value = value.strip()
    match = re.match(r"^(.*T\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)?$", value)
    if not match:
        raise ValueError(f"not an xs:dateTime: {value!r}")
    base, fraction, zone = match.groups()
    text = base + (fraction[:7] if fraction else "") + ("+00:00" if zone in (None, "Z") else zone)
    try:
        return datetime.fromisoformat(text).astimezone(timezone.utc)
    except OverflowError as exc:  # 0001-01-01T00:00:00+05:00 lies before the first representable UTC time
        raise ValueError(f"not a representable xs:dateTime: {value!r}") from exc


def _iso(moment):
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# Certificates


@dataclass(frozen=True)
class CertificateInfo:
    """A signing certificate from metadata or a response, with what an admin needs to compare it."""

    pem: str
    subject: str
    issuer: str
    sha256: str
    not_before: datetime
    not_after: datetime
    key_description: str

    def to_dict(self):
        """Return the certificate facts (without the PEM) as a JSON-ready dict."""
        return {
            "subject": self.subject,
            "issuer": self.issuer,
            "sha256": self.sha256,
            "not_before": _iso(self.not_before),
            "not_after": _iso(self.not_after),
            "key": self.key_description,
        }


def fingerprint(der):
    """Return the colon-separated upper-case SHA-256 fingerprint of DER bytes."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(textwrap.wrap(digest, 2))


def certificate_info(b64_text):
    """Return CertificateInfo for the base64 body of an X509Certificate element, or raise SamlError."""
    compact = re.sub(r"\s+", "", b64_text or "")
    compact = compact.replace("-----BEGINCERTIFICATE-----", "").replace("-----ENDCERTIFICATE-----", "")
    try:
        der = base64.b64decode(compact, validate=True)
        cert = x509.load_der_x509_certificate(der)
    except (binascii.Error, ValueError) as exc:
        raise SamlError(f"certificate is not a valid base64 DER X.509 certificate: {exc}") from exc
    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        key_description = f"RSA {key.key_size} bits"
    elif isinstance(key, ec.EllipticCurvePublicKey):
        key_description = f"EC {key.curve.name}"
    else:
        key_description = type(key).__name__
    body = "\n".join(textwrap.wrap(compact, 64))
    return CertificateInfo(
        pem=f"-----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n",
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        sha256=fingerprint(der),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        key_description=key_description,
    )


# Metadata


@dataclass
class IdpMetadata:
    """What Roster needs from IdP metadata."""

    entity_id: str
    sso_services: list = field(default_factory=list)
    signing_certificates: list = field(default_factory=list)
    nameid_formats: list = field(default_factory=list)
    certificate_errors: list = field(default_factory=list)
    valid_until: datetime = None
    signed: bool = False
    signature_methods: list = field(default_factory=list)
    digest_methods: list = field(default_factory=list)

    def sso_url(self, binding=BINDING_HTTP_REDIRECT):
        """Return the first SSO endpoint for a binding, or None."""
        for service_binding, location in self.sso_services:
            if service_binding == binding:
                return location
        return None


def _idp_entity(root):
    if root.tag == _q(NS_MD, "EntityDescriptor"):
        return root
    if root.tag == _q(NS_MD, "EntitiesDescriptor"):
        idps = [
            e
            for e in root.iter(_q(NS_MD, "EntityDescriptor"))
            if e.find(_q(NS_MD, "IDPSSODescriptor")) is not None
        ]
        if len(idps) == 1:
            return idps[0]
        if not idps:
            raise MetadataError(
                "The metadata lists entities but none is an identity provider (no IDPSSODescriptor)"
            )
        raise MetadataError(
            f"The metadata describes {len(idps)} identity providers; import the one for this app only"
        )
    raise MetadataError(f"Expected an md:EntityDescriptor as the root element, found {root.tag}")


def _read_metadata(xml_text):
    root = parse_xml(xml_text, "The metadata", MetadataError)
    entity = _idp_entity(root)
    idp = entity.find(_q(NS_MD, "IDPSSODescriptor"))
    if idp is None:
        if entity.find(_q(NS_MD, "SPSSODescriptor")) is not None:
            raise MetadataError(
                "This is service provider metadata (SPSSODescriptor); import the IdP's metadata"
            )
        raise MetadataError("The metadata has no IDPSSODescriptor: it does not describe an identity provider")
    meta = IdpMetadata(entity_id=(entity.get("entityID") or "").strip())
    if PROTOCOL not in (idp.get("protocolSupportEnumeration") or "").split():
        meta.certificate_errors.append(
            ("protocol", "IDPSSODescriptor does not list SAML 2.0 in protocolSupportEnumeration")
        )
    for service in idp.findall(_q(NS_MD, "SingleSignOnService")):
        meta.sso_services.append(
            ((service.get("Binding") or "").strip(), (service.get("Location") or "").strip())
        )
    for descriptor in idp.findall(_q(NS_MD, "KeyDescriptor")):
        if descriptor.get("use") not in (None, "", "signing"):
            continue
        for cert_element in descriptor.iter(_q(NS_DS, "X509Certificate")):
            try:
                info = certificate_info(cert_element.text)
            except SamlError as exc:
                meta.certificate_errors.append(("certificate", str(exc)))
                continue
            if info.sha256 not in [c.sha256 for c in meta.signing_certificates]:
                meta.signing_certificates.append(info)
    meta.nameid_formats = [_text(e) for e in idp.findall(_q(NS_MD, "NameIDFormat")) if _text(e)]
    for holder in (entity, root):
        valid_until = holder.get("validUntil")
        if valid_until:
            try:
                meta.valid_until = _parse_instant(valid_until)
            except ValueError:
                meta.certificate_errors.append(("valid_until", f"validUntil is not a date: {valid_until}"))
            break
    for holder in (root, entity):
        signature = holder.find(_q(NS_DS, "Signature"))
        if signature is not None:
            meta.signed = True
            meta.signature_methods += [
                m.get("Algorithm") for m in signature.iter(_q(NS_DS, "SignatureMethod"))
            ]
            meta.digest_methods += [m.get("Algorithm") for m in signature.iter(_q(NS_DS, "DigestMethod"))]
    return meta, root


def parse_metadata(xml_text):
    """Parse IdP metadata XML (as pasted, declaration included) into IdpMetadata or raise MetadataError."""
    meta, _ = _read_metadata(xml_text)
    if not meta.entity_id:
        raise MetadataError("The EntityDescriptor has no entityID")
    if not meta.sso_services:
        raise MetadataError("The IdP metadata lists no SingleSignOnService endpoint")
    if not meta.signing_certificates:
        problems = "; ".join(message for _, message in meta.certificate_errors)
        raise MetadataError(
            "The IdP metadata has no usable signing certificate" + (f": {problems}" if problems else "")
        )
    return meta


def check_metadata(xml_text, now=None):
    """Return the static checks of IdP metadata: entityID, endpoints, certificates, NameID, algorithms."""
    now = now or datetime.now(timezone.utc)
    stage = "metadata"
    try:
        meta, root = _read_metadata(xml_text)
    except MetadataError as exc:
        return [
            Check(
                "saml.metadata.xml",
                stage,
                FAIL,
                str(exc),
                fix="Download the metadata XML from the IdP's app settings and paste it unchanged.",
            )
        ]
    checks = [
        Check(
            "saml.metadata.xml",
            stage,
            PASS,
            "The metadata is well-formed XML and describes an identity provider",
        )
    ]
    if meta.entity_id:
        checks.append(
            Check(
                "saml.metadata.entity_id",
                stage,
                PASS,
                f"IdP entityID is {meta.entity_id}",
                detail={"entity_id": meta.entity_id},
            )
        )
    else:
        checks.append(
            Check(
                "saml.metadata.entity_id",
                stage,
                FAIL,
                "The EntityDescriptor has no entityID",
                fix="Use the metadata the IdP publishes; it always carries an entityID.",
            )
        )
    for kind, message in meta.certificate_errors:
        if kind == "protocol":
            checks.append(
                Check(
                    "saml.metadata.protocol",
                    stage,
                    FAIL,
                    message,
                    fix="Roster speaks SAML 2.0 only; configure the IdP app for SAML 2.0.",
                )
            )
        elif kind == "valid_until":
            checks.append(Check("saml.metadata.valid_until", stage, WARN, message))
    if meta.valid_until is not None:
        if meta.valid_until <= now:
            checks.append(
                Check(
                    "saml.metadata.valid_until",
                    stage,
                    FAIL,
                    f"The metadata expired on {_iso(meta.valid_until)} (validUntil)",
                    fix="Download fresh metadata from the IdP.",
                )
            )
        else:
            checks.append(
                Check(
                    "saml.metadata.valid_until",
                    stage,
                    INFO,
                    f"The metadata is valid until {_iso(meta.valid_until)}",
                )
            )
    checks += _check_endpoints(meta, stage)
    checks += _check_certificates(meta, now, stage)
    checks += _check_nameid_formats(meta, stage)
    checks += _check_metadata_signature(meta, root, xml_text, stage)
    return checks


def _check_endpoints(meta, stage):
    checks = []
    if not meta.sso_services:
        return [
            Check(
                "saml.metadata.sso_endpoints",
                stage,
                FAIL,
                "The IdP lists no SingleSignOnService endpoint",
                fix="Export the metadata of the SAML app itself, not of the IdP organisation.",
            )
        ]
    bindings = sorted({b.rsplit(":", 1)[-1] for b, _ in meta.sso_services})
    checks.append(
        Check(
            "saml.metadata.sso_endpoints",
            stage,
            PASS,
            f"SingleSignOnService endpoints for {', '.join(bindings)}",
            detail={"endpoints": [{"binding": b, "location": loc} for b, loc in meta.sso_services]},
        )
    )
    redirect = meta.sso_url(BINDING_HTTP_REDIRECT)
    if redirect:
        checks.append(
            Check(
                "saml.metadata.redirect_binding",
                stage,
                PASS,
                f"Roster will send the AuthnRequest with HTTP-Redirect to {redirect}",
            )
        )
    else:
        checks.append(
            Check(
                "saml.metadata.redirect_binding",
                stage,
                FAIL,
                "The IdP has no HTTP-Redirect SingleSignOnService endpoint; Roster sends AuthnRequests "
                "with the HTTP-Redirect binding",
                fix="Enable the HTTP-Redirect binding for SSO in the IdP and export the metadata again.",
            )
        )
    for binding, location in meta.sso_services:
        parts = urlsplit(location)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            checks.append(
                Check(
                    "saml.metadata.sso_endpoint_url",
                    stage,
                    FAIL,
                    f"SingleSignOnService Location is not an http(s) URL: {location!r}",
                )
            )
        elif parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
            checks.append(
                Check(
                    "saml.metadata.sso_endpoint_url",
                    stage,
                    WARN,
                    f"SingleSignOnService Location uses plain http: {location}",
                    fix="Use the IdP's https endpoint.",
                )
            )
    return checks


def _check_certificates(meta, now, stage):
    checks = []
    for kind, message in meta.certificate_errors:
        if kind == "certificate":
            checks.append(
                Check(
                    "saml.metadata.certificate",
                    stage,
                    FAIL,
                    f"A signing certificate is unusable: {message}",
                    fix="Export the metadata again; certificates must be base64 DER.",
                )
            )
    if not meta.signing_certificates:
        checks.append(
            Check(
                "saml.metadata.certificate",
                stage,
                FAIL,
                "The metadata has no signing certificate, so no response could be verified",
                fix="Export metadata that includes the IdP's signing certificate "
                '(KeyDescriptor use="signing").',
            )
        )
        return checks
    for cert in meta.signing_certificates:
        checks.append(
            Check(
                "saml.metadata.certificate",
                stage,
                INFO,
                f"Signing certificate {cert.subject}, SHA-256 {cert.sha256}, expires {_iso(cert.not_after)}",
                detail=cert.to_dict(),
            )
        )
        if cert.not_after <= now:
            checks.append(
                Check(
                    "saml.metadata.certificate_expiry",
                    stage,
                    FAIL,
                    f"The signing certificate {cert.subject} expired on {_iso(cert.not_after)}",
                    fix="Rotate the signing certificate in the IdP, then import its new metadata.",
                    detail=cert.to_dict(),
                )
            )
        elif cert.not_before > now:
            checks.append(
                Check(
                    "saml.metadata.certificate_expiry",
                    stage,
                    FAIL,
                    f"The signing certificate {cert.subject} is not valid before {_iso(cert.not_before)}",
                    fix="Check the IdP's clock or wait until the certificate becomes valid.",
                    detail=cert.to_dict(),
                )
            )
        elif cert.not_after - now <= CERT_EXPIRY_WARNING:
            days = (cert.not_after - now).days
            checks.append(
                Check(
                    "saml.metadata.certificate_expiry",
                    stage,
                    WARN,
                    f"The signing certificate {cert.subject} expires in {days} day(s), "
                    f"on {_iso(cert.not_after)}",
                    fix="Add the IdP's next certificate and re-import the metadata before it expires.",
                    detail=cert.to_dict(),
                )
            )
        else:
            checks.append(
                Check(
                    "saml.metadata.certificate_expiry",
                    stage,
                    PASS,
                    f"The signing certificate is valid until {_iso(cert.not_after)}",
                    detail=cert.to_dict(),
                )
            )
        if cert.key_description.startswith("RSA ") and int(cert.key_description.split()[1]) < 2048:
            checks.append(
                Check(
                    "saml.metadata.certificate_key",
                    stage,
                    WARN,
                    f"The signing key is weak ({cert.key_description})",
                    fix="Use an RSA key of at least 2048 bits.",
                    detail=cert.to_dict(),
                )
            )
    return checks


def _check_nameid_formats(meta, stage):
    formats = meta.nameid_formats
    if not formats:
        return [
            Check(
                "saml.metadata.nameid_formats",
                stage,
                INFO,
                f"The IdP lists no NameID format; Roster asks for {NAMEID_EMAIL}",
            )
        ]
    if NAMEID_EMAIL in formats or NAMEID_UNSPECIFIED in formats:
        return [
            Check(
                "saml.metadata.nameid_formats",
                stage,
                PASS,
                f"NameID formats: {', '.join(formats)}",
                detail={"formats": formats},
            )
        ]
    return [
        Check(
            "saml.metadata.nameid_formats",
            stage,
            WARN,
            f"The IdP does not offer the emailAddress NameID format ({', '.join(formats)}); "
            "the email must come "
            "from an attribute",
            fix="Send the email as NameID (emailAddress) or as an 'email' attribute.",
            detail={"formats": formats},
        )
    ]


def _check_metadata_signature(meta, root, xml_text, stage):
    if not meta.signed:
        return [
            Check(
                "saml.metadata.signature",
                stage,
                INFO,
                "The metadata is not signed; Roster trusts it as imported",
            )
        ]
    checks = []
    weak = [a for a in meta.signature_methods + meta.digest_methods if a in SHA1_ALGORITHMS]
    if weak:
        checks.append(
            Check(
                "saml.metadata.signature_algorithm",
                stage,
                WARN,
                f"The metadata is signed with SHA-1 ({', '.join(sorted(set(weak)))})",
                fix="Configure the IdP to sign with RSA-SHA256 and a SHA-256 digest.",
                detail={"algorithms": sorted(set(weak))},
            )
        )
    holder = root if root.find(_q(NS_DS, "Signature")) is not None else _idp_entity(root)
    node_name = f"{NS_MD}:{holder.tag.split('}', 1)[1]}"
    data = xml_text.encode("utf-8") if isinstance(xml_text, str) else xml_text
    data = _DECLARATION.sub("", data.decode("utf-8-sig")).strip().encode("utf-8")
    try:
        verified = bool(holder.get("ID")) and _verify_with_any(
            data, meta.signing_certificates, node_name, holder.get("ID")
        )
    except XmlsecMissingError as exc:
        return checks + [Check("saml.metadata.signature", stage, WARN, str(exc), fix=XMLSEC1_FIX)]
    if verified:
        checks.append(
            Check(
                "saml.metadata.signature",
                stage,
                PASS,
                "The metadata signature verifies with the IdP's own signing certificate",
            )
        )
    else:
        checks.append(
            Check(
                "saml.metadata.signature",
                stage,
                WARN,
                "The metadata is signed but the signature does not verify with its signing certificate; "
                "it may have been edited after signing",
                fix="Import the metadata exactly as the IdP publishes it.",
            )
        )
    return checks


# SP side


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


# Response verification


def _verify(data, cert, node_name, node_id):
    with tempfile.NamedTemporaryFile("w", suffix=".pem", delete=False) as handle:
        handle.write(cert.pem)
        path = handle.name
    try:
        return bool(_backend().validate_signature(data, path, "pem", node_name, node_id))
    except (SignatureError, XmlsecError):
        return False
    finally:
        os.unlink(path)


def _verify_with_any(data, certs, node_name, node_id):
    return any(_verify(data, cert, node_name, node_id) for cert in certs)


def _signature_shape_problem(signature, element):
    """Return why an enveloped signature does not cover exactly `element`, or None."""
    element_id = element.get("ID")
    if not element_id:
        return "the signed element has no ID"
    first = next(element.iter(_q(NS_DS, "Signature")))
    if first is not signature:
        return "another signature precedes the element's own signature"
    signed_info = signature.find(_q(NS_DS, "SignedInfo"))
    if signed_info is None:
        return "the signature has no SignedInfo"
    c14n = signed_info.find(_q(NS_DS, "CanonicalizationMethod"))
    if c14n is None or c14n.get("Algorithm") not in C14N_METHODS:
        return "the signature uses an unexpected canonicalization method"
    references = signed_info.findall(_q(NS_DS, "Reference"))
    if len(references) != 1:
        return f"the signature has {len(references)} references instead of exactly one"
    if references[0].get("URI") != f"#{element_id}":
        return (
            f"the signature references {references[0].get('URI')!r}, not the element that carries it "
            f"(#{element_id})"
        )
    transforms = [t.get("Algorithm") for t in references[0].iter(_q(NS_DS, "Transform"))]
    if TRANSFORM_ENVELOPED not in transforms or any(
        t not in (TRANSFORM_ENVELOPED,) + C14N_METHODS for t in transforms
    ):
        return (
            f"the signature uses transforms Roster does not allow: {', '.join(t or '?' for t in transforms)}"
        )
    return None


def _embedded_certificate(signature):
    element = signature.find(f".//{_q(NS_DS, 'X509Certificate')}")
    if element is None or not (element.text or "").strip():
        return None
    try:
        return certificate_info(element.text)
    except SamlError:
        return None


def _attributes(assertion):
    attributes = {}
    for statement in assertion.findall(_q(NS_SAML, "AttributeStatement")):
        for attribute in statement.findall(_q(NS_SAML, "Attribute")):
            name = attribute.get("Name") or ""
            values = [_text(v) for v in attribute.findall(_q(NS_SAML, "AttributeValue"))]
            attributes.setdefault(name, []).extend(v for v in values if v is not None)
            friendly = attribute.get("FriendlyName")
            if friendly and friendly != name:
                attributes.setdefault(friendly, []).extend(v for v in values if v is not None)
    return attributes


def _first_attribute(attributes, names):
    lowered = {key.lower(): values for key, values in attributes.items()}
    for name in names:
        for value in lowered.get(name, []):
            if value:
                return value
    return None


def _extract_profile(assertion):
    name_id = assertion.find(f"{_q(NS_SAML, 'Subject')}/{_q(NS_SAML, 'NameID')}")
    attributes = _attributes(assertion)
    authn = assertion.find(_q(NS_SAML, "AuthnStatement"))
    return {
        "name_id": _text(name_id),
        "name_id_format": name_id.get("Format") if name_id is not None else None,
        "email": None,
        "given_name": _first_attribute(attributes, GIVEN_NAME_ATTRIBUTES),
        "family_name": _first_attribute(attributes, FAMILY_NAME_ATTRIBUTES),
        "display_name": _first_attribute(attributes, DISPLAY_NAME_ATTRIBUTES),
        "session_index": authn.get("SessionIndex") if authn is not None else None,
        "attributes": attributes,
    }


def _skew(max_clock_skew):
    skew = max_clock_skew if isinstance(max_clock_skew, timedelta) else timedelta(seconds=max_clock_skew)
    if skew < timedelta(0) or skew > MAX_CLOCK_SKEW:
        raise ValueError(
            f"max_clock_skew must be between 0 and {int(MAX_CLOCK_SKEW.total_seconds())} seconds"
        )
    return skew


def _decode_response(saml_response_b64):
    if isinstance(saml_response_b64, str):
        saml_response_b64 = saml_response_b64.encode("ascii", errors="replace")
    compact = re.sub(rb"\s+", b"", saml_response_b64 or b"")
    if not compact:
        raise SamlError("The SAMLResponse parameter is empty")
    if len(compact) > MAX_XML_BYTES * 4 // 3 + 4:
        raise SamlError(f"The SAMLResponse is larger than {MAX_XML_BYTES} bytes")
    try:
        return base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SamlError(f"The SAMLResponse is not valid base64: {exc}") from exc


def verify_response(
    saml_response_b64,
    *,
    idp_metadata_xml,
    sp_entity_id,
    acs_url,
    expected_request_id,
    allowed_domains,
    now=None,
    max_clock_skew=DEFAULT_CLOCK_SKEW,
    consumed_ids=(),
):
    """Verify a base64 SAML Response posted to the ACS; return (checks, profile, ids)."""
    skew = _skew(max_clock_skew)
    now = now or datetime.now(timezone.utc)
    verifier = _ResponseVerifier(
        idp_metadata_xml, sp_entity_id, acs_url, expected_request_id, allowed_domains, now, skew, consumed_ids
    )
    verifier.run(saml_response_b64)
    return verifier.checks, verifier.profile, verifier.ids


class _Stop(Exception):
    pass


class _ResponseVerifier:
    def __init__(
        self,
        idp_metadata_xml,
        sp_entity_id,
        acs_url,
        expected_request_id,
        allowed_domains,
        now,
        skew,
        consumed_ids,
    ):
        self.idp_metadata_xml = idp_metadata_xml
        self.sp_entity_id = sp_entity_id
        self.acs_url = acs_url
        self.expected_request_id = expected_request_id
        self.allowed_domains = allowed_domains
        self.now = now
        self.skew = skew
        self.consumed_ids = set(consumed_ids or ())
        self.checks = []
        self.profile = {}
        self.ids = {"response_id": None, "assertion_id": None}
        self.verified = False

    def add(self, check_id, stage, status, message, fix=None, detail=None):
        self.checks.append(Check(check_id, stage, status, message, fix=fix, detail=detail))

    def stop(self, check_id, stage, message, fix=None, detail=None):
        self.add(check_id, stage, FAIL, message, fix=fix, detail=detail)
        raise _Stop()

    def run(self, saml_response_b64):
        try:
            self._run(saml_response_b64)
        except _Stop:
            if not self.verified:
                self.profile = {}
        except XmlsecMissingError as exc:
            self.add("saml.xmlsec", "signature", FAIL, str(exc), fix=XMLSEC1_FIX)
            self.profile = {}

    def _run(self, saml_response_b64):
        try:
            meta = parse_metadata(self.idp_metadata_xml)
        except MetadataError as exc:
            self.stop(
                "saml.metadata.xml",
                "metadata",
                f"The connection's IdP metadata is unusable: {exc}",
                fix="Import the IdP metadata again.",
            )
        try:
            data = _decode_response(saml_response_b64)
            root = parse_xml(data, "The SAML response")
        except SamlError as exc:
            self.stop("saml.response.xml", "response", str(exc))
        self.add(
            "saml.response.xml", "response", PASS, "The response is well-formed XML with no DTD or entities"
        )
        if root.tag != _q(NS_SAMLP, "Response"):
            self.stop(
                "saml.response.structure", "response", f"Expected a samlp:Response, received {root.tag}"
            )
        self.ids["response_id"] = root.get("ID")
        self._check_status(root)
        assertion = self._check_structure(root)
        self.ids["assertion_id"] = assertion.get("ID")
        response_signed = self._check_signatures(data, root, assertion, meta)
        self.verified = True
        self.profile = _extract_profile(assertion)
        # After the signature holds, every check runs so the admin sees all problems at once.
        steps = (
            self._check_replay,
            lambda: self._check_issuers(root, assertion, meta),
            lambda: self._check_destination(root, response_signed),
            lambda: self._check_subject_confirmation(root, assertion, response_signed),
            lambda: self._check_conditions(assertion),
            lambda: self._check_authn_statement(assertion),
            self._check_profile,
        )
        for step in steps:
            try:
                step()
            except _Stop:
                continue

    def _check_status(self, root):
        status = root.find(_q(NS_SAMLP, "Status"))
        codes = (
            [c.get("Value") for c in status.iter(_q(NS_SAMLP, "StatusCode"))] if status is not None else []
        )
        if codes and codes[0] == STATUS_SUCCESS:
            self.add("saml.response.status", "response", PASS, "The IdP reports success")
            return
        message = _text(status.find(_q(NS_SAMLP, "StatusMessage"))) if status is not None else None
        readable = " / ".join(c.rsplit(":", 1)[-1] for c in codes if c) or "no status"
        self.stop(
            "saml.response.status",
            "response",
            f"The IdP answered with an error: {readable}" + (f" ({message})" if message else ""),
            fix="Check in the IdP that the user is assigned to the app and the NameID format is allowed.",
            detail={"status_codes": codes, "status_message": message},
        )

    def _check_structure(self, root):
        stage = "response"
        fix = "The response was altered (signature wrapping?) or the IdP is misconfigured; do not trust it."
        encrypted = list(root.iter(_q(NS_SAML, "EncryptedAssertion")))
        if encrypted:
            self.stop(
                "saml.response.structure",
                stage,
                "The assertion is encrypted; Roster's SP metadata offers " "no encryption key",
                fix="Turn off assertion encryption for this app in the IdP.",
            )
        assertions = list(root.iter(_q(NS_SAML, "Assertion")))
        if len(assertions) != 1:
            self.stop(
                "saml.response.structure",
                stage,
                f"The response must carry exactly one assertion, it carries {len(assertions)}",
                fix=fix,
            )
        assertion = assertions[0]
        if assertion not in list(root):
            self.stop(
                "saml.response.structure",
                stage,
                "The assertion is not a direct child of the response",
                fix=fix,
            )
        seen = {}
        for element in root.iter():
            element_id = element.get("ID")
            if element_id is None:
                continue
            if element_id in seen:
                self.stop(
                    "saml.response.structure", stage, f"Two elements share the ID {element_id!r}", fix=fix
                )
            seen[element_id] = element
        for element in (root, assertion):
            if not element.get("ID"):
                self.stop(
                    "saml.response.structure", stage, f"The {element.tag.split('}')[-1]} has no ID", fix=fix
                )
        allowed_parents = (root, assertion)
        for parent in root.iter():
            for child in parent:
                if child.tag == _q(NS_DS, "Signature") and parent not in allowed_parents:
                    self.stop(
                        "saml.response.structure",
                        stage,
                        f"A signature sits inside {parent.tag.split('}')[-1]}, where SAML never puts one",
                        fix=fix,
                    )
        self.add(
            "saml.response.structure", stage, PASS, "The response has one assertion and no duplicated IDs"
        )
        return assertion

    def _check_signatures(self, data, root, assertion, meta):
        stage = "signature"
        signed = {}
        for element, node_name, label in (
            (root, f"{NS_SAMLP}:Response", "response"),
            (assertion, f"{NS_SAML}:Assertion", "assertion"),
        ):
            signature = element.find(_q(NS_DS, "Signature"))
            if signature is None:
                continue
            problem = _signature_shape_problem(signature, element)
            if problem:
                self.stop(
                    "saml.response.signature",
                    stage,
                    f"The {label} signature is not usable: {problem}",
                    fix="The response has been altered (signature wrapping?); do not trust it.",
                )
            if not _verify_with_any(data, meta.signing_certificates, node_name, element.get("ID")):
                self._signature_failed(data, label, signature, node_name, element.get("ID"), meta)
            signed[label] = signature
        if not signed:
            self.stop(
                "saml.response.signature",
                stage,
                "Neither the response nor the assertion is signed",
                fix="Configure the IdP to sign the assertion (or the response) with its signing certificate.",
            )
        covered = " and ".join(signed)
        self.add(
            "saml.response.signature",
            stage,
            PASS,
            f"The {covered} signature verifies with the IdP's metadata certificate",
            detail={"signed": list(signed)},
        )
        algorithms = set()
        for signature in signed.values():
            algorithms |= {m.get("Algorithm") for m in signature.iter(_q(NS_DS, "SignatureMethod"))}
            algorithms |= {m.get("Algorithm") for m in signature.iter(_q(NS_DS, "DigestMethod"))}
        weak = sorted(a for a in algorithms if a in SHA1_ALGORITHMS)
        if weak:
            self.add(
                "saml.response.signature_algorithm",
                stage,
                WARN,
                f"The IdP signs with SHA-1 ({', '.join(weak)})",
                fix="Set the IdP's signature algorithm to RSA-SHA256 and digest to SHA-256.",
                detail={"algorithms": weak},
            )
        else:
            self.add(
                "saml.response.signature_algorithm",
                stage,
                PASS,
                f"Signature algorithms: {', '.join(sorted(a.rsplit('#', 1)[-1] for a in algorithms if a))}",
            )
        return "response" in signed

    def _signature_failed(self, data, label, signature, node_name, node_id, meta):
        stage = "signature"
        embedded = _embedded_certificate(signature)
        known = [c.sha256 for c in meta.signing_certificates]
        if embedded is not None and embedded.sha256 not in known:
            verifies = _verify(data, embedded, node_name, node_id)
            self.stop(
                "saml.response.signature",
                stage,
                f"The {label} signature does not verify with the metadata certificate. "
                f"The response carries a "
                f"different certificate ({embedded.subject}): the IdP has probably rotated its signing "
                f"certificate. Metadata SHA-256: {', '.join(known)}; response SHA-256: {embedded.sha256}",
                fix="Download the IdP's current metadata (with the new certificate) and import it again. "
                "If the IdP did not rotate its certificate, someone else signed this response.",
                detail={
                    "metadata_sha256": known,
                    "response_sha256": embedded.sha256,
                    "response_certificate": embedded.to_dict(),
                    "verifies_with_response_certificate": verifies,
                    "probable_cause": "certificate_rotated",
                },
            )
        self.stop(
            "saml.response.signature",
            stage,
            f"The {label} signature is invalid: the signed content was changed after signing, or it was "
            "signed with a key that is not in the metadata",
            fix="Do not trust this response. If the IdP changed its key, import its current metadata.",
            detail={"metadata_sha256": known},
        )

    def _check_replay(self):
        used = [i for i in (self.ids["response_id"], self.ids["assertion_id"]) if i in self.consumed_ids]
        if used:
            self.stop(
                "saml.response.replay",
                "response",
                f"This response was already accepted once (ID {used[0]})",
                fix="Start a new test; a response can be used only once.",
                detail={"ids": used},
            )
        self.add("saml.response.replay", "response", PASS, "The response has not been used before")

    def _check_issuers(self, root, assertion, meta):
        stage = "assertion"
        issuer = _text(assertion.find(_q(NS_SAML, "Issuer")))
        if issuer != meta.entity_id:
            self.stop(
                "saml.assertion.issuer",
                stage,
                f"The assertion's Issuer is {issuer!r}, the metadata's entityID is {meta.entity_id!r}",
                fix="Import the metadata of the IdP app that signs these responses.",
                detail={"issuer": issuer, "expected": meta.entity_id},
            )
        response_issuer = root.find(_q(NS_SAML, "Issuer"))
        if response_issuer is not None and _text(response_issuer) != meta.entity_id:
            self.stop(
                "saml.response.issuer",
                "response",
                f"The response's Issuer is {_text(response_issuer)!r}, not {meta.entity_id!r}",
                detail={"issuer": _text(response_issuer), "expected": meta.entity_id},
            )
        self.add("saml.assertion.issuer", stage, PASS, f"Issued by {meta.entity_id}")

    def _check_destination(self, root, response_signed):
        destination = root.get("Destination")
        if destination is None:
            if response_signed:
                # SAML 2.0 Bindings §3.5.5.2: a signed message posted by HTTP-POST MUST carry Destination.
                self.stop("saml.response.destination", "response", "The signed response has no Destination")
            self.add("saml.response.destination", "response", INFO, "The response carries no Destination")
            return
        if destination != self.acs_url:
            self.stop(
                "saml.response.destination",
                "response",
                f"The response's Destination is {destination}, not this connection's ACS URL {self.acs_url}",
                fix="Set the ACS (reply) URL in the IdP to exactly the one in Roster's SP metadata.",
                detail={"destination": destination, "expected": self.acs_url},
            )
        self.add("saml.response.destination", "response", PASS, "Destination is this connection's ACS URL")

    def _check_time(self, check_id, stage, label, not_before, not_on_or_after):
        try:
            start = _parse_instant(not_before)
            end = _parse_instant(not_on_or_after)
        except ValueError as exc:
            self.stop(check_id, stage, f"{label}: {exc}")
        if start is not None and self.now + self.skew < start:
            self.stop(
                check_id,
                stage,
                f"{label} is not valid before {_iso(start)} (now {_iso(self.now)})",
                fix="Check the clocks of the IdP and of Roster (NTP).",
                detail={"not_before": _iso(start), "now": _iso(self.now)},
            )
        if end is not None and self.now - self.skew >= end:
            self.stop(
                check_id,
                stage,
                f"{label} expired at {_iso(end)} (now {_iso(self.now)})",
                fix="Sign in again; if it keeps happening, check the clocks of the IdP and of Roster (NTP).",
                detail={"not_on_or_after": _iso(end), "now": _iso(self.now)},
            )
        return start, end

    def _check_subject_confirmation(self, root, assertion, response_signed):
        stage = "assertion"
        subject = assertion.find(_q(NS_SAML, "Subject"))
        if subject is None:
            self.stop("saml.assertion.subject", stage, "The assertion has no Subject")
        bearers = [
            c for c in subject.findall(_q(NS_SAML, "SubjectConfirmation")) if c.get("Method") == CM_BEARER
        ]
        if not bearers:
            self.stop(
                "saml.assertion.subject_confirmation",
                stage,
                "The assertion has no bearer SubjectConfirmation",
            )
        # SAML 2.0 Profiles §4.1.4.2: bearer confirmation data has Recipient, NotOnOrAfter, InResponseTo.
        data = bearers[0].find(_q(NS_SAML, "SubjectConfirmationData"))
        if data is None:
            self.stop(
                "saml.assertion.subject_confirmation",
                stage,
                "The bearer confirmation has no SubjectConfirmationData",
            )
        recipient = data.get("Recipient")
        if recipient != self.acs_url:
            self.stop(
                "saml.assertion.recipient",
                stage,
                f"The assertion's Recipient is {recipient!r}, not this connection's ACS URL {self.acs_url}",
                fix="Set the ACS (reply) URL in the IdP to exactly the one in Roster's SP metadata.",
                detail={"recipient": recipient, "expected": self.acs_url},
            )
        self.add("saml.assertion.recipient", stage, PASS, "Recipient is this connection's ACS URL")
        if data.get("NotOnOrAfter") is None:
            self.stop(
                "saml.assertion.subject_confirmation", stage, "The bearer confirmation has no NotOnOrAfter"
            )
        self._check_time(
            "saml.assertion.subject_confirmation",
            stage,
            "The bearer confirmation",
            data.get("NotBefore"),
            data.get("NotOnOrAfter"),
        )
        self.add(
            "saml.assertion.subject_confirmation",
            stage,
            PASS,
            "The bearer confirmation is within its validity",
        )
        self._check_in_response_to(root, data, response_signed)

    def _check_in_response_to(self, root, data, response_signed):
        stage = "response"
        confirmation_value = data.get("InResponseTo")
        response_value = root.get("InResponseTo")
        trusted = confirmation_value or (response_value if response_signed else None)
        if trusted is None:
            self.stop(
                "saml.response.in_response_to",
                stage,
                "The response is unsolicited (IdP-initiated): it answers no request Roster sent",
                fix="Start the test from Roster, not from the IdP's app dashboard.",
            )
        for value in (confirmation_value, response_value):
            if value is not None and value != self.expected_request_id:
                self.stop(
                    "saml.response.in_response_to",
                    stage,
                    f"The response answers request {value!r}, not this test's request",
                    fix="Start a new test and complete it in the same browser.",
                    detail={"in_response_to": value, "expected": self.expected_request_id},
                )
        self.add("saml.response.in_response_to", stage, PASS, "The response answers this test's AuthnRequest")

    def _check_conditions(self, assertion):
        stage = "assertion"
        conditions = assertion.find(_q(NS_SAML, "Conditions"))
        if conditions is None:
            self.stop(
                "saml.assertion.audience", stage, "The assertion has no Conditions (and so no audience)"
            )
        self._check_time(
            "saml.assertion.validity",
            stage,
            "The assertion",
            conditions.get("NotBefore"),
            conditions.get("NotOnOrAfter"),
        )
        try:
            issued = _parse_instant(assertion.get("IssueInstant"))
        except ValueError as exc:
            self.stop("saml.assertion.validity", stage, f"IssueInstant: {exc}")
        if issued is None:
            self.stop("saml.assertion.validity", stage, "The assertion has no IssueInstant")
        if issued > self.now + self.skew:
            self.stop(
                "saml.assertion.validity",
                stage,
                f"The assertion was issued in the future ({_iso(issued)})",
                fix="Check the clocks of the IdP and of Roster (NTP).",
            )
        if self.now - issued > MAX_ASSERTION_AGE + self.skew:
            self.stop(
                "saml.assertion.validity",
                stage,
                f"The assertion is too old (issued {_iso(issued)})",
                fix="Sign in again.",
            )
        self.add("saml.assertion.validity", stage, PASS, "The assertion is within its validity period")
        restrictions = conditions.findall(_q(NS_SAML, "AudienceRestriction"))
        if not restrictions:
            # SAML 2.0 Profiles §4.1.4.2: the assertion MUST contain an AudienceRestriction naming the SP.
            self.stop(
                "saml.assertion.audience",
                stage,
                "The assertion has no AudienceRestriction",
                fix=f"Set the audience (SP entity ID) in the IdP to {self.sp_entity_id}.",
            )
        for restriction in restrictions:
            audiences = [_text(a) for a in restriction.findall(_q(NS_SAML, "Audience"))]
            if self.sp_entity_id not in audiences:
                self.stop(
                    "saml.assertion.audience",
                    stage,
                    f"The assertion is meant for {', '.join(a or '?' for a in audiences)}, not for this "
                    f"connection ({self.sp_entity_id})",
                    fix=f"Set the audience (SP entity ID) in the IdP to {self.sp_entity_id}.",
                    detail={"audiences": audiences, "expected": self.sp_entity_id},
                )
        self.add("saml.assertion.audience", stage, PASS, f"The audience is {self.sp_entity_id}")

    def _check_authn_statement(self, assertion):
        if assertion.find(_q(NS_SAML, "AuthnStatement")) is None:
            self.stop("saml.assertion.authn_statement", "assertion", "The assertion has no AuthnStatement")
        self.add(
            "saml.assertion.authn_statement", "assertion", PASS, "The assertion records an authentication"
        )

    def _check_profile(self):
        stage = "profile"
        profile = self.profile
        attributes = profile["attributes"]
        if not profile["name_id"]:
            self.stop(
                "saml.profile.name_id",
                stage,
                "The assertion carries no NameID",
                fix="Configure the IdP to send a NameID (emailAddress format).",
            )
        self.add(
            "saml.profile.name_id",
            stage,
            PASS,
            f"NameID {profile['name_id']}",
            detail={"format": profile["name_id_format"]},
        )
        email = _first_attribute(attributes, EMAIL_ATTRIBUTES)
        if not email and (
            profile["name_id_format"] == NAMEID_EMAIL or EMAIL_PATTERN.match(profile["name_id"])
        ):
            email = profile["name_id"]
        if not email or not EMAIL_PATTERN.match(email):
            self.stop(
                "saml.profile.email",
                stage,
                "The assertion carries no email address",
                fix="Send the email as NameID (emailAddress format) or as an 'email' attribute.",
                detail={"attributes": sorted(attributes)},
            )
        profile["email"] = email
        self.add("saml.profile.email", stage, PASS, f"Email {email}")
        domain_check = check_email_domain(email, self.allowed_domains, "saml.profile.email_domain", stage)
        self.checks.append(domain_check)
        if domain_check.status == FAIL:
            raise _Stop()
