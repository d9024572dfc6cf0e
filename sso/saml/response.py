"""SAML Response verification: structure, signatures (only with the metadata's certificates, covering exactly
the signed element), issuer, destination, replay; then the assertion checks of sso/saml/assertion.py."""

import base64
import binascii
import re
from datetime import datetime, timedelta, timezone

from ..checks import FAIL, INFO, PASS
from .assertion import _AssertionChecks, _extract_profile, _Stop
from .base import (
    C14N_METHODS,
    NS_DS,
    NS_SAML,
    NS_SAMLP,
    STATUS_SUCCESS,
    TRANSFORM_ENVELOPED,
    MAX_XML_BYTES,
    MetadataError,
    SamlError,
    XmlsecMissingError,
    _q,
    _text,
    algorithm_verdict,
    certificate_info,
    parse_xml,
    signature_algorithms,
)
from .metadata import parse_metadata
from .xmlsec import XMLSEC1_FIX, _verify, _verify_with_any

DEFAULT_CLOCK_SKEW = timedelta(seconds=120)
MAX_CLOCK_SKEW = timedelta(minutes=5)


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
    allow_sha1=False,
    extra_certificates=(),
):
    """Verify a base64 SAML Response posted to the ACS; return (checks, profile, ids).

    Signatures verify only with the metadata's certificates and `extra_certificates` (CertificateInfo: the
    previous certificates of a connection during the rotation window its admin chose). SHA-1 signatures fail
    unless `allow_sha1` (the connection's opt-in), which makes them a warning."""
    skew = _skew(max_clock_skew)
    now = now or datetime.now(timezone.utc)
    verifier = _ResponseVerifier(
        idp_metadata_xml, sp_entity_id, acs_url, expected_request_id, allowed_domains, now, skew, consumed_ids
    )
    verifier.allow_sha1 = allow_sha1
    verifier.extra_certificates = list(extra_certificates)
    verifier.run(saml_response_b64)
    return verifier.checks, verifier.profile, verifier.ids


class _ResponseVerifier(_AssertionChecks):
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
        self.allow_sha1 = False
        self.extra_certificates = []
        self.checks = []
        self.profile = {}
        self.ids = {"response_id": None, "assertion_id": None}
        self.verified = False

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
            algorithms = signature_algorithms(signature)
            verdict, message = algorithm_verdict(algorithms, self.allow_sha1)
            if verdict == FAIL:  # checked before xmlsec1 runs: a refused algorithm is never verified
                self.stop("saml.response.signature_algorithm", stage, f"The {label} is refused: {message}",
                          fix="Set the IdP's signature algorithm to RSA-SHA256 and digest to SHA-256.",
                          detail={"algorithms": algorithms})
            certificates = meta.signing_certificates + [
                c for c in self.extra_certificates if c.sha256 not in {m.sha256 for m in meta.signing_certificates}]
            if not _verify_with_any(data, certificates, node_name, element.get("ID")):
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
        algorithms = sorted({a for signature in signed.values() for a in signature_algorithms(signature)})
        verdict, message = algorithm_verdict(algorithms, self.allow_sha1)
        self.add("saml.response.signature_algorithm", stage, verdict, message,
                 fix="Set the IdP's signature algorithm to RSA-SHA256 and digest to SHA-256."
                 if verdict != PASS else None, detail={"algorithms": algorithms})
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
