from datetime import datetime, timedelta, timezone

import pytest

from idp_fixtures.sso import SHAPES, make_signing_key, render_metadata
from sso import saml
from sso.saml import MetadataError, check_metadata, parse_metadata, xmlsec
from sso.saml.base import _parse_instant

from .helpers import by_id, failures
from .payloads import HOSTILE, metadata_payload

SSO = "https://idp.example.test/sso"


def shaped(shape="okta", key=None, **kwargs):
    key = key or make_signing_key()
    return (
        render_metadata(
            shape,
            entity_id=f"https://{shape}.example.test/entity",
            sso_url=SSO,
            certificate_b64=key.cert_b64,
            key_pem=key.key_pem,
            **kwargs,
        ),
        key,
    )


@pytest.mark.parametrize("shape", SHAPES)
def test_vendor_shapes_pass(shape):
    xml, key = shaped(shape)
    checks = check_metadata(xml)
    assert failures(checks) == []
    assert not [c for c in checks if c.status == "warn"]
    meta = parse_metadata(xml)
    assert meta.entity_id == f"https://{shape}.example.test/entity"
    assert meta.sso_url() == SSO
    assert meta.signing_certificates[0].sha256 == saml.certificate_info(key.cert_b64).sha256


def test_certificate_facts_reported():
    xml, key = shaped("okta")
    info = [c for c in check_metadata(xml) if c.id == "saml.metadata.certificate"][0]
    assert info.detail["subject"] == "O=Roster test fixtures,CN=Roster Test IdP"
    assert len(info.detail["sha256"]) == 95 and info.detail["sha256"].count(":") == 31
    assert info.detail["not_after"].endswith("Z")


def test_pasted_with_declaration_whitespace_and_bom():
    xml, _ = shaped("google")
    pasted = "\ufeff\n   " + xml + "\n\n"
    assert parse_metadata(pasted).entity_id.endswith("/entity")
    assert parse_metadata(pasted.encode("utf-8")).entity_id.endswith("/entity")
    assert failures(check_metadata(pasted)) == []


def test_signed_metadata_verifies():
    xml, key = shaped("entra")
    # Finding 2: verifying with the certificate the metadata itself carries proves integrity only: no PASS.
    own = [c for c in check_metadata(xml) if c.id == "saml.metadata.signature"][0]
    assert own.status == "info" and "not who published it" in own.message
    # With the certificate pinned at import, a signature that verifies is a PASS …
    pinned = [saml.certificate_info(key.cert_b64)]
    assert by_id(check_metadata(xml, pinned=pinned))["saml.metadata.signature"] == "pass"
    # … and metadata signed by a new key, pinned elsewhere, is not.
    other, _ = shaped("entra")
    assert by_id(check_metadata(other, pinned=pinned))["saml.metadata.signature"] == "info"


def test_edited_signed_metadata_warns():
    xml, _ = shaped("entra")
    edited = xml.replace("Email address of the user", "Changed")
    assert by_id(check_metadata(edited))["saml.metadata.signature"] == "warn"


def test_sha1_signed_metadata_fails_unless_the_connection_allows_it():
    xml, _ = shaped("entra", sha1=True)
    check = [c for c in check_metadata(xml) if c.id == "saml.metadata.signature_algorithm"][0]
    assert check.status == "fail"
    assert "SHA-1" in check.message and "allow_sha1" in check.message
    check = [c for c in check_metadata(xml, allow_sha1=True) if c.id == "saml.metadata.signature_algorithm"][0]
    assert check.status == "warn"
    assert "SHA-1" in check.message


def test_md5_signed_metadata_fails_always():
    xml, _ = shaped("entra")
    md5 = xml.replace("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
                      "http://www.w3.org/2001/04/xmldsig-more#rsa-md5")
    assert md5 != xml
    for allow_sha1 in (False, True):
        check = [c for c in check_metadata(md5, allow_sha1=allow_sha1)
                 if c.id == "saml.metadata.signature_algorithm"][0]
        assert check.status == "fail" and "rsa-md5" in check.message


def test_certificates_per_metadata_are_bounded():
    """Finding 5: every certificate may start an xmlsec1 process; more than 10 is refused."""
    xml, key = shaped("okta")
    descriptor = xml[xml.index("<md:KeyDescriptor"):xml.index("</md:KeyDescriptor>") + len("</md:KeyDescriptor>")]
    many = xml.replace(descriptor, descriptor * 11)
    with pytest.raises(MetadataError, match="11 signing certificates"):
        parse_metadata(many)
    assert failures(check_metadata(many)) == ["saml.metadata.xml"]
    assert parse_metadata(xml.replace(descriptor, descriptor * 10)).entity_id


def test_check_ids_are_unique_with_several_certificates():
    """Finding 9: one check per certificate no longer repeats an id."""
    xml, _ = shaped("okta")
    descriptor = xml[xml.index("<md:KeyDescriptor"):xml.index("</md:KeyDescriptor>") + len("</md:KeyDescriptor>")]
    second = make_signing_key("Next")
    xml = xml.replace(descriptor, descriptor + descriptor.replace(_cert_of(descriptor), second.cert_b64))
    ids = [c.id for c in check_metadata(xml)]
    assert len(ids) == len(set(ids))
    assert "saml.metadata.certificate#2" in ids and "saml.metadata.certificate_expiry#2" in ids


def _cert_of(descriptor):
    start = descriptor.index("X509Certificate>") + len("X509Certificate>")
    return descriptor[start:descriptor.index("</", start)]


def test_expired_certificate_fails():
    now = datetime.now(timezone.utc)
    key = make_signing_key(not_before=now - timedelta(days=400), not_after=now - timedelta(days=1))
    xml, _ = shaped("okta", key=key)
    check = [c for c in check_metadata(xml) if c.id == "saml.metadata.certificate_expiry"][0]
    assert check.status == "fail"
    assert "expired" in check.message


def test_certificate_expiring_within_30_days_warns():
    key = make_signing_key(valid_days=10)
    xml, _ = shaped("okta", key=key)
    check = [c for c in check_metadata(xml) if c.id == "saml.metadata.certificate_expiry"][0]
    assert check.status == "warn"
    assert "expires in 9 day" in check.message or "expires in 10 day" in check.message


def test_certificate_expiry_uses_given_now():
    xml, _ = shaped("okta")
    later = datetime.now(timezone.utc) + timedelta(days=400)
    assert by_id(check_metadata(xml, now=later))["saml.metadata.certificate_expiry"] == "fail"


def test_expired_valid_until_fails():
    xml, _ = shaped("google", valid_until=datetime.now(timezone.utc) - timedelta(days=1))
    assert by_id(check_metadata(xml))["saml.metadata.valid_until"] == "fail"


def test_post_only_idp_fails_redirect_check():
    xml, _ = shaped("okta")
    xml = xml.replace(
        'Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location', 'Binding="x" Location'
    )
    assert by_id(check_metadata(xml))["saml.metadata.redirect_binding"] == "fail"
    with pytest.raises(MetadataError, match="HTTP-Redirect"):
        saml.start_login(xml, "sp", "https://sp/acs", "r")


def test_plain_http_endpoint_warns():
    key = make_signing_key()
    xml = render_metadata(
        "okta", entity_id="e", sso_url="http://idp.example.test/sso", certificate_b64=key.cert_b64
    )
    assert by_id(check_metadata(xml))["saml.metadata.sso_endpoint_url"] == "warn"


def test_nameid_formats_without_email_warn():
    xml, _ = shaped("google")
    xml = xml.replace(
        "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
    )
    assert by_id(check_metadata(xml))["saml.metadata.nameid_formats"] == "warn"


def test_missing_certificate_fails():
    xml, key = shaped("okta")
    xml = xml.replace(key.cert_b64, "")
    assert by_id(check_metadata(xml))["saml.metadata.certificate"] == "fail"
    with pytest.raises(MetadataError, match="no usable signing certificate"):
        parse_metadata(xml)


def test_garbage_certificate_fails():
    xml, key = shaped("okta")
    xml = xml.replace(key.cert_b64, "bm90IGEgY2VydA==")
    checks = check_metadata(xml)
    assert "saml.metadata.certificate" in failures(checks)


def test_sp_metadata_is_not_idp_metadata():
    sp = saml.sp_metadata("https://roster.test/sso/1/metadata", "https://roster.test/sso/1/acs")
    with pytest.raises(MetadataError, match="service provider metadata"):
        parse_metadata(sp)
    assert failures(check_metadata(sp)) == ["saml.metadata.xml"]


def test_entities_descriptor_with_one_idp():
    xml, _ = shaped("okta")
    body = xml.split("?>", 1)[1]
    namespace = 'xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata"'
    wrapped = f"<md:EntitiesDescriptor {namespace}>{body}</md:EntitiesDescriptor>"
    assert parse_metadata(wrapped).entity_id.endswith("/entity")
    with pytest.raises(MetadataError, match="2 identity providers"):
        parse_metadata(wrapped.replace(body, body + body))


def test_missing_entity_id():
    xml, _ = shaped("okta")
    xml = xml.replace('entityID="https://okta.example.test/entity"', "")
    assert by_id(check_metadata(xml))["saml.metadata.entity_id"] == "fail"
    with pytest.raises(MetadataError, match="entityID"):
        parse_metadata(xml)


@pytest.mark.parametrize("text", ["", "   ", "not xml", "<md:EntityDescriptor", '{"json": true}'])
def test_not_xml(text):
    with pytest.raises(MetadataError):
        parse_metadata(text)
    assert failures(check_metadata(text)) == ["saml.metadata.xml"]


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_metadata_refused(kind):
    payload = metadata_payload(kind)
    with pytest.raises(MetadataError, match="DOCTYPE"):
        parse_metadata(payload)
    checks = check_metadata(payload)
    assert failures(checks) == ["saml.metadata.xml"]
    assert "root:" not in checks[0].message


def test_sp_metadata_content():
    xml = saml.sp_metadata("https://roster.test/sso/1/metadata", "https://roster.test/sso/1/acs")
    root = saml.parse_xml(xml)
    assert root.get("entityID") == "https://roster.test/sso/1/metadata"
    acs = root.find(".//{urn:oasis:names:tc:SAML:2.0:metadata}AssertionConsumerService")
    assert acs.get("Location") == "https://roster.test/sso/1/acs"
    assert acs.get("Binding") == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    nameid = root.find(".//{urn:oasis:names:tc:SAML:2.0:metadata}NameIDFormat")
    assert nameid.text == saml.NAMEID_EMAIL
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')


def test_xmlsec_status_names_binary():
    assert saml.xmlsec_available() is True
    assert "xmlsec1" in saml.xmlsec_status() and "found at" in saml.xmlsec_status()


def test_xmlsec_missing_message(monkeypatch):
    monkeypatch.setattr(xmlsec, "_find_xmlsec1", lambda: None)
    assert "apt-get install xmlsec1" in saml.xmlsec_status()


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_valid_until_outside_the_calendar_fails_cleanly(value):
    import re

    xml, _ = shaped("google")
    xml = re.sub(r'validUntil="[^"]*"', f'validUntil="{value}"', xml)
    assert by_id(check_metadata(xml))["saml.metadata.valid_until"] == "warn"  # unreadable, as any bad date
    assert parse_metadata(xml).valid_until is None
    with pytest.raises(ValueError, match="representable"):
        _parse_instant(value)
