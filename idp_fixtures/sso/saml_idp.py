"""An in-process SAML IdP built on pysaml2's Server, with switches that mint each attack case."""

import base64
import html
import re
import secrets
import shutil
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT, saml
from saml2.config import IdPConfig
from saml2.saml import NameID
from saml2.server import Server
from werkzeug.wrappers import Request, Response

from sso.saml import NAMEID_EMAIL, sp_metadata
from sso.saml.base import NS_DS, NS_SAML, NS_SAMLP, TRANSFORM_ENVELOPED, _q

from .http import LocalServer
from .keys import make_signing_key, temp_dir
from .metadata import RSA_SHA1, RSA_SHA256, SHA1, SHA256, default_entity_id, render_metadata, sign_xml

EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
for _prefix, _uri in (
    ("samlp", NS_SAMLP),
    ("saml", NS_SAML),
    ("ds", NS_DS),
    ("xs", "http://www.w3.org/2001/XMLSchema"),
    ("xsi", "http://www.w3.org/2001/XMLSchema-instance"),
):
    ET.register_namespace(_prefix, _uri)

EVIL_EMAIL = "mallory@evil.example"
OTHER_URL = "https://other-sp.example.test/acs"
PRE_SIGN_ATTACKS = (
    "expired",
    "not_yet_valid",
    "wrong_audience",
    "wrong_destination",
    "wrong_recipient",
    "unsolicited",
    "wrong_issuer",
    "no_email",
)
POST_SIGN_ATTACKS = (
    "tamper",
    "xsw_evil_first",
    "xsw_original_in_extensions",
    "xsw_original_in_signature_object",
    "xsw_duplicate_id",
    "xsw_response_wrap",
    "xsw_signature_moved",
    "xsw_unsigned_in_response_to",
    "comment_injection",
)
KEY_ATTACKS = ("other_key",)
ATTACKS = PRE_SIGN_ATTACKS + POST_SIGN_ATTACKS + KEY_ATTACKS
WRAPPING_ATTACKS = tuple(a for a in POST_SIGN_ATTACKS if a.startswith("xsw_"))
SIGN_CHOICES = ("assertion", "response", "both", "none")


def _iso(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class AuthnRequestInfo:
    """What the IdP read from an AuthnRequest."""

    id: str
    acs_url: str
    sp_entity_id: str
    relay_state: str = None


@dataclass
class PostedResponse:
    """What the browser would POST to the SP's ACS: the URL and the form fields."""

    acs_url: str
    saml_response: str
    relay_state: str = None
    form: dict = field(default_factory=dict)


class SamlIdp:
    """A SAML IdP: metadata in a vendor shape, AuthnRequest parsing and signed (or attacked) Responses."""

    def __init__(
        self,
        *,
        shape="okta",
        base_url="https://idp.example.test",
        entity_id=None,
        key=None,
        sha1=False,
        attribute_email=True,
        sign_alg=None,
        digest_alg=None,
    ):
        self.shape = shape
        self.base_url = base_url.rstrip("/")
        self.sso_url = f"{self.base_url}/sso"
        self.entity_id = entity_id or default_entity_id(shape)
        self.key = key or make_signing_key(f"{shape} test IdP")
        self.metadata_key = self.key
        self.sha1 = sha1
        self.sign_alg, self.digest_alg = sign_alg, digest_alg  # any XML-DSig URIs, to test Roster's policy
        self.attribute_email = attribute_email
        self.response_options = {}
        self._dir = temp_dir()
        self._sps = {}
        self._server = None
        self._metadata = None

    @property
    def metadata_xml(self):
        """Return this IdP's metadata XML (stable until refresh_metadata())."""
        if self._metadata is None:
            self._metadata = render_metadata(
                self.shape,
                entity_id=self.entity_id,
                sso_url=self.sso_url,
                certificate_b64=self.metadata_key.cert_b64,
                key_pem=self.metadata_key.key_pem,
                sha1=self.sha1,
            )
        return self._metadata

    def rotate_key(self):
        """Sign with a new key from now on, while the published metadata keeps the old certificate."""
        self.key = make_signing_key(f"{self.shape} test IdP (rotated)")
        self._server = None

    def refresh_metadata(self):
        """Publish metadata with the current signing certificate."""
        self.metadata_key = self.key
        self._metadata = None

    def trust_sp(self, sp_metadata_xml):
        """Accept AuthnRequests from the SP described by this metadata."""
        match = re.search(r'entityID="([^"]+)"', sp_metadata_xml)
        self._sps[html.unescape(match.group(1))] = sp_metadata_xml
        self._server = None

    @property
    def server(self):
        """Return the pysaml2 Server for the current key and trusted SPs."""
        if self._server is None:
            key_path, cert_path = self.key.write(self._dir)
            config = IdPConfig()
            config.load(
                {
                    "entityid": self.entity_id,
                    "service": {
                        "idp": {
                            "endpoints": {
                                "single_sign_on_service": [
                                    (self.sso_url, BINDING_HTTP_REDIRECT),
                                    (self.sso_url, BINDING_HTTP_POST),
                                ]
                            },
                            "policy": {"default": {"lifetime": {"minutes": 5}}},
                            "name_id_format": [NAMEID_EMAIL],
                        }
                    },
                    "key_file": key_path,
                    "cert_file": cert_path,
                    "xmlsec_binary": shutil.which("xmlsec1"),
                    "metadata": {"inline": list(self._sps.values())},
                    "delete_tmpfiles": True,
                }
            )
            self._server = Server(config=config)
        return self._server

    def parse_request(self, saml_request, binding=BINDING_HTTP_REDIRECT, relay_state=None, trust_any_sp=True):
        """Parse an AuthnRequest (Redirect or POST binding) with pysaml2 and return AuthnRequestInfo."""
        if trust_any_sp:
            peek = self.server.parse_authn_request(saml_request, binding).message
            issuer = peek.issuer.text.strip() if peek.issuer is not None else None
            if issuer and issuer not in self._sps and peek.assertion_consumer_service_url:
                self.trust_sp(sp_metadata(issuer, peek.assertion_consumer_service_url))
        message = self.server.parse_authn_request(saml_request, binding).message
        return AuthnRequestInfo(
            id=message.id,
            acs_url=message.assertion_consumer_service_url,
            sp_entity_id=message.issuer.text.strip(),
            relay_state=relay_state,
        )

    def login(self, redirect_url, email, **options):
        """Play the browser and the user: read a Redirect-binding URL and return the POST for the ACS."""
        query = parse_qs(urlsplit(redirect_url).query)
        relay_state = query.get("RelayState", [None])[0]
        request = self.parse_request(query["SAMLRequest"][0], BINDING_HTTP_REDIRECT, relay_state)
        saml_response = self.respond(request, email, **options)
        form = {"SAMLResponse": saml_response}
        if relay_state is not None:
            form["RelayState"] = relay_state
        return PostedResponse(
            acs_url=request.acs_url, saml_response=saml_response, relay_state=relay_state, form=form
        )

    def respond(
        self, request, email, *, attributes=None, sign="assertion", attack=None, native=False, now=None,
        extra_attributes=(), drop_default_names=False,
    ):
        """Return a base64 SAML Response to the request, signed as asked, with an optional attack applied."""
        if sign not in SIGN_CHOICES:
            raise ValueError(f"sign must be one of {SIGN_CHOICES}")
        if attack is not None and attack not in ATTACKS:
            raise ValueError(f"unknown attack {attack!r}; one of {', '.join(ATTACKS)}")
        if attack == "comment_injection":
            # The attacker owns alice@example.com.evil.example at the IdP and splits it with a comment later.
            email = f"{email}.evil.example"
        identity = {"givenName": ["Test"], "sn": ["User"]}
        if self.attribute_email and attack != "no_email":
            identity["email"] = [email]
        identity.update(attributes or {})
        name_id = (
            NameID(format=NAMEID_EMAIL, text=email)
            if attack != "no_email"
            else NameID(
                format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", text=secrets.token_hex(8)
            )
        )
        sign_alg = self.sign_alg or (RSA_SHA1 if self.sha1 else RSA_SHA256)
        digest_alg = self.digest_alg or (SHA1 if self.sha1 else SHA256)
        kwargs = dict(
            identity=identity,
            in_response_to=request.id,
            destination=request.acs_url,
            sp_entity_id=request.sp_entity_id,
            name_id=name_id,
            authn={"class_ref": saml.AUTHN_PASSWORD_PROTECTED, "authn_auth": self.entity_id},
        )
        if native and attack is None:
            xml = str(
                self.server.create_authn_response(
                    **kwargs,
                    sign_response=sign in ("response", "both"),
                    sign_assertion=sign in ("assertion", "both"),
                    sign_alg=sign_alg,
                    digest_alg=digest_alg,
                )
            )
            return base64.b64encode(xml.encode("utf-8")).decode("ascii")
        unsigned = str(self.server.create_authn_response(**kwargs, sign_response=False, sign_assertion=False))
        root = ET.fromstring(unsigned)
        if attack in PRE_SIGN_ATTACKS:
            _mutate(root, attack, now or datetime.now(timezone.utc))
        _add_attributes(root, extra_attributes, drop_default_names)
        key = make_signing_key("Attacker") if attack == "other_key" else self.key
        if attack == "xsw_unsigned_in_response_to":
            _mutate(root, "unsolicited", now)
        xml = self._sign(root, sign, key, sign_alg, digest_alg)
        if attack in POST_SIGN_ATTACKS:
            xml = _post_sign(xml, attack, email, request.id)
        return base64.b64encode(xml.encode("utf-8")).decode("ascii")

    def _sign(self, root, sign, key, sign_alg, digest_alg):
        assertion = root.find(_q(NS_SAML, "Assertion"))
        targets = []
        if sign in ("assertion", "both"):
            targets.append((assertion, f"{NS_SAML}:Assertion"))
        if sign in ("response", "both"):
            targets.append((root, f"{NS_SAMLP}:Response"))
        for element, _ in targets:
            element.insert(1, _signature_template(element.get("ID"), key.cert_b64, sign_alg, digest_alg))
        xml = ET.tostring(root, encoding="unicode")
        for element, node_name in targets:
            xml = sign_xml(xml, key.key_pem, node_name, element.get("ID"))
        return re.sub(r"^<\?xml[^>]*\?>\s*", "", xml)

    def close(self):
        """Remove the key files written for pysaml2."""
        shutil.rmtree(self._dir, ignore_errors=True)


def _add_attributes(root, extra_attributes, drop_default_names):
    """Add attributes as some IdPs name them ({"name", "friendly_name", "values"}: URI and OID names, and
    friendly ones); drop the givenName/sn this IdP sends by default when asked."""
    statement = root.find(f"{_q(NS_SAML, 'Assertion')}/{_q(NS_SAML, 'AttributeStatement')}")
    if statement is None:
        return
    if drop_default_names:
        for attribute in list(statement):
            if {attribute.get("Name"), attribute.get("FriendlyName")} & {"givenName", "sn"}:
                statement.remove(attribute)
    for extra in extra_attributes:
        attribute = ET.SubElement(statement, _q(NS_SAML, "Attribute"), Name=extra["name"],
                                  NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri")
        if extra.get("friendly_name"):
            attribute.set("FriendlyName", extra["friendly_name"])
        for value in extra["values"]:
            ET.SubElement(attribute, _q(NS_SAML, "AttributeValue")).text = value


def _signature_template(reference_id, cert_b64, sign_alg, digest_alg):
    signature = ET.Element(_q(NS_DS, "Signature"))
    signed_info = ET.SubElement(signature, _q(NS_DS, "SignedInfo"))
    ET.SubElement(signed_info, _q(NS_DS, "CanonicalizationMethod"), Algorithm=EXC_C14N)
    ET.SubElement(signed_info, _q(NS_DS, "SignatureMethod"), Algorithm=sign_alg)
    reference = ET.SubElement(signed_info, _q(NS_DS, "Reference"), URI=f"#{reference_id}")
    transforms = ET.SubElement(reference, _q(NS_DS, "Transforms"))
    ET.SubElement(transforms, _q(NS_DS, "Transform"), Algorithm=TRANSFORM_ENVELOPED)
    ET.SubElement(transforms, _q(NS_DS, "Transform"), Algorithm=EXC_C14N)
    ET.SubElement(reference, _q(NS_DS, "DigestMethod"), Algorithm=digest_alg)
    ET.SubElement(reference, _q(NS_DS, "DigestValue"))
    ET.SubElement(signature, _q(NS_DS, "SignatureValue"))
    key_info = ET.SubElement(signature, _q(NS_DS, "KeyInfo"))
    x509_data = ET.SubElement(key_info, _q(NS_DS, "X509Data"))
    ET.SubElement(x509_data, _q(NS_DS, "X509Certificate")).text = cert_b64
    return signature


def _mutate(root, attack, now):
    now = now or datetime.now(timezone.utc)
    assertion = root.find(_q(NS_SAML, "Assertion"))
    conditions = assertion.find(_q(NS_SAML, "Conditions"))
    confirmation = assertion.find(f".//{_q(NS_SAML, 'SubjectConfirmationData')}")
    if attack == "expired":
        past = now - timedelta(hours=1)
        for element in (root, assertion):
            element.set("IssueInstant", _iso(past))
        conditions.set("NotBefore", _iso(past))
        conditions.set("NotOnOrAfter", _iso(past + timedelta(minutes=5)))
        confirmation.set("NotOnOrAfter", _iso(past + timedelta(minutes=5)))
    elif attack == "not_yet_valid":
        conditions.set("NotBefore", _iso(now + timedelta(minutes=30)))
        conditions.set("NotOnOrAfter", _iso(now + timedelta(minutes=35)))
    elif attack == "wrong_audience":
        for audience in conditions.iter(_q(NS_SAML, "Audience")):
            audience.text = "https://other-sp.example.test/metadata"
    elif attack == "wrong_destination":
        root.set("Destination", OTHER_URL)
    elif attack == "wrong_recipient":
        confirmation.set("Recipient", OTHER_URL)
    elif attack == "unsolicited":
        root.attrib.pop("InResponseTo", None)
        confirmation.attrib.pop("InResponseTo", None)
    elif attack == "wrong_issuer":
        assertion.find(_q(NS_SAML, "Issuer")).text = "https://evil-idp.example.test/"
    elif attack == "no_email":
        statement = assertion.find(_q(NS_SAML, "AttributeStatement"))
        for attribute in list(statement) if statement is not None else ():
            if attribute.get("FriendlyName") == "email":
                statement.remove(attribute)


_ASSERTION = re.compile(r"<saml:Assertion\b.*?</saml:Assertion>", re.DOTALL)
_SIGNATURE = re.compile(r"<ds:Signature\b.*?</ds:Signature>", re.DOTALL)


def _evil_copy(assertion_xml, email, new_id=None, keep_signature=False):
    evil = assertion_xml.replace(email, EVIL_EMAIL)
    if not keep_signature:
        evil = _SIGNATURE.sub("", evil, count=1)
    if new_id:
        evil = re.sub(r'\bID="[^"]+"', f'ID="{new_id}"', evil, count=1)
    return evil


def _after_response_issuer(xml, insert):
    end = xml.index("</saml:Issuer>") + len("</saml:Issuer>")
    return xml[:end] + insert + xml[end:]


def _post_sign(xml, attack, email, request_id):
    original = _ASSERTION.search(xml).group(0)
    evil_id = "_evil" + secrets.token_hex(8)
    if attack == "tamper":
        return xml.replace(original, original.replace(email, EVIL_EMAIL))
    if attack == "xsw_evil_first":
        # An unsigned forged assertion placed before the genuine signed one.
        return xml.replace(original, _evil_copy(original, email, evil_id) + original)
    if attack == "xsw_original_in_extensions":
        # The forged assertion takes the genuine one's place; the genuine one hides in Extensions.
        xml = xml.replace(original, _evil_copy(original, email, evil_id))
        return _after_response_issuer(xml, f"<samlp:Extensions>{original}</samlp:Extensions>")
    if attack == "xsw_original_in_signature_object":
        # The forged assertion carries the genuine signature, whose ds:Object holds the genuine assertion.
        evil = _evil_copy(original, email, evil_id, keep_signature=True)
        evil = evil.replace("</ds:Signature>", f"<ds:Object>{original}</ds:Object></ds:Signature>", 1)
        return xml.replace(original, evil)
    if attack == "xsw_duplicate_id":
        # The forged assertion reuses the genuine ID, so an ID lookup may find either one.
        xml = xml.replace(original, _evil_copy(original, email))
        return _after_response_issuer(xml, f"<samlp:Extensions>{original}</samlp:Extensions>")
    if attack == "xsw_response_wrap":
        # XSW1: a new response with a forged assertion; the genuine signed one sits in the signature's Object.
        signature = _SIGNATURE.search(xml[: xml.index("<saml:Assertion")]).group(0)
        body = re.sub(r"^<samlp:Response\b[^>]*>", "", xml)
        head = re.match(r"^<samlp:Response\b[^>]*>", xml).group(0)
        head = re.sub(r'\bID="[^"]+"', f'ID="{evil_id}"', head, count=1)
        forged_body = _SIGNATURE.sub("", body.replace(email, EVIL_EMAIL), count=1)
        wrapped_signature = signature.replace(
            "</ds:Signature>", f"<ds:Object>{xml}</ds:Object></ds:Signature>"
        )
        return _after_response_issuer(head + forged_body, wrapped_signature)
    if attack == "xsw_signature_moved":
        # The assertion's signature lifted out to the response, referencing the assertion from outside.
        signature = _SIGNATURE.search(original).group(0)
        xml = xml.replace(original, _evil_copy(original, email))
        return _after_response_issuer(xml, signature)
    if attack == "xsw_unsigned_in_response_to":
        # A signed but unsolicited assertion; the attacker adds InResponseTo to the unsigned response only.
        return re.sub(r"^(<samlp:Response\b)", rf'\1 InResponseTo="{request_id}"', xml, count=1)
    if attack == "comment_injection":
        # Canonicalization drops comments, so the signature holds; a naive reader stops at the comment.
        return xml.replace(
            original, original.replace(email, email.replace(".evil.example", "<!---->.evil.example"))
        )
    raise ValueError(attack)


class SamlIdpServer:
    """The SAML IdP behind an HTTP front on 127.0.0.1: login page, then an auto-posting form to the ACS."""

    def __init__(self, *, default_email="alice@example.com", **idp_options):
        self.default_email = default_email
        self._http = LocalServer(self._wsgi)
        self.url = self._http.url
        self.idp = SamlIdp(base_url=self.url, **idp_options)

    def __enter__(self):
        self._http.start()
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Stop the HTTP server and remove the key files."""
        self._http.close()
        self.idp.close()

    @property
    def metadata_xml(self):
        """Return the IdP metadata (its SSO endpoint points at this server)."""
        return self.idp.metadata_xml

    def _wsgi(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._dispatch(request)
        except Exception as exc:  # a fixture answers bad requests with 400, never a traceback
            response = Response(
                f"Bad SAML request: {html.escape(str(exc))}", status=400, mimetype="text/plain"
            )
        return response(environ, start_response)

    def _dispatch(self, request):
        if request.path == "/metadata":
            return Response(self.metadata_xml, mimetype="application/samlmetadata+xml")
        if request.path == "/sso":
            if request.method == "GET":
                saml_request, binding = request.args.get("SAMLRequest"), BINDING_HTTP_REDIRECT
                relay_state = request.args.get("RelayState")
            else:
                saml_request, binding = request.form.get("SAMLRequest"), BINDING_HTTP_POST
                relay_state = request.form.get("RelayState")
            if not saml_request:
                return Response("SAMLRequest is missing", status=400, mimetype="text/plain")
            info = self.idp.parse_request(saml_request, binding, relay_state)
            return Response(
                _login_page(info, saml_request, binding, relay_state, self.default_email),
                mimetype="text/html",
            )
        if request.path == "/login" and request.method == "POST":
            binding = request.form["binding"]
            relay_state = request.form.get("RelayState") or None
            info = self.idp.parse_request(request.form["SAMLRequest"], binding, relay_state)
            saml_response = self.idp.respond(info, request.form["email"].strip(), **self.idp.response_options)
            return Response(_post_page(info.acs_url, saml_response, relay_state), mimetype="text/html")
        return Response("Not found", status=404, mimetype="text/plain")


def _login_page(info, saml_request, binding, relay_state, email):
    e = html.escape
    relay = f'<input type="hidden" name="RelayState" value="{e(relay_state)}">' if relay_state else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Test IdP sign-in</title></head>
<body><h1>Test IdP sign-in</h1><p>Sign in to <b>{e(info.sp_entity_id)}</b></p>
<form method="post" action="/login" id="login-form">
<input type="hidden" name="SAMLRequest" value="{e(saml_request)}">
<input type="hidden" name="binding" value="{e(binding)}">{relay}
<label>Email <input type="email" name="email" id="email" value="{e(email)}"></label>
<label>Password <input type="password" name="password" id="password" value="test"></label>
<button type="submit" id="sign-in">Sign in</button>
</form></body></html>"""


def _post_page(acs_url, saml_response, relay_state):
    e = html.escape
    relay = f'<input type="hidden" name="RelayState" value="{e(relay_state)}">' if relay_state else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Returning to the app</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="{e(acs_url)}">
<input type="hidden" name="SAMLResponse" value="{e(saml_response)}">{relay}
<noscript><button type="submit">Continue</button></noscript></form></body></html>"""
