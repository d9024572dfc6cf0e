"""Request ids and the request log: X-Request-ID taken when valid, made otherwise, answered on every response
and written on the request's provisioning events; one JSON line per request without secrets."""

import io
import json
import logging

import pytest

from models.db import db
from models.events import ProvisioningEvent
from web.logging import JsonFormatter, request_id_from

USER = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bjensen@example.com"}


@pytest.mark.parametrize("sent", ["entra-sync.42", "a", "A" * 64, "0f8fad5b-d9cb-469f-a165-70867728950e"])
def test_valid_request_id_is_kept(client, sent):
    r = client.get("/healthz", headers={"X-Request-ID": sent})
    assert r.headers["X-Request-ID"] == sent


@pytest.mark.parametrize("sent", ["", "A" * 65, "has space", "semi;colon", "ünïcode", "new\nline"])
def test_invalid_request_id_is_replaced(sent):
    made = request_id_from(sent)
    assert made != sent and len(made) == 32 and int(made, 16) >= 0


def test_generated_request_id_on_errors(client, workspace_setup):
    for response in (client.get("/scim/v2/Users"),  # 401 SCIM error
                     client.get("/no/such/route"),  # routing 404
                     workspace_setup.scim_client.get("/scim/v2/Users/nope")):  # 404 from the repository
        assert len(response.headers["X-Request-ID"]) == 32


def test_request_id_written_on_provisioning_events(app, workspace_setup):
    s = workspace_setup
    r = s.scim_client.post("/scim/v2/Users", json=USER, headers={"X-Request-ID": "entra-sync.42"})
    assert r.status_code == 201 and r.headers["X-Request-ID"] == "entra-sync.42"
    refused = s.scim_client.post("/scim/v2/Users", json=USER, headers={"X-Request-ID": "entra-sync.43"})
    assert refused.status_code == 409
    with app.app_context(), db.connection_context():
        events = {e.request_id: (e.operation, e.status) for e in ProvisioningEvent.select()
                  if e.request_id and e.request_id.startswith("entra-sync.")}
    assert events == {"entra-sync.42": ("user.created", 200), "entra-sync.43": ("user.created", 409)}


@pytest.fixture
def json_lines():
    """Capture the request log as the production JSON formatter writes it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("roster.request")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_one_json_line_per_request_without_secrets(workspace_setup, json_lines):
    s = workspace_setup
    r = s.scim_client.post("/scim/v2/Users", json=USER, headers={"X-Request-ID": "rid-1",
                                                                   "User-Agent": "Okta SCIM Client 1.0.0"})
    user_id = r.json["id"]
    s.scim_client.get(f"/scim/v2/Users/{user_id}?filter=userName eq \"secret@example.com\"",
                      headers={"X-Request-ID": "rid-2"})
    lines = json_lines()
    assert [line["request_id"] for line in lines] == ["rid-1", "rid-2"]
    first, second = lines
    assert first["route"] == "/scim/v2/Users" and first["method"] == "POST" and first["status"] == 201
    assert second["route"] == "/scim/v2/Users/<member_id>" and second["status"] == 200
    assert first["workspace"] == s.workspace.id and first["idp"] == "okta"
    assert first["token_prefix"] == s.scim_token[:12] and first["duration_ms"] >= 0
    assert isinstance(first["pid"], int) and first["level"] == "INFO"
    text = json.dumps(lines)
    assert s.scim_token not in text and s.scim_token[12:] not in text
    assert user_id not in text and "secret@example.com" not in text and "bjensen" not in text


def test_unknown_tokens_and_callback_codes_stay_out_of_the_log(client, json_lines):
    client.get("/scim/v2/Users", headers={"Authorization": "Bearer rst_not_a_real_token_0123456789"})
    client.get("/sso/00000000-0000-0000-0000-000000000000/callback?code=SECRETCODE&state=STATE")
    lines = json_lines()
    assert [line["status"] for line in lines] == [401, 404]
    assert lines[1]["route"] == "/sso/<connection_id>/callback"
    text = json.dumps(lines)
    assert "rst_not" not in text and "SECRETCODE" not in text and "STATE" not in text
    assert all("token_prefix" not in line for line in lines)
