"""IdP metadata: reading it into IdpMetadata and its static checks (entityID, endpoints, certificates,
NameID formats, signature)."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from saml2 import BINDING_HTTP_REDIRECT

from ..checks import FAIL, INFO, PASS, WARN, Check, unique_ids
from ..fetch import url_problem
from .base import (
    _DECLARATION,
    NAMEID_EMAIL,
    NAMEID_UNSPECIFIED,
    NS_DS,
    NS_MD,
    MAX_SIGNING_CERTIFICATES,
    PROTOCOL,
    MetadataError,
    SamlError,
    XmlsecMissingError,
    _iso,
    _parse_instant,
    _q,
    _text,
    algorithm_verdict,
    certificate_info,
    parse_xml,
    signature_algorithms,
)
from .xmlsec import XMLSEC1_FIX, _verify_with_any

CERT_EXPIRY_WARNING = timedelta(days=30)


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
    signature_methods: list = field(default_factory=list)  # SignatureMethod and DigestMethod URIs

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
    signing = [d for d in idp.findall(_q(NS_MD, "KeyDescriptor")) if d.get("use") in (None, "", "signing")]
    count = sum(1 for d in signing for _ in d.iter(_q(NS_DS, "X509Certificate")))
    if count > MAX_SIGNING_CERTIFICATES:
        # Each certificate may cost an xmlsec1 run per signature: bound them.
        raise MetadataError(f"The metadata lists {count} signing certificates; Roster accepts at most "
                            f"{MAX_SIGNING_CERTIFICATES}")
    for descriptor in signing:
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
            meta.signature_methods += signature_algorithms(signature)
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


def check_metadata(xml_text, now=None, *, allow_sha1=False, pinned=()):
    """Return the static checks of IdP metadata: entityID, endpoints, certificates, NameID, algorithms.

    `pinned`: the CertificateInfo a connection trusts (pinned when it imported the metadata); a metadata
    signature is a PASS only when one of them verifies it. Check ids are unique (repeats get #2, #3…)."""
    return unique_ids(_metadata_checks(xml_text, now, allow_sha1, pinned))


def _metadata_checks(xml_text, now, allow_sha1, pinned):
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
    checks += _check_metadata_signature(meta, root, xml_text, stage, allow_sha1, pinned)
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
        problem = url_problem(location, allow_loopback_http=True)
        if problem and not problem.startswith("plain http"):
            checks.append(
                Check(
                    "saml.metadata.sso_endpoint_url",
                    stage,
                    FAIL,
                    f"SingleSignOnService Location is not an http(s) URL: {location!r}",
                )
            )
        elif problem:
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


def _check_metadata_signature(meta, root, xml_text, stage, allow_sha1, pinned):
    if not meta.signed:
        return [
            Check(
                "saml.metadata.signature",
                stage,
                INFO,
                "The metadata is not signed; Roster trusts the certificates it pinned at import",
            )
        ]
    checks = []
    algorithms = sorted(set(meta.signature_methods))
    verdict, message = algorithm_verdict(algorithms, allow_sha1)
    checks.append(Check("saml.metadata.signature_algorithm", stage, verdict, message,
                        fix="Configure the IdP to sign with RSA-SHA256 and a SHA-256 digest."
                        if verdict != PASS else None, detail={"algorithms": algorithms}))
    if verdict == FAIL:
        return checks
    holder = root if root.find(_q(NS_DS, "Signature")) is not None else _idp_entity(root)
    node_name = f"{NS_MD}:{holder.tag.split('}', 1)[1]}"
    data = xml_text.encode("utf-8") if isinstance(xml_text, str) else xml_text
    data = _DECLARATION.sub("", data.decode("utf-8-sig")).strip().encode("utf-8")
    node_id = holder.get("ID")
    try:
        by_pinned = bool(node_id and pinned) and _verify_with_any(data, list(pinned), node_name, node_id)
        by_own = by_pinned or (bool(node_id) and _verify_with_any(data, meta.signing_certificates, node_name,
                                                                   node_id))
    except XmlsecMissingError as exc:
        return checks + [Check("saml.metadata.signature", stage, WARN, str(exc), fix=XMLSEC1_FIX)]
    if by_pinned:
        checks.append(Check("saml.metadata.signature", stage, PASS,
                            "The metadata signature verifies with a certificate pinned for this connection"))
    elif by_own:
        # A signature checked against the certificate the document itself carries proves only that the
        # document is intact, not who published it.
        checks.append(Check("saml.metadata.signature", stage, INFO,
                            "The metadata signature verifies with the certificate inside the metadata itself; "
                            "that proves the document is intact, not who published it (Roster pins the "
                            "certificates at import instead)"))
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
