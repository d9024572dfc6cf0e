"""Replay every recorded IdP lifecycle (idp_fixtures/<idp>/scim/) against the app, in order, step by step.

Each folder plays once, in a fresh workspace with a scim token labelled as client.json says; every step is then
reported as its own test. Steps that carry `quirks` are also sent with `scim.strict_rfc` on first, and must be
refused with a 400 naming the quirk, leaving the lifecycle untouched for the tolerant replay that follows.
Runs on SQLite, and on PostgreSQL with TEST_DATABASE_URL.
"""

import dataclasses

import flask
import pytest

from models.db import db
from tests import factories
from tests.changes import observing_changes
from tests.idp.replay import MissingVariableError, client_info, idp_folders, load_steps, play_step, response_json

STEPS = [step for idp in idp_folders() for step in load_steps(idp)]
QUIRK_STEPS = [step for step in STEPS if step.quirks and not step.xfail]


@dataclasses.dataclass
class Outcome:
    problems: list = dataclasses.field(default_factory=list)
    strict_problems: list = dataclasses.field(default_factory=list)


class ChangeLog:
    """What mutations did (committed and refused changes, via tests.changes), and each request's quirks.

    Reads record no event: the quirks a SCIM request applied are on `flask.g.scim_quirks`, collected when the
    request finishes.
    """

    def __init__(self):
        self.committed = []
        self.failed = []
        self.request_quirks = []

    def on_request_finished(self, sender, response, **extra):
        self.request_quirks.extend(q for q in flask.g.get("scim_quirks", ()) if q not in self.request_quirks)

    def on_commit(self, change):
        self.committed.append(change)

    def on_failure(self, change, error):
        self.failed.append((change, error))

    def clear(self):
        self.committed.clear()
        self.failed.clear()
        self.request_quirks.clear()

    def quirks(self):
        names = list(self.request_quirks)
        for change in self.committed:
            for event in change.events:
                names.extend(q for q in event.quirks if q not in names)
        return names

    def idps(self):
        return {change.actor.idp for change in self.committed if change.actor is not None}


@pytest.fixture(scope="module")
def change_log(app):
    log = ChangeLog()
    flask.request_finished.connect(log.on_request_finished, app)
    with observing_changes(on_commit=log.on_commit, on_failure=log.on_failure):
        yield log
    flask.request_finished.disconnect(log.on_request_finished, app)


_played = {}


def _set_strict(admin_client, workspace, strict):
    response = admin_client.put(f"/api/v1/workspaces/{workspace.id}/settings",
                                json={"settings": {"scim.strict_rfc": strict}})
    assert response.status_code == 200, response.get_json()


def _strict_refusal(client, step, variables, change_log):
    """Send a quirk step with strict RFC on; return what differs from a clean 400 refusal naming the quirk."""
    change_log.clear()
    scratch = dict(variables)
    response, _ = play_step(client, step, scratch)
    body = response_json(response)
    if response.status_code != 400:
        return [f"strict: expected 400, got {response.status_code}: {body!r}"]
    detail = body.get("detail", "") if isinstance(body, dict) else ""
    problems = []
    if not any(name in detail for name in step.quirks):
        problems.append(f"strict: the refusal does not name one of {step.quirks}: {detail!r}")
    if not isinstance(body, dict) or not body.get("scimType"):
        problems.append(f"strict: the refusal carries no scimType: {body!r}")
    if change_log.committed:
        problems.append("strict: a refused request committed changes")
    return problems


def _play_folder(app, client, idp, change_log):
    info = client_info(idp)
    with app.app_context(), db.connection_context():
        workspace, _ = factories.make_workspace(f"{idp} replay", owner_email=f"owner@{idp}.test",
                                               settings=info.get("settings") or None)
        token = factories.make_service_token(workspace, ["scim"], label=info["token_label"])
        admin_token = factories.make_service_token(workspace, ["admin"], label="replay admin")
    from tests.conftest import AuthClient
    admin_client = AuthClient(client, admin_token)
    variables = {"token": token}
    outcomes = {}
    for step in load_steps(idp):
        outcome = outcomes[step.name] = Outcome()
        try:
            if step.quirks and not step.xfail:
                _set_strict(admin_client, workspace, True)
                try:
                    outcome.strict_problems = _strict_refusal(client, step, variables, change_log)
                finally:
                    _set_strict(admin_client, workspace, False)
            change_log.clear()
            response, outcome.problems = play_step(client, step, variables)
        except MissingVariableError as error:
            outcome.problems = [f"depends on an earlier step that failed: {error}"]
            continue
        if step.xfail:
            continue
        seen = change_log.quirks()
        if sorted(seen) != sorted(step.quirks):
            outcome.problems.append(f"quirks: the provisioning log shows {seen}, the step declares {step.quirks}")
        idps = change_log.idps()
        if idps and idps != {info["detected_as"]}:
            outcome.problems.append(f"idp: the provisioning log names {sorted(map(str, idps))}, "
                                    f"expected {info['detected_as']!r}")
    return outcomes


@pytest.fixture
def played(app, client, change_log):
    def get(idp):
        if idp not in _played:
            _played[idp] = _play_folder(app, client, idp, change_log)
        return _played[idp]
    return get


@pytest.mark.parametrize("step", STEPS, ids=[step.id for step in STEPS])
def test_step(step, played):
    outcome = played(step.idp)[step.name]
    if step.xfail:
        if outcome.problems:
            pytest.xfail(step.xfail)
        pytest.fail(f"{step.id} is marked xfail ({step.xfail}) but now passes: drop the xfail")
    assert not outcome.problems, "\n".join([step.data.get("description", "")] + outcome.problems)


@pytest.mark.parametrize("step", QUIRK_STEPS, ids=[step.id for step in QUIRK_STEPS])
def test_strict_rfc_refuses_quirk(step, played):
    outcome = played(step.idp)[step.name]
    assert not outcome.strict_problems, "\n".join(outcome.strict_problems)
