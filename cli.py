"""The `roster` command line: database, server, workspaces, tokens and the audit log.

Secrets go to stdout alone (`roster token create` prints only the token) so scripts can capture them; everything
else goes to stderr.
"""

import functools
import json
import os
import secrets
import sys

import click

from models.services import Actor, ServiceError

CLI_ACTOR = Actor(kind="cli", user_agent="roster-cli")


def make_app():
    """Build the app for a command (the command line signs no SSO state, so a missing SECRET_KEY is fine here;
    without AUDIT_SIGNING_KEY it signs no checkpoints, and verifies with AUDIT_VERIFY_KEYS)."""
    from wsgi import create_app
    overrides = {"AUDIT_SIGNING_OPTIONAL": True}
    if not os.environ.get("SECRET_KEY"):
        overrides["SECRET_KEY"] = secrets.token_hex(16)
    return create_app(overrides)


def fail(error):
    """Print a service refusal and exit 1."""
    details = ""
    if getattr(error, "errors", None):
        details = " " + "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in error.errors.items())
    click.echo(f"error: {error.message}{details}", err=True)
    sys.exit(1)


def in_app(command):
    """Run a command inside an app context with a database connection; refusals print and exit 1."""
    @functools.wraps(command)
    def run(*args, **kwargs):
        app = make_app()
        from models.db import db
        with app.app_context(), db.connection_context():
            try:
                return command(*args, **kwargs)
            except ServiceError as error:
                fail(error)
    return run


@click.group()
def main():
    """Roster: SCIM 2.0 provisioning, SSO connections and a provisioning log."""


@main.group("db")
def db_group():
    """Manage the database schema."""


@db_group.command("upgrade")
@in_app
def db_upgrade():
    """Create or migrate the schema (safe to run again)."""
    from models.db import upgrade
    applied = upgrade()
    click.echo(f"applied: {', '.join(applied)}" if applied else "schema is up to date", err=True)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to bind")
@click.option("--workers", default=1, show_default=True, type=int, help="gunicorn worker processes")
def serve(host, port, workers):
    """Serve Roster with gunicorn."""
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            from web import server
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("on_starting", server.on_starting)
            self.cfg.set("child_exit", server.child_exit)  # no access log: web/logging.py logs each request

        def load(self):
            from wsgi import create_app
            return create_app()

    Server().run()


@main.group()
def workspace():
    """Manage workspaces."""


@workspace.command("create")
@click.argument("name")
@click.option("--slug", help="URL name (derived from NAME when omitted)")
@click.option("--owner", "owner_email", required=True, help="Email of the owner (Admin in every environment)")
@click.option("--environments", default="dev", show_default=True, help="Comma-separated: dev,test,prod")
@in_app
def workspace_create(name, slug, owner_email, environments):
    """Create a workspace owned by OWNER."""
    from models.services.invitations import check_email
    from models.services.workspaces import create_workspace
    email = check_email(owner_email)
    ws = create_workspace(CLI_ACTOR, name, email, slug=slug, environments=environments.split(","))
    click.echo(f"created workspace {ws.slug} ({ws.id}) owned by {email}", err=True)
    click.echo(ws.slug)


@main.group()
def token():
    """Manage tokens."""


@token.command("create")
@click.option("--workspace", "ws_slug", help="Workspace slug or id (service token)")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(["scim", "admin", "audit:read"]),
              help="Scope of a service token (repeatable)")
@click.option("--person", "person_email", help="Email of the person a personal token acts as")
@click.option("--label", default="", help="A label to recognise the token by")
@click.option("--expires-in-days", type=int, default=None, help="Lifetime in days (default: no expiry)")
@in_app
def token_create(ws_slug, scopes, person_email, label, expires_in_days):
    """Create a token and print only its secret."""
    from models.directory import Person
    from models.services.tokens import create_personal_token, create_service_token
    from models.services.workspaces import find_workspace
    if bool(ws_slug) == bool(person_email):
        raise click.UsageError("Give either --workspace with --scope (service token) or --person (personal token)")
    if ws_slug:
        if not scopes:
            raise click.UsageError("A service token needs at least one --scope")
        _, raw = create_service_token(find_workspace(ws_slug), CLI_ACTOR, list(scopes), label, expires_in_days)
    else:
        person = Person.get_or_none(Person.email == person_email.strip().lower())
        if person is None:
            fail(ServiceError(f"No person with email {person_email}"))
        _, raw = create_personal_token(CLI_ACTOR, person, label, expires_in_days)
    click.echo(raw)


@token.command("revoke")
@click.argument("prefix_or_token")
@in_app
def token_revoke(prefix_or_token):
    """Revoke a token by its shown prefix (or the whole secret)."""
    from models.services.tokens import revoke_by_prefix
    revoked = revoke_by_prefix(CLI_ACTOR, prefix_or_token)
    click.echo(f"revoked token {revoked.prefix}… ({revoked.label or 'no label'})", err=True)


@main.group()
def audit():
    """Verify and prune the provisioning log."""


def _one_or_every(ws_slug, one, every):
    """Return {slug: one(workspace)} for the workspace named, or every() ({slug: result}) when none is."""
    from models.services.workspaces import find_workspace
    if not ws_slug:
        return every()
    ws = find_workspace(ws_slug)
    return {ws.slug: one(ws)}


@audit.command("verify")
@click.option("--workspace", "ws_slug", required=True, help="Workspace slug or id")
@click.option("--expected-head", help="<seq>:<hash> of a head saved earlier: the log must extend it")
@in_app
def audit_verify(ws_slug, expected_head):
    """Verify a workspace's hash chain, against its newest signed checkpoint and optionally a saved head: exit 0
    when intact, 1 naming the first problem."""
    from models.services.audit import parse_head, verify
    from models.services.workspaces import find_workspace
    expected = parse_head(expected_head) if expected_head is not None else None
    result = verify(find_workspace(ws_slug), expected)
    if result["ok"]:
        signed = result["signed_checkpoint"]
        against = (f"; signed checkpoint at event {signed['seq']} ({signed['time']}, key {signed['key_id']}) "
                   f"verified" if signed else "; no signed checkpoint yet")
        extends = f"; extends the saved head {expected[0]}" if expected else ""
        click.echo(f"ok: {result['checked']} events verified{against}{extends}")
        return
    bad = result["first_bad"]
    click.echo(f"FAILED: event {bad['seq']} {bad['problem']} ({bad['detail']}); {result['checked']} events "
               f"verified before it")
    sys.exit(1)


@audit.command("head")
@click.option("--workspace", "ws_slug", required=True, help="Workspace slug or id")
@in_app
def audit_head(ws_slug):
    """Print the latest signed checkpoint as JSON (keep it; check later with verify --expected-head)."""
    from models.services.audit import head
    from models.services.workspaces import find_workspace
    click.echo(json.dumps(head(find_workspace(ws_slug)), indent=2))


@audit.command("checkpoint")
@click.option("--workspace", "ws_slug", help="Workspace slug or id (default: every workspace whose log moved)")
@in_app
def audit_checkpoint(ws_slug):
    """Sign chain heads now (run it from cron so an idle workspace's last events are signed too)."""
    from models.services.audit import sign_all, sign_now
    for slug, seq in _one_or_every(ws_slug, lambda ws: sign_now(ws)["seq"], sign_all).items():
        click.echo(f"{slug}: signed the head at event {seq}", err=True)


@audit.command("deleted")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line")
@in_app
def audit_deleted(as_json):
    """List deleted workspaces: who deleted each, when, what it held and its final head, signature checked."""
    from models.services.audit import deleted_workspaces
    for item in deleted_workspaces():
        if as_json:
            click.echo(json.dumps(item, sort_keys=True))
            continue
        st = item["statement"]
        actor = st.get("actor") or {}
        who = actor.get("email") or actor.get("token_label") or actor.get("kind")
        head = st.get("final_head") or {}
        status = "signature ok" if item["signature_ok"] else f"NOT VERIFIED: {item['problem']}"
        counts = ", ".join(f"{k} {v}" for k, v in sorted((st.get("counts") or {}).items()))
        click.echo(f"{st.get('deleted_at')} {st.get('slug')} ({st.get('workspace_id')}) by {who}; {counts}; "
                   f"final head {head.get('seq')}:{head.get('hash')}; {status}")


@audit.command("keygen")
@click.argument("path", type=click.Path(dir_okay=False))
def audit_keygen(path):
    """Create an Ed25519 signing key at PATH (mode 0600) and its public key at PATH.pub; print the key id."""
    from models.services.audit.signing import key_id, public_key_pem, write_private_key
    try:
        key = write_private_key(path)
    except FileExistsError:
        raise click.ClickException(f"{path} exists; a signing key is never overwritten")
    with open(path + ".pub", "wb") as out:
        out.write(public_key_pem(key.public_key()))
    click.echo(key_id(key.public_key()))


@audit.command("prune")
@click.option("--workspace", "ws_slug", help="Workspace slug or id (default: every workspace with retention set)")
@in_app
def audit_prune(ws_slug):
    """Delete events older than each workspace's audit.retention_days (run it daily, e.g. from cron)."""
    from models.services.audit import prune, prune_all
    results = _one_or_every(ws_slug, lambda ws: prune(ws, CLI_ACTOR), lambda: prune_all(CLI_ACTOR))
    for slug, result in results.items():
        through = f" through seq {result['through_seq']}" if result["through_seq"] else ""
        click.echo(f"{slug}: pruned {result['pruned']} events{through} "
                   f"(retention {result['retention_days']} days)", err=True)


@main.command("signin-link")
@click.option("--email", required=True, help="Email of the person to sign in")
@in_app
def signin_link(email):
    """Print a one-time console sign-in link (valid 60 minutes) for an operator without mail."""
    from models.directory import Person
    from models.services.signin import issue_link
    person = Person.get_or_none(Person.email == email.strip().lower())
    if person is None:
        fail(ServiceError(f"No person with email {email}"))
    click.echo(issue_link(CLI_ACTOR, person))


@main.group()
def sso():
    """SSO connections: refresh IdP metadata (pinned certificates)."""


@sso.command("refresh")
@in_app
def sso_refresh():
    """Fetch the metadata of every SAML connection with a metadata_url (run it daily, e.g. from cron).

    A changed signing certificate is not used: the connection shows "certificate changed: approve the new
    fingerprint" until an admin approves it. Exit 1 when any connection waits for approval or failed."""
    from flask import current_app
    from sso.service import CHANGED, Site, refresh_all
    attention = 0
    for connection, outcome in refresh_all(CLI_ACTOR, Site.from_config(current_app.config)):
        click.echo(f"{connection.id} {connection.name}: {outcome}", err=True)
        attention += outcome != "unchanged"
    if attention:
        click.echo(f"{attention} connection(s) need attention ({CHANGED}, or the metadata could not be "
                   "fetched)", err=True)
        sys.exit(1)


@main.command()
@click.option("--slug", default="demo", show_default=True)
@click.option("--owner", "owner_email", default="admin@demo.roster.local", show_default=True)
@in_app
def demo(slug, owner_email):
    """Seed a demo workspace (once) and print fresh admin and SCIM tokens with the URLs to try."""
    from flask import current_app
    from models.services.members import find_owner
    from models.services.signin import issue_link
    from models.services.workspaces import seed_demo
    ws, admin_raw, scim_raw = seed_demo(CLI_ACTOR, slug, owner_email)
    console_link = issue_link(CLI_ACTOR, find_owner(ws).person)
    base = current_app.config["PUBLIC_URL"]
    click.echo(f"""
Roster demo workspace: {ws.slug}  (owner {owner_email})

  Console:    {console_link}
              (one-time sign-in link for the owner, valid 60 minutes; later: `roster signin-link --email E`)

  Admin token (personal, acts as the owner):  {admin_raw}
  SCIM token  (service, scope scim):          {scim_raw}

  Admin API:  {base}/api/v1/workspaces
  API docs:   {base}/api/docs
  SCIM base:  {base}/scim/v2

  curl -H "Authorization: Bearer {admin_raw}" {base}/api/v1/workspaces
""")
