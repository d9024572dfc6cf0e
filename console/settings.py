"""Settings and tokens: the workspace's settings from the catalogue (models/workspace.py SETTINGS), its service
tokens (created with their secret shown once, revoked), and the signed-in person's own personal tokens."""

from flask import g, redirect, request, url_for

from models.access import SCOPES
from models.services import PermissionDeniedError, ServiceError
from models.services.tokens import (create_personal_token, create_service_token, list_personal_tokens,
                                    list_workspace_tokens, revoke_personal_token, revoke_token)
from models.services.workspaces import replace_settings
from models.workspace import SETTINGS

from . import bp
from .errors import field_errors
from .pages import open_workspace, page, require_write, whole_number
from .session import console_actor, signed_in

LIFETIMES = (("365", "1 year"), ("90", "90 days"), ("30", "30 days"), ("", "Never expires"))
TOKEN_FIELDS = ("label", "expires_in_days", "scopes")
SCOPE_HELP = {"scim": "Provisioning from an identity provider at /scim/v2",
              "admin": "The admin API, with every privilege in this workspace",
              "audit:read": "Reading and verifying the provisioning log"}


def token_form():
    """Return the token form as sent: label, lifetime and scopes."""
    return {"label": request.form.get("label", "").strip()[:100],
            "expires_in_days": request.form.get("expires_in_days", "").strip()[:6],
            "scopes": [s[:20] for s in request.form.getlist("scopes")][:5]}


def _days(form):
    return whole_number(form["expires_in_days"])


def create_workspace_token(workspace, access, form, scopes):
    """Create a service token from the form; return (created or None, errors). A privilege refusal is raised."""
    try:
        token, raw = create_service_token(workspace, console_actor(), scopes, form["label"], _days(form),
                                          access=access)
    except ServiceError as error:
        if isinstance(error, PermissionDeniedError) or error.status >= 500:
            raise
        return None, (error.status, field_errors(error, TOKEN_FIELDS, "label"))
    return {"token": token, "secret": raw}, None


# Settings ------------------------------------------------------------------------------------------------------

# What a person reads beside each setting; the key stays visible for whoever configures it through the API.
SETTING_TITLES = {
    "scim.strict_rfc": "Refuse IdP deviations (strict RFC 7644)",
    "scim.default_idp": "Default identity provider",
    "scim.rate_limit_per_second": "SCIM requests per second per token",
    "audit.retention_days": "Keep provisioning events (days)",
    "invitations.expiry_hours": "Invitation links expire after (hours)",
}


def _settings_from_form():
    """Read the settings form into typed values; a number that is not one stays text for the service to refuse."""
    out = {}
    for key, (kind, _, _) in SETTINGS.items():
        raw = request.form.get(key, "")
        if kind is bool:
            out[key] = raw == "on"
        elif kind is int:
            number = whole_number(raw, limit=10 ** 9)
            out[key] = number if number is not None else raw[:20]
        else:
            out[key] = raw[:300]
    return out


def _settings_page(workspace, access, status=200, values=None, errors=None, notice=None):
    values = values if values is not None else {key: workspace.setting(key) for key in SETTINGS}
    return page("console/settings.html", status, section="settings", settings=SETTINGS, titles=SETTING_TITLES,
                values=values,
                errors=errors or {}, notice=notice, can_update=access.has("workspace:update"))


@bp.route("/console/w/<ws>/settings", methods=["GET"])
@signed_in
def settings(ws):
    """Show the workspace's settings."""
    workspace, access = open_workspace(ws, "workspace:read")
    return _settings_page(workspace, access, notice="Settings saved." if request.args.get("saved") else None)


@bp.route("/console/w/<ws>/settings", methods=["POST"])
@signed_in
def settings_save(ws):
    """Replace the settings; each refused value comes back beside its field."""
    workspace, access = open_workspace(ws)
    require_write(workspace, access, "workspace:update", "workspace.settings_changed", "workspace", workspace.id)
    values = _settings_from_form()
    try:
        replace_settings(workspace, console_actor(), values)
    except ServiceError as error:
        if isinstance(error, PermissionDeniedError) or error.status >= 500:
            raise
        return _settings_page(workspace, access, error.status, values, field_errors(error, tuple(SETTINGS)))
    return redirect(url_for("console.settings", ws=workspace.slug, saved=1))


# Service tokens ------------------------------------------------------------------------------------------------

def _tokens_page(workspace, access, status=200, created=None, form=None, errors=None):
    tokens = [t for t in list_workspace_tokens(workspace) if t.revoked_at is None]
    return page("console/tokens.html", status, section="tokens", tokens=tokens, created=created,
                form=form or {"label": "", "expires_in_days": "365", "scopes": []}, errors=errors or {},
                scopes=SCOPES, scope_help=SCOPE_HELP, lifetimes=LIFETIMES, can_manage=access.has("tokens:manage"))


@bp.route("/console/w/<ws>/tokens", methods=["GET"])
@signed_in
def tokens(ws):
    """List the workspace's active service tokens."""
    workspace, access = open_workspace(ws, "tokens:read")
    return _tokens_page(workspace, access)


@bp.route("/console/w/<ws>/tokens", methods=["POST"])
@signed_in
def token_create(ws):
    """Create a service token with the chosen scopes; its secret is on this answer only."""
    workspace, access = open_workspace(ws)
    require_write(workspace, access, "tokens:manage", "token.created", "token")
    form = token_form()
    created, refusal = create_workspace_token(workspace, access, form, form["scopes"])
    if refusal:
        return _tokens_page(workspace, access, refusal[0], form=form, errors=refusal[1])
    return _tokens_page(workspace, access, 201, created=created)


@bp.route("/console/w/<ws>/tokens/<token_id>/revoke", methods=["POST"])
@signed_in
def token_revoke(ws, token_id):
    """Revoke a service token; whoever uses it is refused from the next request. Back to the page it came from."""
    workspace, access = open_workspace(ws)
    require_write(workspace, access, "tokens:manage", "token.revoked", "token", token_id[:64])
    token = revoke_token(workspace, console_actor(), token_id[:64])
    back = "console.scim_setup" if request.form.get("back") == "scim" else "console.tokens"
    return redirect(url_for(back, ws=workspace.slug, revoked=token.label or token.prefix))


# Personal tokens -----------------------------------------------------------------------------------------------

def _personal_page(status=200, created=None, form=None, errors=None):
    return page("console/personal_tokens.html", status, section="personal", tokens=list_personal_tokens(g.person),
                created=created, form=form or {"label": "", "expires_in_days": "90"}, errors=errors or {},
                lifetimes=LIFETIMES)


@bp.route("/console/tokens", methods=["GET"])
@signed_in
def personal_tokens():
    """List my personal tokens: they act as me, in every workspace I belong to."""
    return _personal_page()


@bp.route("/console/tokens", methods=["POST"])
@signed_in
def personal_token_create():
    """Create a personal token; its secret is on this answer only."""
    form = token_form()
    try:
        token, raw = create_personal_token(console_actor(), g.person, form["label"], _days(form))
    except ServiceError as error:
        if error.status >= 500:
            raise
        return _personal_page(error.status, form=form, errors=field_errors(error, TOKEN_FIELDS, "label"))
    return _personal_page(201, created={"token": token, "secret": raw})


@bp.route("/console/tokens/<token_id>/revoke", methods=["POST"])
@signed_in
def personal_token_revoke(token_id):
    """Revoke one of my personal tokens (another person's is not found)."""
    token = revoke_personal_token(console_actor(), g.person, token_id[:64])
    return redirect(url_for("console.personal_tokens", revoked=token.label or token.prefix))
