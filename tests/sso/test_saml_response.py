import base64
import zlib
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest

from idp_fixtures.sso import SHAPES, WRAPPING_ATTACKS, SamlIdp, make_signing_key
from idp_fixtures.sso.saml_idp import EVIL_EMAIL
from sso import saml
from sso.checks import summarize
from sso.saml import xmlsec

from .helpers import ACS_URL, SP_ENTITY_ID, by_id, failures, verify
from .payloads import HOSTILE, response_payload


def decoded_request(url):
    query = parse_qs(urlsplit(url).query)
    xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
    return saml.parse_xml(xml), query


def test_start_login_builds_redirect_request(saml_idp):
    request_id, url = saml.start_login(saml_idp.metadata_xml, SP_ENTITY_ID, ACS_URL, "run-42")
    assert url.startswith(saml_idp.sso_url + "?")
    root, query = decoded_request(url)
    assert query["RelayState"] == ["run-42"]
    assert root.get("ID") == request_id
    assert root.get("Destination") == saml_idp.sso_url
    assert root.get("AssertionConsumerServiceURL") == ACS_URL
    assert root.find("{urn:oasis:names:tc:SAML:2.0:assertion}Issuer").text == SP_ENTITY_ID


def test_start_login_ids_are_fresh(saml_idp):
    first = saml.start_login(saml_idp.metadata_xml, SP_ENTITY_ID, ACS_URL, "a")[0]
    second = saml.start_login(saml_idp.metadata_xml, SP_ENTITY_ID, ACS_URL, "a")[0]
    assert first != second and first[0].isalpha()


def test_relay_state_limited_to_80_bytes(saml_idp):
    with pytest.raises(saml.SamlError, match="80 bytes"):
        saml.start_login(saml_idp.metadata_xml, SP_ENTITY_ID, ACS_URL, "x" * 81)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("sign", ["assertion", "response", "both"])
def test_genuine_response_passes(shape, sign):
    idp = SamlIdp(shape=shape)
    try:
        request_id, url = saml.start_login(idp.metadata_xml, SP_ENTITY_ID, ACS_URL, "run-1")
        posted = idp.login(url, "alice@example.com", sign=sign)
        checks, profile, ids = verify(idp, posted.saml_response, request_id)
    finally:
        idp.close()
    assert failures(checks) == []
    assert summarize(checks)[0] == "passed"
    assert profile["email"] == "alice@example.com"
    assert profile["given_name"] == "Test" and profile["family_name"] == "User"
    assert ids["response_id"] and ids["assertion_id"] and ids["response_id"] != ids["assertion_id"]
    assert posted.relay_state == "run-1"


@pytest.mark.parametrize("sign", ["assertion", "response"])
def test_pysaml2_native_signing_passes(saml_idp, login, sign):
    request_id, url = login
    posted = saml_idp.login(url, "alice@example.com", sign=sign, native=True)
    checks, profile, _ = verify(saml_idp, posted.saml_response, request_id)
    assert failures(checks) == []
    assert profile["email"] == "alice@example.com"


def test_sha1_signing_fails_unless_the_connection_opts_in():
    """Finding 3: SHA-1 fails; a connection's explicit allow_sha1 makes it a warning."""
    idp = SamlIdp(sha1=True)
    try:
        request_id, url = saml.start_login(idp.metadata_xml, SP_ENTITY_ID, ACS_URL, "r")
        response = idp.login(url, "alice@example.com").saml_response
        refused, profile, _ = verify(idp, response, request_id)
        allowed, _, _ = verify(idp, response, request_id, allow_sha1=True)
    finally:
        idp.close()
    assert failures(refused) == ["saml.response.signature_algorithm"] and profile == {}
    assert by_id(allowed)["saml.response.signature_algorithm"] == "warn"
    assert summarize(allowed)[0] == "passed_with_warnings"


MD5 = ("http://www.w3.org/2001/04/xmldsig-more#rsa-md5", "http://www.w3.org/2001/04/xmldsig-more#md5")


@pytest.mark.parametrize("algorithms", [MD5, ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                                              "http://www.w3.org/2001/04/xmldsig-more#md5")])
def test_md5_signing_fails_always(algorithms):
    """Finding 3: a real RSA-MD5 signature (xmlsec1 makes and verifies one) never passes, opt-in or not."""
    idp = SamlIdp(sign_alg=algorithms[0], digest_alg=algorithms[1])
    try:
        request_id, url = saml.start_login(idp.metadata_xml, SP_ENTITY_ID, ACS_URL, "r")
        response = idp.login(url, "alice@example.com").saml_response
        for allow_sha1 in (False, True):
            checks, profile, _ = verify(idp, response, request_id, allow_sha1=allow_sha1)
            assert failures(checks) == ["saml.response.signature_algorithm"] and profile == {}
            assert "md5" in checks[-1].message
    finally:
        idp.close()


@pytest.mark.parametrize("sign_alg,digest_alg", [
    ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha384", "http://www.w3.org/2001/04/xmldsig-more#sha384"),
    ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha512", "http://www.w3.org/2001/04/xmlenc#sha512"),
])
def test_stronger_rsa_algorithms_pass(sign_alg, digest_alg):
    idp = SamlIdp(sign_alg=sign_alg, digest_alg=digest_alg)
    try:
        request_id, url = saml.start_login(idp.metadata_xml, SP_ENTITY_ID, ACS_URL, "r")
        checks, _, _ = verify(idp, idp.login(url, "alice@example.com").saml_response, request_id)
    finally:
        idp.close()
    assert failures(checks) == [] and by_id(checks)["saml.response.signature_algorithm"] == "pass"


@pytest.mark.parametrize("name,friendly", [
    ("urn:oid:1.2.840.113549.1.9.1", None),  # PKCS#9 emailAddress: SimpleSAMLphp's name2oid for "email"
    ("urn:oid:1.2.840.113549.1.9.1", "email"),
    ("urn:oid:0.9.2342.19200300.100.1.3", "mail"),
    ("urn:mace:dir:attribute-def:mail", None),
    ("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress", None),
    ("EmailAddress", None),
])
def test_email_attribute_in_every_form(name, friendly):
    """Finding 8: the email is recognised by friendly name, URI and OID (incl. PKCS#9)."""
    idp = SamlIdp(attribute_email=False)
    try:
        request_id, url = saml.start_login(idp.metadata_xml, SP_ENTITY_ID, ACS_URL, "r")
        attribute = {"name": name, "friendly_name": friendly, "values": ["carol@example.com"]}
        posted = idp.login(url, "alice@example.com", attack="no_email", extra_attributes=[attribute])
        checks, profile, _ = verify(idp, posted.saml_response, request_id)
    finally:
        idp.close()
    assert failures(checks) == [] and profile["email"] == "carol@example.com"


@pytest.mark.parametrize("given,family,display", [
    ("urn:oid:2.5.4.42", "urn:oid:2.5.4.4", "urn:oid:2.16.840.1.113730.3.1.241"),
    ("urn:mace:dir:attribute-def:givenName", "urn:mace:dir:attribute-def:sn", "urn:mace:dir:attribute-def:cn"),
    ("http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
     "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
     "http://schemas.microsoft.com/identity/claims/displayname"),
])
def test_name_attributes_in_every_form(given, family, display):
    idp = SamlIdp()
    try:
        request_id, url = saml.start_login(idp.metadata_xml, SP_ENTITY_ID, ACS_URL, "r")
        extra = [{"name": n, "friendly_name": None, "values": [v]}
                 for n, v in ((given, "Carol"), (family, "Jones"), (display, "Carol Jones"))]
        posted = idp.login(url, "alice@example.com", extra_attributes=extra, drop_default_names=True)
        checks, profile, _ = verify(idp, posted.saml_response, request_id)
    finally:
        idp.close()
    assert failures(checks) == []
    assert (profile["given_name"], profile["family_name"], profile["display_name"]) == ("Carol", "Jones",
                                                                                        "Carol Jones")


def attacked(idp, login, attack, sign="assertion", **kwargs):
    request_id, url = login
    posted = idp.login(url, "alice@example.com", sign=sign, attack=attack)
    return verify(idp, posted.saml_response, request_id, **kwargs)


@pytest.mark.parametrize("sign", ["assertion", "response", "both"])
def test_tampered_assertion_refused(saml_idp, login, sign):
    checks, profile, _ = attacked(saml_idp, login, "tamper", sign=sign)
    assert failures(checks) == ["saml.response.signature"]
    assert profile == {}


def test_other_signing_key_refused_with_both_fingerprints(saml_idp, login):
    checks, profile, _ = attacked(saml_idp, login, "other_key")
    check = [c for c in checks if c.id == "saml.response.signature"][0]
    assert check.status == "fail"
    metadata_fp = saml.parse_metadata(saml_idp.metadata_xml).signing_certificates[0].sha256
    assert "rotated its signing certificate" in check.message
    assert metadata_fp in check.message and check.detail["response_sha256"] in check.message
    assert check.detail["response_sha256"] != metadata_fp
    assert profile == {}


def test_rotated_certificate_explained_then_fixed_by_reimport():
    idp = SamlIdp(shape="entra")
    try:
        old_metadata = idp.metadata_xml
        old_fp = saml.parse_metadata(old_metadata).signing_certificates[0].sha256
        idp.rotate_key()
        request_id, url = saml.start_login(old_metadata, SP_ENTITY_ID, ACS_URL, "r")
        posted = idp.login(url, "alice@example.com")
        checks, _, _ = verify(idp, posted.saml_response, request_id, idp_metadata_xml=old_metadata)
        check = [c for c in checks if c.id == "saml.response.signature"][0]
        assert check.status == "fail"
        assert check.detail["probable_cause"] == "certificate_rotated"
        assert check.detail["verifies_with_response_certificate"] is True
        assert check.detail["metadata_sha256"] == [old_fp]
        assert "import it again" in check.fix
        idp.refresh_metadata()
        checks, _, _ = verify(idp, posted.saml_response, request_id)
        assert failures(checks) == []
    finally:
        idp.close()


def test_metadata_with_two_certificates_accepts_either():
    old, new = make_signing_key("old"), make_signing_key("new")
    idp = SamlIdp(key=new)
    try:
        both = idp.metadata_xml.replace(
            "</md:KeyDescriptor>",
            '</md:KeyDescriptor><md:KeyDescriptor use="signing">'
            '<ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">'
            f"<ds:X509Data><ds:X509Certificate>{old.cert_b64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
            "</md:KeyDescriptor>",
            1,
        )
        assert len(saml.parse_metadata(both).signing_certificates) == 2
        request_id, url = saml.start_login(both, SP_ENTITY_ID, ACS_URL, "r")
        checks, _, _ = verify(
            idp, idp.login(url, "alice@example.com").saml_response, request_id, idp_metadata_xml=both
        )
        assert failures(checks) == []
    finally:
        idp.close()


def test_unsigned_response_refused(saml_idp, login):
    checks, profile, _ = attacked(saml_idp, login, None, sign="none")
    assert failures(checks) == ["saml.response.signature"]
    assert "Neither the response nor the assertion is signed" in checks[-1].message
    assert profile == {}


@pytest.mark.parametrize(
    "attack,check_ids",
    [
        ("expired", ["saml.assertion.subject_confirmation", "saml.assertion.validity"]),
        ("not_yet_valid", ["saml.assertion.validity"]),
        ("wrong_audience", ["saml.assertion.audience"]),
        ("wrong_destination", ["saml.response.destination"]),
        ("wrong_recipient", ["saml.assertion.recipient"]),
        ("unsolicited", ["saml.response.in_response_to"]),
        ("wrong_issuer", ["saml.assertion.issuer"]),
        ("no_email", ["saml.profile.email"]),
    ],
)
@pytest.mark.parametrize("sign", ["assertion", "response"])
def test_signed_but_wrong_responses_refused(saml_idp, login, attack, check_ids, sign):
    checks, _, _ = attacked(saml_idp, login, attack, sign=sign)
    assert failures(checks) == check_ids
    assert by_id(checks)["saml.response.signature"] == "pass"
    assert summarize(checks)[0] == "failed"


def test_response_to_another_request_refused(saml_idp, login):
    _, url = login
    posted = saml_idp.login(url, "alice@example.com")
    checks, _, _ = verify(saml_idp, posted.saml_response, "id-some-other-request")
    assert failures(checks) == ["saml.response.in_response_to"]


def test_replayed_response_refused(saml_idp, login):
    request_id, url = login
    posted = saml_idp.login(url, "alice@example.com")
    checks, _, ids = verify(saml_idp, posted.saml_response, request_id)
    assert failures(checks) == []
    consumed = {ids["response_id"], ids["assertion_id"]}
    checks, _, _ = verify(saml_idp, posted.saml_response, request_id, consumed_ids=consumed)
    assert failures(checks) == ["saml.response.replay"]
    checks, _, _ = verify(saml_idp, posted.saml_response, request_id, consumed_ids={ids["assertion_id"]})
    assert failures(checks) == ["saml.response.replay"]


def test_clock_skew_is_bounded_and_applied(saml_idp, login):
    request_id, url = login
    posted = saml_idp.login(url, "alice@example.com")
    with pytest.raises(ValueError, match="max_clock_skew"):
        verify(saml_idp, posted.saml_response, request_id, max_clock_skew=3600)
    now = datetime.now(timezone.utc)
    # The fixture IdP issues assertions valid for 5 minutes; the default skew is 2 minutes.
    assert failures(verify(saml_idp, posted.saml_response, request_id, now=now + timedelta(minutes=8))[0])
    assert not failures(
        verify(
            saml_idp,
            posted.saml_response,
            request_id,
            now=now + timedelta(minutes=8),
            max_clock_skew=timedelta(minutes=5),
        )[0]
    )
    assert "saml.assertion.validity" in failures(
        verify(saml_idp, posted.saml_response, request_id, now=now - timedelta(minutes=3))[0]
    )
    assert not failures(
        verify(saml_idp, posted.saml_response, request_id, now=now - timedelta(seconds=60))[0]
    )


def test_email_outside_domains_fails(saml_idp, login):
    request_id, url = login
    posted = saml_idp.login(url, "bob@other.example")
    checks, profile, _ = verify(saml_idp, posted.saml_response, request_id)
    assert failures(checks) == ["saml.profile.email_domain"]
    assert profile["email"] == "bob@other.example"


@pytest.mark.parametrize("attack", WRAPPING_ATTACKS)
def test_signature_wrapping_refused(saml_idp, login, attack):
    sign = "response" if attack == "xsw_response_wrap" else "assertion"
    checks, profile, _ = attacked(saml_idp, login, attack, sign=sign)
    assert failures(checks), attack
    assert profile.get("email") != EVIL_EMAIL
    assert EVIL_EMAIL not in str(profile)


@pytest.mark.parametrize("attack", [a for a in WRAPPING_ATTACKS if a != "xsw_unsigned_in_response_to"])
def test_signature_wrapping_refused_before_reading_data(saml_idp, login, attack):
    sign = "response" if attack == "xsw_response_wrap" else "assertion"
    checks, profile, _ = attacked(saml_idp, login, attack, sign=sign)
    assert set(failures(checks)) <= {"saml.response.structure", "saml.response.signature"}
    assert profile == {}


def test_in_response_to_only_trusted_from_signed_part(saml_idp, login):
    checks, _, _ = attacked(saml_idp, login, "xsw_unsigned_in_response_to")
    assert failures(checks) == ["saml.response.in_response_to"]


def test_comment_injection_reads_the_whole_signed_value(saml_idp, login):
    checks, profile, _ = attacked(saml_idp, login, "comment_injection")
    assert by_id(checks)["saml.response.signature"] == "pass"
    assert profile["email"] == "alice@example.com.evil.example"
    assert failures(checks) == ["saml.profile.email_domain"]


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_xml_in_response_refused(saml_idp, login, kind):
    payload = base64.b64encode(response_payload(kind).encode()).decode()
    checks, profile, ids = verify(saml_idp, payload, login[0])
    assert failures(checks) == ["saml.response.xml"]
    assert "DOCTYPE" in checks[0].message
    assert profile == {} and ids == {"response_id": None, "assertion_id": None}


@pytest.mark.parametrize(
    "value,message",
    [
        ("", "empty"),
        ("%%%not base64%%%", "not valid base64"),
        (base64.b64encode(b"<not-closed").decode(), "not well-formed"),
        (base64.b64encode(b'<x xmlns="urn:other"/>').decode(), "Expected a samlp:Response"),
    ],
)
def test_garbage_responses_fail_cleanly(saml_idp, login, value, message):
    checks, profile, _ = verify(saml_idp, value, login[0])
    assert len(failures(checks)) == 1
    assert message in [c for c in checks if c.status == "fail"][0].message


def test_idp_error_status_reported(saml_idp, login):
    request_id, url = login
    xml = base64.b64decode(saml_idp.login(url, "alice@example.com").saml_response).decode()
    xml = xml.replace(
        "urn:oasis:names:tc:SAML:2.0:status:Success",
        'urn:oasis:names:tc:SAML:2.0:status:Requester"/><samlp:StatusMessage>User not assigned'
        '</samlp:StatusMessage><x y="',
        1,
    )
    checks, _, _ = verify(saml_idp, base64.b64encode(xml.encode()).decode(), request_id)
    check = [c for c in checks if c.id == "saml.response.status"][0]
    assert check.status == "fail"
    assert "Requester" in check.message and "User not assigned" in check.message


def test_encrypted_assertion_explained(saml_idp, login):
    request_id, url = login
    xml = base64.b64decode(saml_idp.login(url, "alice@example.com").saml_response).decode()
    start, end = xml.index("<saml:Assertion"), xml.index("</saml:Assertion>") + len("</saml:Assertion>")
    xml = xml[:start] + "<saml:EncryptedAssertion><x/></saml:EncryptedAssertion>" + xml[end:]
    checks, _, _ = verify(saml_idp, base64.b64encode(xml.encode()).decode(), request_id)
    check = [c for c in checks if c.status == "fail"][0]
    assert "encrypted" in check.message and "Turn off assertion encryption" in check.fix


def test_unusable_metadata_fails_cleanly(saml_idp, login):
    checks, _, _ = verify(saml_idp, "PHg+", login[0], idp_metadata_xml="<nope/>")
    assert failures(checks) == ["saml.metadata.xml"]


def test_missing_xmlsec1_is_a_clear_failed_check(saml_idp, login, monkeypatch):
    request_id, url = login
    posted = saml_idp.login(url, "alice@example.com")
    monkeypatch.setattr(xmlsec, "_find_xmlsec1", lambda: None)
    xmlsec._backend.cache_clear()
    try:
        checks, profile, _ = verify(saml_idp, posted.saml_response, request_id)
    finally:
        xmlsec._backend.cache_clear()
    assert failures(checks) == ["saml.xmlsec"]
    assert "apt-get install xmlsec1" in checks[-1].message
    assert profile == {}


def test_xmlsec1_version_asked_once_not_per_signature(saml_idp, login, monkeypatch):
    from saml2 import sigver
    asked = []
    real_popen = sigver.Popen

    def counting_popen(args, *rest, **kwargs):
        if "--version" in args:
            asked.append(args)
        return real_popen(args, *rest, **kwargs)
    monkeypatch.setattr(sigver, "Popen", counting_popen)
    request_id, url = login
    posted = saml_idp.login(url, "alice@example.com")
    xmlsec._backend.cache_clear()
    try:
        assert saml.xmlsec_available() and "found at" in saml.xmlsec_status()
        for _ in range(2):
            assert not failures(verify(saml_idp, posted.saml_response, request_id, consumed_ids=set())[0])
    finally:
        xmlsec._backend.cache_clear()
    assert len(asked) == 1
