"""Console input that once reached a 500: Unicode digits, a date past the calendar, NUL in a form or an id."""

from tests.console.helpers import csrf_of, sign_in

OWNER = "owner@acme.test"


def test_unicode_digits_and_the_end_of_the_calendar_are_not_errors(client, workspace_setup, mailbox):
    ws = workspace_setup.workspace.slug
    sign_in(client, mailbox, OWNER)
    assert client.get(f"/console/w/{ws}/members?page=²").status_code == 200
    assert client.get(f"/console/w/{ws}/groups?page=²").status_code == 200
    r = client.get(f"/console/w/{ws}/log?to=9999-12-31")
    assert r.status_code in (200, 400) and "Use a date like 2026-01-31." in r.get_data(as_text=True)


def test_nul_in_a_form_or_an_id_is_refused_not_stored(client, workspace_setup, mailbox):
    ws = workspace_setup.workspace.slug
    sign_in(client, mailbox, OWNER)
    page = client.get(f"/console/w/{ws}/roles/new")
    r = client.post(f"/console/w/{ws}/roles/new", data={"name": "Bad\x00Role", "csrf_token": csrf_of(page)})
    assert r.status_code == 400
    assert "Bad" not in client.get(f"/console/w/{ws}/roles").get_data(as_text=True)
    assert client.get(f"/console/w/{ws}/members/a%00b").status_code == 404
