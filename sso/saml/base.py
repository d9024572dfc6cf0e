"""SAML 2.0 basics shared by the engine: names (namespaces, formats, algorithms), errors, safe XML parsing,
xs:dateTime reading and the signing certificates of metadata and responses."""

import base64
import binascii
import hashlib
import re
import textwrap
from dataclasses import dataclass
from datetime import datetime, timezone

import defusedxml.ElementTree as SafeET
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from defusedxml import DefusedXmlException

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
# The signature policy (docs/sso.md, "Algorithms"): RSA PKCS#1 v1.5 and RSA-PSS with SHA-256/384/512
# (RFC 6931 §2.3.2-2.3.4, §2.3.10), ECDSA with SHA-256/384/512 (RFC 6931 §2.3.6), SHA-256/384/512 digests
# (RFC 6931 §2.1.2-2.1.3). SHA-1 only where a connection opts in; MD5 and everything else never.
SIGNATURE_ALGORITHMS = {
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": "RSA-SHA256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384": "RSA-SHA384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": "RSA-SHA512",
    "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1": "RSA-PSS-SHA256",
    "http://www.w3.org/2007/05/xmldsig-more#sha384-rsa-MGF1": "RSA-PSS-SHA384",
    "http://www.w3.org/2007/05/xmldsig-more#sha512-rsa-MGF1": "RSA-PSS-SHA512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256": "ECDSA-SHA256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384": "ECDSA-SHA384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512": "ECDSA-SHA512",
}
DIGEST_ALGORITHMS = {
    "http://www.w3.org/2001/04/xmlenc#sha256": "SHA-256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384": "SHA-384",
    "http://www.w3.org/2001/04/xmlenc#sha512": "SHA-512",
}
MAX_SIGNING_CERTIFICATES = 10

MAX_XML_BYTES = 1024 * 1024
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)


def _q(ns, name):
    return f"{{{ns}}}{name}"


class SamlError(Exception):
    """A SAML input could not be used; the message is meant for the admin."""


class MetadataError(SamlError):
    """IdP metadata is unusable: not XML, unsafe XML, or missing what a sign-in needs."""


class XmlsecMissingError(SamlError):
    """The xmlsec1 binary is not installed or not runnable."""


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


# Algorithms


def signature_algorithms(signature):
    """Return the SignatureMethod and DigestMethod algorithm URIs a ds:Signature declares."""
    return sorted({m.get("Algorithm") or "" for m in signature.iter(_q(NS_DS, "SignatureMethod"))}
                  | {m.get("Algorithm") or "" for m in signature.iter(_q(NS_DS, "DigestMethod"))})


def algorithm_verdict(algorithms, allow_sha1=False):
    """Return (status, message) for the algorithms of a signature under Roster's policy: "pass", "warn" (SHA-1
    where the connection allows it) or "fail" (SHA-1 without the opt-in, MD5, anything unknown)."""
    refused = [a for a in algorithms if a not in SIGNATURE_ALGORITHMS and a not in DIGEST_ALGORITHMS
               and a not in SHA1_ALGORITHMS]
    sha1 = [a for a in algorithms if a in SHA1_ALGORITHMS]
    if refused:
        return "fail", (f"Signed with {', '.join(a or '(none)' for a in refused)}, which Roster never accepts "
                        "(only RSA-SHA256/384/512, RSA-PSS and ECDSA with SHA-256 or stronger)")
    if sha1 and not allow_sha1:
        return "fail", (f"Signed with SHA-1 ({', '.join(sha1)}); Roster refuses SHA-1 unless the connection "
                        "sets allow_sha1")
    if sha1:
        return "warn", (f"Signed with SHA-1 ({', '.join(sha1)}), accepted only because this connection sets "
                        "allow_sha1")
    names = [SIGNATURE_ALGORITHMS.get(a) or DIGEST_ALGORITHMS.get(a) for a in algorithms]
    return "pass", f"Signature algorithms: {', '.join(names)}"

