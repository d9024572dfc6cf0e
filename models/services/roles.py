"""Roles: system roles are fixed; custom roles are privilege sets an admin edits. `env_roles` parsing lives here."""

from peewee import IntegrityError, fn

from ..db import db, utcnow
from ..directory import GroupGrant, MemberRole, Role
from ..privileges import NO_ACCESS, is_valid
from . import ConflictError, InvalidError, NotFoundError, mutation

NAME_MAX = 100


def get_role(workspace, role_id):
    """Return a role of the workspace or raise NotFoundError."""
    role = Role.get_or_none(Role.id == role_id, Role.workspace == workspace.id) if isinstance(role_id, str) else None
    if role is None:
        raise NotFoundError("Role not found")
    return role


def role_by_name(workspace, name):
    """Return the workspace's role called `name` (case-insensitive), or None."""
    return Role.get_or_none(Role.workspace == workspace.id, Role.name_ci == name.lower())


def list_roles(workspace):
    """Return the workspace's roles, system roles first."""
    return list(Role.select().where(Role.workspace == workspace.id).order_by(Role.is_system.desc(), Role.name_ci))


def role_usage(workspace):
    """Return {role_id: (members holding it directly, group grants of it)} in two grouped queries."""
    usage = {}
    for model, column in ((MemberRole, MemberRole.role), (GroupGrant, GroupGrant.role)):
        for role_id, count in (model.select(column, fn.COUNT(model.id)).where(model.workspace == workspace.id)
                               .group_by(column).tuples()):
            usage.setdefault(role_id, [0, 0])[0 if model is MemberRole else 1] = count
    return {role_id: tuple(counts) for role_id, counts in usage.items()}


def resolve_env_roles(workspace, env_roles, fill_no_access=False):
    """Turn [{"environment_type", "name"}] into {environment: Role or None (NoAccess)}.

    Unknown role -> 400 "Role <name> not found"; unknown or disabled environment -> 400 "Environment <name> not
    found" (the behaviour of the systems Roster replaces). With fill_no_access, left-out environments get NoAccess.
    """
    if not isinstance(env_roles, list):
        raise InvalidError("env_roles must be a list", errors={"env_roles": ["Must be a list"]})
    out = {}
    for item in env_roles:
        if not isinstance(item, dict) or not isinstance(item.get("environment_type"), str) \
                or not isinstance(item.get("name"), str):
            raise InvalidError("Each env_roles entry needs environment_type and name",
                               errors={"env_roles": ["Each entry is {environment_type, name}"]})
        env, name = item["environment_type"], item["name"]
        if env not in workspace.environments:
            raise InvalidError(f"Environment {env} not found")
        if env in out:
            raise InvalidError(f"Environment {env} listed twice")
        if name == NO_ACCESS:
            out[env] = None
            continue
        role = role_by_name(workspace, name) if len(name) <= NAME_MAX else None
        if role is None:
            raise InvalidError(f"Role {name} not found")
        out[env] = role
    if fill_no_access:
        for env in workspace.environments:
            out.setdefault(env, None)
    return out


def _check_privileges(privileges):
    if not isinstance(privileges, list) or any(not isinstance(p, str) or not is_valid(p) for p in privileges):
        bad = [p for p in privileges if not (isinstance(p, str) and is_valid(p))] if isinstance(privileges, list) \
            else privileges
        raise InvalidError("Unknown privileges", errors={"privileges": [f"Not in the catalogue: {bad}"]})
    return sorted(set(privileges))


def _check_name(name):
    # The lower-cased copy is stored too, and lower-casing can lengthen a string ("İ" -> "i̇").
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX or len(name.lower()) > NAME_MAX:
        raise InvalidError("Invalid name", errors={"name": [f"1 to {NAME_MAX} characters"]})
    if name.strip() == NO_ACCESS:
        raise InvalidError(f"{NO_ACCESS} is reserved", errors={"name": ["Reserved"]})
    return name.strip()


def create_role(workspace, actor, name, privileges=(), description="", access=None):
    """Create a custom role (an actor may only put in privileges it holds everywhere)."""
    with mutation(workspace, actor, "role.created") as change:
        return _create_role(change, workspace, name, privileges, description, access)


def _create_role(change, workspace, name, privileges, description, access):
    name = _check_name(name)
    privileges = _check_privileges(list(privileges))
    if access is not None:
        access.require_everywhere(privileges, f"Cannot give role {name} those privileges")
    try:
        with db.atomic():
            role = Role.create(workspace=workspace.id, name=name, name_ci=name.lower(), description=description or "",
                               privileges=privileges)
    except IntegrityError:
        raise ConflictError(f"Role {name} already exists", errors={"name": ["Already exists"]})
    change.record("role.created", "role", role.id, role.name, after={"name": name, "privileges": privileges})
    return role


def _editable(role):
    if role.is_system:
        raise InvalidError(f"{role.name} is a system role and cannot be changed")


def update_role(workspace, actor, role_id, data, access=None):
    """Rename or re-describe a custom role, or replace its privileges."""
    with mutation(workspace, actor, "role.updated") as change:
        return _update_role(change, get_role(workspace, role_id), data, access)


def _update_role(change, role, data, access):
    _editable(role)
    before = {"name": role.name, "description": role.description, "privileges": list(role.privileges)}
    if "name" in data:
        role.name = _check_name(data["name"])
        role.name_ci = role.name.lower()
    if "description" in data:
        role.description = data["description"] or ""
    if "privileges" in data:
        privileges = _check_privileges(data["privileges"])
        if access is not None:
            access.require_everywhere(set(privileges) - set(role.privileges),
                                      f"Cannot give role {role.name} those privileges")
        role.privileges = privileges
    role.updated_at = utcnow()
    try:
        with db.atomic():
            role.save()
    except IntegrityError:
        raise ConflictError(f"Role {role.name} already exists", errors={"name": ["Already exists"]})
    after = {"name": role.name, "description": role.description, "privileges": list(role.privileges)}
    change.record("role.updated", "role", role.id, role.name, before=before, after=after)
    return role


def change_privileges(workspace, actor, role_id, add=(), remove=(), access=None):
    """Add or remove privileges of a custom role."""
    with mutation(workspace, actor, "role.privileges_changed") as change:
        return _change_privileges(change, get_role(workspace, role_id), add, remove, access)


def _change_privileges(change, role, add, remove, access):
    _editable(role)
    add, remove = _check_privileges(list(add)), _check_privileges(list(remove))
    if access is not None:
        access.require_everywhere(set(add) - set(role.privileges), f"Cannot give role {role.name} those privileges")
    before = list(role.privileges)
    role.privileges = sorted((set(role.privileges) | set(add)) - set(remove))
    role.updated_at = utcnow()
    role.save()
    change.record("role.privileges_changed", "role", role.id, role.name, before={"privileges": before},
                  after={"privileges": role.privileges})
    return role


def delete_role(workspace, actor, role_id):
    """Delete a custom role that nobody holds and no group grants."""
    with mutation(workspace, actor, "role.deleted") as change:
        _delete_role(change, workspace, get_role(workspace, role_id))


def _delete_role(change, workspace, role):
    _editable(role)
    in_use = (MemberRole.select().where(MemberRole.workspace == workspace.id, MemberRole.role == role.id).count()
              + GroupGrant.select().where(GroupGrant.workspace == workspace.id, GroupGrant.role == role.id).count())
    if in_use:
        raise ConflictError(f"Role {role.name} is in use ({in_use} assignments or grants); reassign them first")
    change.record("role.deleted", "role", role.id, role.name, before={"name": role.name,
                                                                      "privileges": list(role.privileges)})
    role.delete_instance()
