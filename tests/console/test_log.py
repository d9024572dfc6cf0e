"""The provisioning log page: an auditor (audit:read, audit:export only) lands on it and sees nothing else; the
filters of /events with cursor paging; a member's history; the streamed exports; Verify chain with its verdict
and the first bad event; the three reports; bad filter values come back beside their field."""

import csv
import io
import json
import re

import pytest

from models.db import db
from models.events import ProvisioningEvent as E
from models.services import mutation
from tests import factories
from tests.console.helpers import sign_in

AUDITOR = "auditor@acme.test"
OWNER_EMAIL = "owner@acme.test"


@pytest.fixture
def auditor(app, workspace_setup):
    """A member whose only role grants audit:read and audit:export; and some SCIM traffic to read."""
    s = workspace_setup
    with app.app_context(), db.connection_context():
        factories.make_role(s.workspace, "Auditor", ["audit:read", "audit:export"])
        factories.make_member(s.workspace, AUDITOR, {"dev": "Auditor"})
    for email, active in (("ada@acme.test", True), ("linus@acme.test", False)):
        r = s.scim_client.post("/scim/v2/Users", json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email, "active": active})
        assert r.status_code == 201, r.json
    r = s.scim_client.post("/scim/v2/Users", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]})
    assert r.status_code == 400  # a refused request, in the log as a failure
    return s


def _seqs(html):
    return [int(x) for x in re.findall(r'<tr data-seq="(\d+)"', html)]


def test_auditor_lands_on_the_log_and_sees_nothing_else(app, client, auditor, mailbox):
    ws = auditor.workspace.slug
    r = sign_in(client, mailbox, AUDITOR)
    r = client.get(f"/console/w/{ws}/")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/console/w/{ws}/log")
    html = client.get(f"/console/w/{ws}/log").get_data(as_text=True)
    nav = html.split('class="sidenav"')[1].split("</nav>")[0]
    assert "Provisioning log" in nav and "Members" not in nav and "Overview" not in nav and "SCIM" not in nav
    assert "ada@acme.test" in html and 'id="export-form"' in html
    for path in ("members", "scim", "members/invite"):
        assert client.get(f"/console/w/{ws}/{path}").status_code == 403, path


def test_filters_paging_and_history(app, client, auditor, mailbox, monkeypatch):
    ws = auditor.workspace.slug
    sign_in(client, mailbox, OWNER_EMAIL)
    everything = _seqs(client.get(f"/console/w/{ws}/log").get_data(as_text=True))
    assert everything == sorted(everything, reverse=True) and len(everything) >= 6

    html = client.get(f"/console/w/{ws}/log?outcome=failure").get_data(as_text=True)
    assert len(_seqs(html)) == 1 and "Refused 400" in html
    html = client.get(f"/console/w/{ws}/log?operation=user.*&outcome=success").get_data(as_text=True)
    assert len(_seqs(html)) == 2 and "ada@acme.test" in html and "linus@acme.test" in html
    assert 'value="user.*" selected' in html  # the form comes back filled in
    html = client.get(f"/console/w/{ws}/log?actor=nobody@else.test").get_data(as_text=True)
    assert _seqs(html) == [] and "No event matches these filters." in html

    import console.log
    monkeypatch.setattr(console.log, "PAGE_SIZE", 2)
    first = client.get(f"/console/w/{ws}/log").get_data(as_text=True)
    older = re.search(r'href="([^"]+)" id="older-page"', first).group(1).replace("&amp;", "&")
    second = client.get(older).get_data(as_text=True)
    assert _seqs(first) == everything[:2] and _seqs(second) == everything[2:4]
    assert 'id="newest-page"' in second

    with app.app_context(), db.connection_context():
        ada = E.get(E.operation == "user.created", E.target_name == "ada@acme.test").target_id
    html = client.get(f"/console/w/{ws}/log?subject={ada}").get_data(as_text=True)
    assert 'id="history-notice"' in html and "History of <strong>ada@acme.test</strong>" in html
    assert "linus@acme.test" not in html

    r = client.get(f"/console/w/{ws}/log?from=yesterday&outcome=maybe&cursor=zzz")
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and 'id="from-error"' in html and 'id="outcome-error"' in html
    assert 'value="yesterday"' in html
    r = client.get(f"/console/w/{ws}/log?cursor=zzz")
    assert r.status_code == 400 and "Invalid cursor" in r.get_data(as_text=True)
    r = client.get(f"/console/w/{ws}/log?from=2026-02-01&to=2026-01-01")
    assert r.status_code == 400 and 'id="to-error"' in r.get_data(as_text=True)


def test_event_page_and_other_workspaces(app, client, auditor, mailbox):
    ws = auditor.workspace.slug
    with app.app_context(), db.connection_context():
        other, _ = factories.make_workspace("Other", owner_email="boss@other.test")
        foreign = E.get(E.workspace_id == other.id).id
        mine = E.get(E.operation == "user.created", E.target_name == "ada@acme.test").id
    sign_in(client, mailbox, AUDITOR)
    html = client.get(f"/console/w/{ws}/log/events/{mine}").get_data(as_text=True)
    assert "user.created" in html and 'id="event-after"' in html and "ada@acme.test" in html
    assert client.get(f"/console/w/{ws}/log/events/{foreign}").status_code == 404
    assert client.get(f"/console/w/{other.slug}/log").status_code == 404
    assert client.get(f"/console/w/{ws}/log/reports/nonsense").status_code == 404


def test_exports_stream_csv_and_json_lines(app, client, auditor, mailbox):
    ws = auditor.workspace.slug
    sign_in(client, mailbox, AUDITOR)
    r = client.get(f"/console/w/{ws}/log/export?format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv" and r.is_streamed
    assert r.headers["Content-Disposition"] == f'attachment; filename="{ws}-events.csv"'
    table = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    with app.app_context(), db.connection_context():
        count = E.select().where(E.workspace_id == auditor.workspace.id).count()
    assert len(table) == count and {"ada@acme.test", "linus@acme.test"} <= {t["target_name"] for t in table}
    r = client.get(f"/console/w/{ws}/log/export?format=jsonl&from=2000-01-01")
    lines = [json.loads(line) for line in r.get_data(as_text=True).splitlines()]
    assert r.mimetype == "application/x-ndjson" and len(lines) == count and lines[0]["seq"] == 1
    r = client.get(f"/console/w/{ws}/log/export?format=xml")
    assert r.status_code == 400 and "text/html" in r.content_type and "CSV or JSON Lines" in r.get_data(as_text=True)


def test_export_needs_audit_export(app, client, auditor, mailbox):
    with app.app_context(), db.connection_context():
        factories.make_role(auditor.workspace, "Reader", ["audit:read"])
        factories.make_member(auditor.workspace, "reader@acme.test", {"dev": "Reader"})
    sign_in(client, mailbox, "reader@acme.test")
    ws = auditor.workspace.slug
    assert 'id="export-form"' not in client.get(f"/console/w/{ws}/log").get_data(as_text=True)
    assert client.get(f"/console/w/{ws}/log/export?format=csv").status_code == 403


def test_verify_shows_the_verdict_and_the_first_bad_event(app, client, auditor, mailbox):
    ws = auditor.workspace.slug
    sign_in(client, mailbox, AUDITOR)
    intro = client.get(f"/console/w/{ws}/log/verify").get_data(as_text=True)
    assert 'id="verify-button"' in intro and 'id="verdict"' not in intro
    html = client.get(f"/console/w/{ws}/log/verify?run=1").get_data(as_text=True)
    with app.app_context(), db.connection_context():
        count = E.select().where(E.workspace_id == auditor.workspace.id).count()
        target = E.get(E.operation == "user.created", E.target_name == "linus@acme.test")
        E.update(target_name="mallory@acme.test").where(E.id == target.id).execute()
    assert "The chain is intact" in html and f'<strong id="verdict-checked">{count}</strong>' in html
    html = client.get(f"/console/w/{ws}/log/verify?run=1").get_data(as_text=True)
    assert f"The chain is broken at event {target.seq}" in html and "modified" in html
    assert 'id="bad-event"' in html and "mallory@acme.test" in html


def test_the_three_reports(app, client, auditor, mailbox):
    s, ws = auditor, auditor.workspace.slug
    with app.app_context(), db.connection_context():
        with mutation(s.workspace, factories.CLI):
            pass
    linus = s.scim_client.get("/scim/v2/Users?filter=userName eq \"linus@acme.test\"").json["Resources"][0]["id"]
    assert s.scim_client.delete(f"/scim/v2/Users/{linus}").status_code == 204
    sign_in(client, mailbox, AUDITOR)
    html = client.get(f"/console/w/{ws}/log/reports/daily-operations").get_data(as_text=True)
    assert 'id="report-table"' in html and "user.created" in html and "invitation" not in html.split("<tbody>")[1]
    html = client.get(f"/console/w/{ws}/log/reports/deprovisioning").get_data(as_text=True)
    assert '<p class="stat-value" id="deprov-count">1</p>' in html and "linus@acme.test" in html
    html = client.get(f"/console/w/{ws}/log/reports/access?environment=dev").get_data(as_text=True)
    assert OWNER_EMAIL in html and AUDITOR in html and "audit:export" in html
    r = client.get(f"/console/w/{ws}/log/reports/access?environment=moon")
    assert r.status_code == 400 and 'id="environment-error"' in r.get_data(as_text=True)
    r = client.get(f"/console/w/{ws}/log/reports/daily-operations?from=nope")
    assert r.status_code == 400 and 'id="from-error"' in r.get_data(as_text=True)
