"""Members: the searchable, filtered, paged list; inviting with a role per environment; a member's page with
roles, groups, effective privileges and provisioning history; changing roles; removing."""

import math

from flask import redirect, request, url_for

from models.directory import MEMBER_STATUSES
from models.privileges import NO_ACCESS
from models.services import PermissionDeniedError, ServiceError
from models.services import members as svc
from models.services.audit import member_history
from models.services.invitations import create_invitation, list_invitations
from models.services.roles import list_roles

from . import bp
from .errors import field_errors
from .pages import open_target, open_workspace, page, require_write, whole_number
from .session import console_actor, signed_in

PAGE_SIZE = 25
INVITE_FIELDS = ("email", "name")


def _filters(workspace):
    """Return the listing's filters from the query string; values that cannot match anything are dropped."""
    args = request.args
    status = args.get("status") if args.get("status") in MEMBER_STATUSES else None
    environment = args.get("environment") if args.get("environment") in workspace.environments else None
    role = (args.get("role") or "")[:100] or None
    email = (args.get("email") or "").strip()[:320] or None
    return {"email": email, "status": status, "role": role, "environment": environment}


def page_number():
    return whole_number(request.args.get("page")) or 1


@bp.route("/console/w/<ws>/members")
@signed_in
def members(ws):
    """List the workspace's members."""
    workspace, access = open_workspace(ws, "members:read")
    filters = _filters(workspace)
    number = page_number()
    found, total = svc.list_members(workspace, number, PAGE_SIZE, **filters)
    roles, groups = svc.roles_and_groups_of(workspace, [m.id for m in found])
    pages = max(1, math.ceil(total / PAGE_SIZE))
    pending = list_invitations(workspace, "pending")[:20] if access.has("members:invite") else []
    return page("console/members.html", section="members", members=found, roles_of=roles, groups_of=groups,
                total=total, page_number=number, pages=pages, filters=filters,
                role_names=[r.name for r in list_roles(workspace)], statuses=MEMBER_STATUSES, pending=pending, page_size=PAGE_SIZE,
                query={k: v for k, v in filters.items() if v})


def env_roles_from_form(workspace):
    return [{"environment_type": env, "name": request.form.get(f"role-{env}") or NO_ACCESS}
            for env in workspace.environments]


def grantable_roles(workspace, access):
    """Return {environment: [role names]} the person may hand out there (NoAccess always)."""
    out = {}
    roles = list_roles(workspace)
    for env in workspace.environments:
        held = access.by_env.get(env, frozenset())
        out[env] = [r.name for r in roles if frozenset(r.privileges) <= held]
    return out


def _invite_page(workspace, access, status=200, form=None, errors=None):
    return page("console/invite.html", status, section="members", form=form or {}, errors=errors or {},
                grantable=grantable_roles(workspace, access))


@bp.route("/console/w/<ws>/members/invite", methods=["GET"])
@signed_in
def invite_page(ws):
    """Ask for the email and the role per environment of a new member."""
    workspace, access = open_workspace(ws, "members:invite")
    return _invite_page(workspace, access, form={f"role-{env}": NO_ACCESS for env in workspace.environments})


@bp.route("/console/w/<ws>/members/invite", methods=["POST"])
@signed_in
def invite(ws):
    """Invite: the invitation is mailed; the form comes back with the error beside its field if it is refused."""
    workspace, access = open_workspace(ws)
    require_write(workspace, access, "members:invite", "invitation.sent", "invitation")
    form = {key: request.form.get(key, "")[:320] for key in request.form if key != "csrf_token"}
    try:
        invitation = create_invitation(workspace, console_actor(), form.get("email", ""),
                                       env_roles_from_form(workspace), form.get("name", ""), access=access)
    except ServiceError as error:
        default = "email" if error.status in (409, 429) else "_form"
        return _invite_page(workspace, access, error.status, form, field_errors(error, INVITE_FIELDS, default))
    return redirect(url_for("console.members", ws=workspace.slug, invited=invitation.email))


def _member_page(workspace, access, member, status=200, errors=None, notice=None):
    current = svc.env_role_map(workspace, member)
    _, groups = svc.roles_and_groups_of(workspace, [member.id], roles=False)
    history = member_history(workspace, member.id, limit=50, order="desc")[0] if access.has("audit:read") else None
    return page("console/member.html", status, section="members", member=member, env_roles=current,
                groups=groups[member.id], privileges=svc.privileges_report(workspace, member), history=history,
                errors=errors or {}, notice=notice, grantable=grantable_roles(workspace, access))


@bp.route("/console/w/<ws>/members/<member_id>", methods=["GET"])
@signed_in
def member(ws, member_id):
    """Show one member."""
    workspace, access = open_workspace(ws, "members:read")
    notice = "Roles saved." if request.args.get("saved") == "1" else None
    return _member_page(workspace, access, svc.get_member(workspace, member_id), notice=notice)


@bp.route("/console/w/<ws>/members/<member_id>/roles", methods=["POST"])
@signed_in
def change_roles(ws, member_id):
    """Set the member's role per environment."""
    workspace, access, target = open_target(ws, svc.get_member, member_id, "members:update",
                                           "member.roles_changed", "user")
    try:
        svc.set_roles(workspace, console_actor(), target.id, env_roles_from_form(workspace), access=access)
    except ServiceError as error:
        if isinstance(error, PermissionDeniedError) or error.status >= 500:
            raise
        return _member_page(workspace, access, target, error.status, errors={"roles": [error.message]})
    return redirect(url_for("console.member", ws=workspace.slug, member_id=target.id, saved=1))


@bp.route("/console/w/<ws>/members/<member_id>/remove", methods=["GET"])
@signed_in
def remove_page(ws, member_id):
    """Ask to confirm removing a member."""
    workspace, access = open_workspace(ws, "members:remove")
    return page("console/remove.html", section="members", member=svc.get_member(workspace, member_id), error=None)


@bp.route("/console/w/<ws>/members/<member_id>/remove", methods=["POST"])
@signed_in
def remove(ws, member_id):
    """Remove the member (the person and the provisioning history stay)."""
    workspace, _, target = open_target(ws, svc.get_member, member_id, "members:remove", "member.removed", "user")
    try:
        svc.remove_member(workspace, console_actor(), target.id)
    except ServiceError as error:
        if error.status >= 500:
            raise
        return page("console/remove.html", error.status, section="members", member=target, error=error.message)
    return redirect(url_for("console.members", ws=workspace.slug, removed=target.user_name))
