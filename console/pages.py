"""Rendering console pages: the layout's context (who is signed in, the workspace switcher) and the workspace
a page is about, resolved with the caller's access exactly as the admin API resolves `{ws}`."""

from flask import g, render_template

from models.services import PermissionDeniedError, audit
from models.services.authz import access_for
from models.services.workspaces import find_workspace, workspaces_of

from .session import console_actor


def whole_number(text, limit=10 ** 6):
    """Return `text` as a whole number below `limit`, or None. Only ASCII digits count: "²".isdigit() is true
    but int("²") raises."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        return None
    value = int(text)
    return value if value < limit else None


def page(template, status=200, **context):
    """Render a page in the console layout."""
    person = g.get("person")
    if person is not None and g.get("workspaces") is None:
        g.workspaces = workspaces_of(person)
    body = render_template(template, person=person, workspaces=g.get("workspaces") or [],
                           workspace=g.get("workspace"), access=g.get("access"), **context)
    return body, status


def open_workspace(ref, privilege=None):
    """Return (workspace, access) of `ref` for the signed-in person; another workspace or an unknown one is a 404,
    a page the person may not read a 403."""
    workspace = find_workspace(ref)
    access = access_for(console_actor(), workspace)
    g.workspace, g.access = workspace, access
    if privilege is not None:
        require_page(access, privilege)
    return workspace, access


def require_page(access, privilege):
    """Refuse (403) a page the person's roles in the workspace do not let them see."""
    if not access.has(privilege):
        raise PermissionDeniedError(f"This page needs the {privilege} privilege, which your roles here do not "
                                    "grant. Ask an admin of the workspace.")


def require_write(workspace, access, privilege, operation, target_type, target_id=None):
    """Refuse a write the person's roles do not allow (403), recording the refusal in the provisioning log as the
    admin API does for its refused requests."""
    if access.has(privilege):
        return
    message = f"Missing privilege {privilege}"
    target = audit.target_of(workspace, target_type, target_id)
    audit.record_refusals(workspace, console_actor(), [audit.refusal(operation, target, 403, message)])
    raise PermissionDeniedError(f"{message}: your roles in {workspace.name} do not allow this.")


def open_target(ws, load, target_id, privilege, operation, target_type):
    """Return (workspace, access, target) for a write about one resource: `load(workspace, id)` finds it (an
    unknown or another workspace's id is a 404 page), and without `privilege` the write is refused and logged."""
    workspace, access = open_workspace(ws)
    target = load(workspace, target_id[:64])
    require_write(workspace, access, privilege, operation, target_type, target.id)
    return workspace, access, target
