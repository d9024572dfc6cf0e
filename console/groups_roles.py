"""Groups and roles: the groups with the role each grants per environment (grants edited here; membership comes
from the IdP and is shown read-only), and the roles with their catalogue privileges (custom roles created,
edited and deleted here; deleting one in use is refused, and the page says why)."""

import math

from flask import redirect, request, url_for

from models.privileges import CATALOGUE
from models.services import PermissionDeniedError, ServiceError
from models.services import groups as groups_svc
from models.services import roles as roles_svc

from . import bp
from .errors import field_errors
from .members import env_roles_from_form, grantable_roles, page_number
from .pages import open_target, open_workspace, page, require_write
from .session import console_actor, signed_in

PAGE_SIZE = 25
ROLE_FIELDS = ("name", "description", "privileges")


def _pages(total):
    return max(1, math.ceil(total / PAGE_SIZE))


@bp.route("/console/w/<ws>/groups")
@signed_in
def groups(ws):
    """List the groups by name with their member counts and grants."""
    workspace, _ = open_workspace(ws, "groups:read")
    number = page_number()
    found, total = groups_svc.list_groups(workspace, number, PAGE_SIZE)
    return page("console/groups.html", section="groups", groups=found, total=total, page_number=number,
                pages=_pages(total), page_size=PAGE_SIZE, counts=groups_svc.member_counts(workspace, found),
                grants=groups_svc.grants_by_group(workspace, found))


def _group_page(workspace, access, group, status=200, errors=None, notice=None, grants=None):
    number = page_number()
    members, total = groups_svc.list_group_members(workspace, group.id, number, PAGE_SIZE)
    return page("console/group.html", status, section="groups", group=group, members=members, total=total,
                managed_by=groups_svc.managed_by(group.source),
                page_number=number, pages=_pages(total), page_size=PAGE_SIZE,
                grants=grants or groups_svc.grants_of(workspace, group), grantable=grantable_roles(workspace, access),
                errors=errors or {}, notice=notice)


@bp.route("/console/w/<ws>/groups/<group_id>")
@signed_in
def group(ws, group_id):
    """Show a group: the roles it grants per environment, and its members."""
    workspace, access = open_workspace(ws, "groups:read")
    notice = "Grants saved." if request.args.get("saved") == "1" else None
    return _group_page(workspace, access, groups_svc.get_group(workspace, group_id[:64]), notice=notice)


@bp.route("/console/w/<ws>/groups/<group_id>/grants", methods=["POST"])
@signed_in
def group_grants(ws, group_id):
    """Replace the roles the group grants; a refusal comes back beside the form, the choices kept."""
    workspace, access, target = open_target(ws, groups_svc.get_group, group_id, "groups:manage",
                                            "group.grants_changed", "group")
    wanted = env_roles_from_form(workspace)
    try:
        groups_svc.replace_grants(workspace, console_actor(), target.id, wanted, access=access)
    except ServiceError as error:
        if error.status >= 500:
            raise
        sent = {item["environment_type"]: item["name"] for item in wanted}
        return _group_page(workspace, access, target, error.status, errors={"grants": [error.message]}, grants=sent)
    return redirect(url_for("console.group", ws=workspace.slug, group_id=target.id, saved=1))


@bp.route("/console/w/<ws>/roles")
@signed_in
def roles(ws):
    """List the roles, system roles first, with their privileges and how much each is used."""
    workspace, _ = open_workspace(ws, "roles:read")
    return page("console/roles.html", section="roles", roles=roles_svc.list_roles(workspace),
                usage=roles_svc.role_usage(workspace), catalogue=CATALOGUE)


def _role_form_page(workspace, role=None, status=200, form=None, errors=None, notice=None):
    if form is None:
        form = {"name": role.name, "description": role.description, "privileges": list(role.privileges)} \
            if role is not None else {"name": "", "description": "", "privileges": []}
    usage = roles_svc.role_usage(workspace).get(role.id, (0, 0)) if role is not None else (0, 0)
    return page("console/role.html", status, section="roles", role=role, form=form, errors=errors or {},
                catalogue=CATALOGUE, usage=usage, notice=notice)


def _role_form():
    return {"name": request.form.get("name", "").strip()[:200], "description": request.form.get("description", "")[:500],
            "privileges": [p[:40] for p in request.form.getlist("privileges")][:100]}


def _refused(error):
    """Tell whether a refusal belongs on the form (bad input, a conflict) rather than on an error page."""
    return not isinstance(error, PermissionDeniedError) and error.status < 500


@bp.route("/console/w/<ws>/roles/new", methods=["GET"])
@signed_in
def role_new(ws):
    """Ask for a new role's name, description and privileges."""
    workspace, _ = open_workspace(ws, "roles:manage")
    return _role_form_page(workspace)


@bp.route("/console/w/<ws>/roles/new", methods=["POST"])
@signed_in
def role_create(ws):
    """Create a custom role from catalogue privileges."""
    workspace, access = open_workspace(ws)
    require_write(workspace, access, "roles:manage", "role.created", "role")
    form = _role_form()
    try:
        role = roles_svc.create_role(workspace, console_actor(), form["name"], form["privileges"],
                                     form["description"], access=access)
    except ServiceError as error:
        if not _refused(error):
            raise
        return _role_form_page(workspace, None, error.status, form, field_errors(error, ROLE_FIELDS))
    return redirect(url_for("console.role", ws=workspace.slug, role_id=role.id, saved="created"))


@bp.route("/console/w/<ws>/roles/<role_id>", methods=["GET"])
@signed_in
def role(ws, role_id):
    """Show a role; a custom one as a form to edit."""
    workspace, _ = open_workspace(ws, "roles:read")
    notice = {"created": "Role created.", "1": "Role saved."}.get(request.args.get("saved"))
    return _role_form_page(workspace, roles_svc.get_role(workspace, role_id[:64]), notice=notice)


@bp.route("/console/w/<ws>/roles/<role_id>", methods=["POST"])
@signed_in
def role_update(ws, role_id):
    """Rename, re-describe or change the privileges of a custom role."""
    workspace, access, target = open_target(ws, roles_svc.get_role, role_id, "roles:manage", "role.updated", "role")
    form = _role_form()
    try:
        roles_svc.update_role(workspace, console_actor(), target.id, form, access=access)
    except ServiceError as error:
        if not _refused(error):
            raise
        return _role_form_page(workspace, roles_svc.get_role(workspace, target.id), error.status, form,
                               field_errors(error, ROLE_FIELDS))
    return redirect(url_for("console.role", ws=workspace.slug, role_id=target.id, saved=1))


@bp.route("/console/w/<ws>/roles/<role_id>/delete", methods=["POST"])
@signed_in
def role_delete(ws, role_id):
    """Delete a custom role nobody holds and no group grants; otherwise show the refusal on the role's page."""
    workspace, access, target = open_target(ws, roles_svc.get_role, role_id, "roles:manage", "role.deleted", "role")
    try:
        roles_svc.delete_role(workspace, console_actor(), target.id)
    except ServiceError as error:
        if not _refused(error):
            raise
        return _role_form_page(workspace, target, error.status, errors={"delete": [error.message]})
    return redirect(url_for("console.roles", ws=workspace.slug, deleted=target.name))

