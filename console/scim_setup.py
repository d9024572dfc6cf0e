"""SCIM setup: a `scim` token (its secret shown once), the base URL to paste into the IdP, a setup guide per IdP
(docs/idp/*.md, rendered with this Roster's URL and workspace), and the recent SCIM requests per IdP, refreshed
while the page is open so an admin sees the first sync arrive."""

import functools
import os

from flask import current_app, render_template, request
from markdown_it import MarkdownIt
from markupsafe import Markup

from models.services import audit
from models.services.tokens import list_workspace_tokens

from . import bp
from .pages import open_workspace, page, require_write
from .session import signed_in
from .settings import LIFETIMES, create_workspace_token, token_form

# The IdPs with a guide, in the order the page offers them: (key, name, file under docs/idp/).
GUIDES = (("entra", "Microsoft Entra ID", "entra.md"), ("okta", "Okta", "okta.md"),
          ("onelogin", "OneLogin", "onelogin.md"), ("jumpcloud", "JumpCloud", "jumpcloud.md"),
          ("google", "Google Workspace", "google.md"))
GUIDE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "idp")
EXAMPLE_URL = "https://roster.example.com"
IDP_NAMES = dict((key, name) for key, name, _ in GUIDES) | {"pingone": "PingOne", "rippling": "Rippling"}
_markdown = MarkdownIt("commonmark", {"html": False}).enable("table")


@functools.lru_cache(maxsize=16)
def _guide_source(filename):
    with open(os.path.join(GUIDE_DIR, filename), encoding="utf-8") as handle:
        return handle.read()


def guide_html(key, public_url, slug):
    """Return the guide of IdP `key` as HTML with this Roster's URL and workspace in its examples, or None."""
    filename = next((f for k, _, f in GUIDES if k == key), None)
    if filename is None:
        return None
    try:
        text = _guide_source(filename)
    except OSError:
        return None  # an installation without the docs folder: the page links to the repository's copy
    text = text.replace(EXAMPLE_URL, public_url).replace("workspaces/acme", f"workspaces/{slug}") \
        .replace("--workspace acme", f"--workspace {slug}")
    return Markup(_markdown.render(text))  # raw HTML in the Markdown is disabled: only Markdown's own tags


def _scim_tokens(workspace):
    return [t for t in list_workspace_tokens(workspace) if "scim" in (t.scopes or []) and t.revoked_at is None]


def _setup_page(workspace, access, status=200, created=None, form=None, errors=None):
    public_url = current_app.config["PUBLIC_URL"]
    idp = request.values.get("idp") if request.values.get("idp") in [k for k, _, _ in GUIDES] else "entra"
    return page("console/scim.html", status, section="scim", base_url=f"{public_url}/scim/v2",
                tokens=_scim_tokens(workspace), created=created, form=form or {"label": idp, "expires_in_days": "365"},
                errors=errors or {}, guides=GUIDES, idp=idp, guide=guide_html(idp, public_url, workspace.slug),
                lifetimes=LIFETIMES, recent=audit.recent_idp_events(workspace), idp_names=IDP_NAMES,
                can_manage=access.has("tokens:manage"))


@bp.route("/console/w/<ws>/scim")
@signed_in
def scim_setup(ws):
    """Show the SCIM setup: base URL, tokens, the guide of the chosen IdP and the recent requests."""
    workspace, access = open_workspace(ws, "tokens:read")
    return _setup_page(workspace, access)


@bp.route("/console/w/<ws>/scim/recent")
@signed_in
def scim_recent(ws):
    """The recent-requests panel alone, for the page to refresh while it is open."""
    workspace, _ = open_workspace(ws, "tokens:read")
    return render_template("console/scim_recent.html", workspace=workspace, recent=audit.recent_idp_events(workspace),
                           idp_names=IDP_NAMES)


@bp.route("/console/w/<ws>/scim/tokens", methods=["POST"])
@signed_in
def scim_token_create(ws):
    """Create a `scim` token and show its secret once, on this answer only."""
    workspace, access = open_workspace(ws)
    require_write(workspace, access, "tokens:manage", "token.created", "token")
    form = token_form()
    created, refusal = create_workspace_token(workspace, access, form, ["scim"])
    if refusal:
        return _setup_page(workspace, access, refusal[0], form=form, errors=refusal[1])
    return _setup_page(workspace, access, 201, created=created, form=form)
