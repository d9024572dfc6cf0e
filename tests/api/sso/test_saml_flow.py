"""SAML test sign-ins end to end: API -> in-process pysaml2 IdP -> POST /sso/{id}/acs -> result and page."""

import base64
import hashlib
from urllib.parse import parse_qs, urlsplit

import pytest

from idp_fixtures.sso.saml_idp import WRAPPING_ATTACKS
from models.db import db
from models.directory import Member, Person
from models.sso import SsoTestRun
from tests.sso.payloads import response_payload

from .helpers import checks_by_id, connections_url, create_saml, failed_ids, get_run, start_test


def post_acs(client, posted, **overrides):
    form = dict(posted.form)
    form.update(overrides)
    form = {k: v for k, v in form.items() if v is not None}
    return client.post(urlsplit(posted.acs_url).path, data=form)


@pytest.fixture
def saml_setup(workspace_setup, saml_idp):
    s = workspace_setup
    connection = create_saml(s.admin_client, s.workspace, saml_idp)
    return s, connection


def test_round_trip_passes_and_creates_no_member(app, client, saml_setup, saml_idp):
    s, connection = saml_setup
    run = start_test(s.admin_client, s.workspace, connection)
    assert run["status"] == "pending_login"
    assert run["login_url"].startswith(saml_idp.sso_url + "?SAMLRequest=")
    assert {c["stage"] for c in run["checks"]} == {"metadata"}  # the static checks come first
    pending = get_run(s.admin_client, s.workspace, connection, run)
    assert pending["status"] == "pending_login" and pending["login_url"] is None  # answered once, never stored

    with app.app_context(), db.connection_context():
        members_before, people_before = Member.select().count(), Person.select().count()
    posted = saml_idp.login(run["login_url"], "alice@example.com")
    assert posted.acs_url == f"http://roster.test/sso/{connection['id']}/acs"
    page = post_acs(client, posted)
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert 'data-status="passed"' in html and "alice@example.com" in html
    assert "no member was created" in html
    assert page.headers["Cache-Control"] == "no-store"
    assert "Set-Cookie" not in page.headers  # a test never creates a session

    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "passed", failed_ids(result)
    assert result["login_url"] is None and result["finished_at"]
    assert result["profile"]["email"] == "alice@example.com"
    assert result["profile"]["given_name"] == "Test"
    checks = checks_by_id(result)
    for check_id in ("saml.response.signature", "saml.assertion.audience", "saml.response.destination",
                     "saml.assertion.recipient", "saml.response.in_response_to", "saml.profile.email_domain"):
        assert checks[check_id] == ["pass"]
    with app.app_context(), db.connection_context():
        assert (Member.select().count(), Person.select().count()) == (members_before, people_before)
    shown = s.admin_client.get(f"{connections_url(s.workspace)}/{connection['id']}").json
    assert shown["last_test"]["id"] == run["id"] and shown["last_test"]["status"] == "passed"


def test_run_state_is_in_the_database(app, saml_setup):
    s, connection = saml_setup
    run = start_test(s.admin_client, s.workspace, connection)
    with app.app_context(), db.connection_context():
        row = SsoTestRun.get_by_id(run["id"])
        assert row.request_id.startswith("id-") and len(row.state_hash) == 64
        state = dict(p.split("=", 1) for p in urlsplit(run["login_url"]).query.split("&"))["RelayState"]
        assert state not in row.state_hash  # only the hash of the RelayState is stored


@pytest.mark.parametrize("sign", ["response", "both"])
def test_signed_response_variants_pass(client, saml_setup, saml_idp, sign):
    s, connection = saml_setup
    run = start_test(s.admin_client, s.workspace, connection)
    page = post_acs(client, saml_idp.login(run["login_url"], "alice@example.com", sign=sign))
    assert page.status_code == 200
    assert get_run(s.admin_client, s.workspace, connection, run)["status"] == "passed"


@pytest.mark.parametrize("attack,expected", [
    ("tamper", ["saml.response.signature"]),
    ("other_key", ["saml.response.signature"]),
    ("expired", ["saml.assertion.subject_confirmation", "saml.assertion.validity"]),
    ("not_yet_valid", ["saml.assertion.validity"]),
    ("wrong_audience", ["saml.assertion.audience"]),
    ("wrong_destination", ["saml.response.destination"]),
    ("wrong_recipient", ["saml.assertion.recipient"]),
    ("unsolicited", ["saml.response.in_response_to"]),
    ("wrong_issuer", ["saml.assertion.issuer"]),
])
def test_attacks_fail_the_run(client, saml_setup, saml_idp, attack, expected):
    s, connection = saml_setup
    run = start_test(s.admin_client, s.workspace, connection)
    page = post_acs(client, saml_idp.login(run["login_url"], "alice@example.com", attack=attack))
    assert page.status_code == 200 and 'data-status="failed"' in page.get_data(as_text=True)
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "failed"
    assert failed_ids(result) == sorted(expected)
    shown = s.admin_client.get(f"{connections_url(s.workspace)}/{connection['id']}").json
    assert shown["last_test"]["status"] == "failed"


def test_unsigned_response_fails(client, saml_setup, saml_idp):
    s, connection = saml_setup
    run = start_test(s.admin_client, s.workspace, connection)
    post_acs(client, saml_idp.login(run["login_url"], "alice@example.com", sign="none"))
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "failed" and failed_ids(result) == ["saml.response.signature"]
    assert result["profile"] is None  # nothing unverified is kept


@pytest.mark.parametrize("attack", WRAPPING_ATTACKS + ("comment_injection",))
def test_signature_wrapping_never_passes_a_forged_identity(client, saml_setup, saml_idp, attack):
    s, connection = saml_setup
    run = start_test(s.admin_client, s.workspace, connection)
    sign = "response" if attack == "xsw_response_wrap" else "assertion"  # XSW1 wraps a signed response
    post_acs(client, saml_idp.login(run["login_url"], "alice@example.com", attack=attack, sign=sign))
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "failed"
    assert "mallory@evil.example" not in str(result["profile"])


def test_email_outside_the_domains_fails(client, saml_setup, saml_idp):
    s, connection = saml_setup
    run = start_test(s.admin_client, s.workspace, connection)
    post_acs(client, saml_idp.login(run["login_url"], "bob@elsewhere.test"))
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "failed" and failed_ids(result) == ["saml.profile.email_domain"]


def test_replayed_response_refused(client, saml_setup, saml_idp):
    s, connection = saml_setup
    run = start_test(s.admin_client, s.workspace, connection)
    posted = saml_idp.login(run["login_url"], "alice@example.com")
    assert post_acs(client, posted).status_code == 200
    # The same POST again: the run already has its answer.
    again = post_acs(client, posted)
    assert again.status_code == 409 and "replay" in again.get_data(as_text=True)
    assert get_run(s.admin_client, s.workspace, connection, run)["status"] == "passed"
    # The same response delivered to a new run: its ids were consumed (and it answers another request).
    second = start_test(s.admin_client, s.workspace, connection)
    relay = dict(p.split("=", 1) for p in urlsplit(second["login_url"]).query.split("&"))["RelayState"]
    from urllib.parse import unquote
    page = post_acs(client, posted, RelayState=unquote(relay))
    assert page.status_code == 200
    result = get_run(s.admin_client, s.workspace, connection, second)
    assert result["status"] == "failed"
    assert checks_by_id(result)["saml.response.replay"] == ["fail"]


def test_unsolicited_post_without_relay_state(client, saml_setup, saml_idp):
    s, connection = saml_setup
    run = start_test(s.admin_client, s.workspace, connection)
    posted = saml_idp.login(run["login_url"], "alice@example.com", attack="unsolicited")
    page = post_acs(client, posted, RelayState=None)
    assert page.status_code == 404 and "no test run reference" in page.get_data(as_text=True)
    assert get_run(s.admin_client, s.workspace, connection, run)["status"] == "pending_login"
    unknown = post_acs(client, posted, RelayState="made-up")
    assert unknown.status_code == 404


@pytest.mark.parametrize("kind", ["xxe_system", "xxe_parameter", "billion_laughs"])
def test_hostile_xml_response_fails(client, saml_setup, saml_idp, kind):
    s, connection = saml_setup
    run = start_test(s.admin_client, s.workspace, connection)
    posted = saml_idp.login(run["login_url"], "alice@example.com")
    hostile = base64.b64encode(response_payload(kind).encode()).decode()
    page = post_acs(client, posted, SAMLResponse=hostile)
    assert page.status_code == 200
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "failed" and failed_ids(result) == ["saml.response.xml"]
    assert "root:" not in page.get_data(as_text=True)


def test_garbage_and_missing_response(client, saml_setup, saml_idp):
    s, connection = saml_setup
    run = start_test(s.admin_client, s.workspace, connection)
    posted = saml_idp.login(run["login_url"], "alice@example.com")
    assert post_acs(client, posted, SAMLResponse=None).status_code == 400
    page = post_acs(client, posted, SAMLResponse="%%%not base64%%%")
    assert page.status_code == 200
    assert get_run(s.admin_client, s.workspace, connection, run)["status"] == "failed"
    assert client.post("/sso/nope/acs", data={"SAMLResponse": "x"}).status_code == 404


def test_certificate_rotation_is_explained_with_both_fingerprints(client, saml_setup, saml_idp):
    s, connection = saml_setup
    old = saml_idp.key
    saml_idp.rotate_key()
    run = start_test(s.admin_client, s.workspace, connection)
    page = post_acs(client, saml_idp.login(run["login_url"], "alice@example.com"))
    html = page.get_data(as_text=True)
    result = get_run(s.admin_client, s.workspace, connection, run)
    signature = [c for c in result["checks"] if c["id"] == "saml.response.signature"][0]
    assert signature["status"] == "fail" and signature["detail"]["probable_cause"] == "certificate_rotated"
    old_fp, new_fp = signature["detail"]["metadata_sha256"][0], signature["detail"]["response_sha256"]
    assert old_fp != new_fp
    assert 'id="rotation-hint"' in html and old_fp in html and new_fp in html
    assert old.cert_b64 != saml_idp.key.cert_b64


def test_expired_run(app, client, saml_setup, saml_idp):
    import datetime
    s, connection = saml_setup
    run = start_test(s.admin_client, s.workspace, connection)
    posted = saml_idp.login(run["login_url"], "alice@example.com")
    with app.app_context(), db.connection_context():
        past = datetime.datetime(2000, 1, 1)
        SsoTestRun.update(expires_at=past).where(SsoTestRun.id == run["id"]).execute()
    page = post_acs(client, posted)
    assert page.status_code == 410
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "expired" and result["login_url"] is None


def test_static_checks_fail_when_metadata_has_no_redirect_endpoint(client, workspace_setup, saml_idp):
    s = workspace_setup
    xml = saml_idp.metadata_xml.replace("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect",
                                        "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact")
    r = s.admin_client.post(connections_url(s.workspace), json={
        "provider": "saml", "name": "POST only", "domains": ["example.com"], "config": {"metadata_xml": xml}})
    assert r.status_code == 201, r.json
    run = start_test(s.admin_client, s.workspace, r.json)
    assert run["status"] == "failed" and run["login_url"] is None
    assert checks_by_id(run)["saml.metadata.redirect_binding"] == ["fail"]


def test_run_of_another_connection_is_not_found(client, saml_setup, saml_idp):
    s, connection = saml_setup
    other = create_saml(s.admin_client, s.workspace, saml_idp, domains=["example.org"], name="Second")
    run = start_test(s.admin_client, s.workspace, connection)
    url = f"{connections_url(s.workspace)}/{other['id']}/tests/{run['id']}"
    assert s.admin_client.get(url).status_code == 404
    # The answer for one connection's run cannot be delivered to another connection's ACS.
    posted = saml_idp.login(run["login_url"], "alice@example.com")
    assert client.post(f"/sso/{other['id']}/acs", data=posted.form).status_code == 404


def test_missing_xmlsec1_fails_the_run_clearly(client, saml_setup, saml_idp, monkeypatch):
    from sso import saml
    from sso.saml import xmlsec

    s, connection = saml_setup
    run = start_test(s.admin_client, s.workspace, connection)
    posted = saml_idp.login(run["login_url"], "alice@example.com")

    def missing():
        raise saml.XmlsecMissingError("xmlsec1 not found: SAML sign-in tests cannot verify signatures")
    monkeypatch.setattr(xmlsec, "_backend", missing)
    page = post_acs(client, posted)
    assert page.status_code == 200
    result = get_run(s.admin_client, s.workspace, connection, run)
    assert result["status"] == "failed" and failed_ids(result) == ["saml.xmlsec"]
    assert "xmlsec1 not found" in page.get_data(as_text=True)


def test_login_link_and_state_are_not_stored(app, client, saml_setup, saml_idp):
    """Finding 6: the link (with its RelayState) is answered once; the database holds only the state's hash."""
    s, connection = saml_setup
    run = start_test(s.admin_client, s.workspace, connection)
    relay_state = parse_qs(urlsplit(run["login_url"]).query)["RelayState"][0]
    with app.app_context(), db.connection_context():
        row = SsoTestRun.get_by_id(run["id"])
        stored = repr(row.__data__)
    assert row.login_url is None and relay_state not in stored and "SAMLRequest" not in stored
    assert row.state_hash == hashlib.sha256(relay_state.encode()).hexdigest()


def test_readers_see_the_verdict_not_the_profile_nor_the_link(app, client, saml_setup, saml_idp):
    """Finding 6: sso:read sees status and checks; the profile is for the starter and sso:manage holders."""
    from tests import factories
    from tests.conftest import AuthClient

    s, connection = saml_setup
    with app.app_context(), db.connection_context():
        _, reader = factories.make_member(s.workspace, "reader@acme.test", {"dev": "Readonly"})
        factories.make_role(s.workspace, "Tester", ["sso:read", "sso:test"])
        _, tester = factories.make_member(s.workspace, "tester@acme.test", {"dev": "Tester"})
        _, other_tester = factories.make_member(s.workspace, "tester2@acme.test", {"dev": "Tester"})
        reader_client = AuthClient(client, factories.make_personal_token(reader))
        tester_client = AuthClient(client, factories.make_personal_token(tester))
        other_client = AuthClient(client, factories.make_personal_token(other_tester))
    run = start_test(tester_client, s.workspace, connection)
    assert run["login_url"]
    for viewer in (reader_client, other_client, tester_client, s.admin_client):
        pending = get_run(viewer, s.workspace, connection, run)
        assert pending["status"] == "pending_login" and pending["login_url"] is None
    assert post_acs(client, saml_idp.login(run["login_url"], "alice@example.com")).status_code == 200
    for viewer, sees in ((reader_client, False), (other_client, False), (tester_client, True),
                         (s.admin_client, True)):
        done = get_run(viewer, s.workspace, connection, run)
        assert done["status"] == "passed" and done["checks"]
        assert (done["profile"] is not None) == sees
        if sees:
            assert done["profile"]["email"] == "alice@example.com"


@pytest.mark.parametrize("location", ["javascript:alert(document.cookie)//", "data:text/html,x",
                                      "vbscript:msgbox(1)"])
def test_non_http_sso_endpoint_fails_and_issues_no_link(workspace_setup, saml_idp, location):
    """Finding 6: a javascript: (or other non-http(s)) SingleSignOnService is a failed check, and no link."""
    s = workspace_setup
    xml = saml_idp.metadata_xml.replace(saml_idp.sso_url, location)
    assert xml != saml_idp.metadata_xml
    created = s.admin_client.post(connections_url(s.workspace), json={
        "provider": "saml", "name": "Evil", "domains": ["example.com"], "config": {"metadata_xml": xml}})
    assert created.status_code == 201, created.json
    run = start_test(s.admin_client, s.workspace, created.json)
    assert run["status"] == "failed" and run["login_url"] is None
    assert "saml.metadata.sso_endpoint_url" in failed_ids(run)


def test_check_ids_are_unique_in_a_saml_run(client, saml_setup, saml_idp):
    """Finding 9, SAML side."""
    s, connection = saml_setup
    run = start_test(s.admin_client, s.workspace, connection)
    post_acs(client, saml_idp.login(run["login_url"], "alice@example.com"))
    ids = [c["id"] for c in get_run(s.admin_client, s.workspace, connection, run)["checks"]]
    assert len(ids) == len(set(ids))


def test_sha1_needs_the_connection_opt_in_and_activation_an_acknowledgement(client, workspace_setup):
    """Finding 3: SHA-1 fails; allow_sha1 makes it a warning; activation needs that warning acknowledged."""
    from idp_fixtures.sso.saml_idp import SamlIdp

    s = workspace_setup
    idp = SamlIdp(sha1=True)
    try:
        connection = create_saml(s.admin_client, s.workspace, idp)
        url = f"{connections_url(s.workspace)}/{connection['id']}"
        run = start_test(s.admin_client, s.workspace, connection)
        post_acs(client, idp.login(run["login_url"], "alice@example.com"))
        result = get_run(s.admin_client, s.workspace, connection, run)
        assert result["status"] == "failed" and failed_ids(result) == ["saml.response.signature_algorithm"]

        opted = s.admin_client.patch(url, json={"config": {"metadata_xml": idp.metadata_xml, "allow_sha1": True}})
        assert opted.status_code == 200 and opted.json["config"]["allow_sha1"] is True
        run = start_test(s.admin_client, s.workspace, connection)
        post_acs(client, idp.login(run["login_url"], "alice@example.com"))
        result = get_run(s.admin_client, s.workspace, connection, run)
        assert result["status"] == "passed_with_warnings"
        assert checks_by_id(result)["saml.response.signature_algorithm"] == ["warn"]

        refused = s.admin_client.patch(url, json={"status": "active"})
        assert refused.status_code == 409 and "saml.response.signature_algorithm" in refused.json["message"]
        partial = s.admin_client.patch(url, json={"status": "active", "acknowledge_warnings": ["other"]})
        assert partial.status_code == 409
        active = s.admin_client.patch(url, json={"status": "active",
                                                 "acknowledge_warnings": ["saml.response.signature_algorithm"]})
        assert active.status_code == 200 and active.json["status"] == "active"
        assert active.json["last_test"]["acknowledged"] == ["saml.response.signature_algorithm"]
    finally:
        idp.close()
