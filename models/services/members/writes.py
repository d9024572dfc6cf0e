"""Changing members: creation, direct roles (the owner keeps Admin), suspension, removal, leaving, ownership.

Steps taking a `change` run inside a mutation opened by their caller (SCIM's repository, workspace creation,
invitation acceptance); the entry points taking `(workspace, actor, ...)` open the mutation themselves.
"""

import zoneinfo

from peewee import IntegrityError

from ...db import db, tenant_filter, utcnow
from ...directory import Member, MemberRole, Role
from .. import ConflictError, DuplicateError, InvalidError, NotFoundError, PermissionDeniedError, mutation
from ..roles import resolve_env_roles
from ..rows import save_row
from ..groups import refuse_if_managed
from .reads import direct_roles, env_role_map, get_member, member_by_person

OWNER_DEMOTED = "The owner cannot be demoted; transfer ownership first"
OWNER_REMOVED = "The owner cannot be removed; transfer ownership first"
OWNER_SUSPENDED = "The owner cannot be suspended; transfer ownership first"


# Steps ------------------------------------------------------------------------------------------------------

def insert_member(workspace, member, person):
    """INSERT a new member row of `person`; the unique indexes (workspace, person) and (workspace, userName)
    decide, and which one refused is only worked out when one did, so a creation costs no look-ups ahead."""
    try:
        with db.atomic():
            member.save(force_insert=True)
    except IntegrityError:
        if member_by_person(workspace, person) is not None:
            raise DuplicateError(f"{person.email} is already a member") from None
        raise DuplicateError(f"A member with userName {member.user_name} already exists") from None
    return member


def add_member(change, workspace, person, env_roles, status="active", display_name=None, is_owner=False,
               source="admin"):
    """Create a membership for `person` with direct roles {environment: Role or None}; record member.added.
    `source` says where it came from ("invitation", "admin"; the owner's is "owner")."""
    member = insert_member(workspace, Member(
        workspace=workspace.id, person=person.id, user_name=person.email, user_name_ci=person.email,
        email_ci=person.email, display_name=display_name or person.name or None, status=status, is_owner=is_owner,
        type="owner" if is_owner else "standard", source="owner" if is_owner else source,
        attributes={"userName": person.email, "emails": [{"value": person.email, "type": "work", "primary": True}]}),
        person)
    granted = {}
    for env, role in env_roles.items():
        if role is not None:
            MemberRole.create(workspace=workspace.id, member=member.id, environment=env, role=role.id)
            granted[env] = role.name
    change.record("member.added", "user", member.id, member.user_name,
                  after=dict({"owner": True} if is_owner else {}, roles=granted))
    return member


def apply_roles(change, workspace, member, wanted, current=None):
    """Make the member's direct roles `wanted` ({environment: Role or None}; environments left out keep theirs),
    writing only the rows that change; record role.granted/role.revoked. Return True if anything changed.

    The owner keeps Admin in every environment. `current` ({environment: (role id, name)}, from direct_roles)
    may be given when already read (a new member has none).
    """
    if not wanted:
        return False
    if member.is_owner and any(role is None or role.name != "Admin" for role in wanted.values()):
        raise ConflictError(OWNER_DEMOTED)
    if current is None:
        current = direct_roles(workspace, member)
    changed = False
    for env, role in wanted.items():
        old = current.get(env)
        if (old[0] if old else None) == (role.id if role else None):
            continue
        changed = True
        if old:
            MemberRole.delete().where(MemberRole.member == member.id, MemberRole.environment == env,
                                      tenant_filter(MemberRole.workspace, workspace.id)).execute()
            change.record("role.revoked", "user", member.id, member.user_name,
                          before={"environment": env, "role": old[1]})
        if role:
            MemberRole.create(workspace=workspace.id, member=member.id, environment=env, role=role.id)
            change.record("role.granted", "user", member.id, member.user_name,
                          after={"environment": env, "role": role.name})
    return changed


def set_suspended(change, member, suspended, before, after, quirks=()):
    """Suspend (roles and groups are kept) or reactivate; the owner cannot be suspended. Records
    user.deactivated/user.reactivated with the caller's `before`/`after`; the status is saved with the member."""
    if suspended and member.is_owner:
        raise ConflictError(OWNER_SUSPENDED)
    member.status = "suspended" if suspended else "active"
    change.record("user.deactivated" if suspended else "user.reactivated", "user", member.id, member.user_name,
                  before=before, after=after, quirks=quirks)


def delete_member(change, workspace, member, operation, before):
    """Remove a membership, recording `operation` with `before`: its roles and group memberships go with it
    (ON DELETE CASCADE), the person stays. The owner cannot be removed."""
    if member.is_owner:
        raise ConflictError(OWNER_REMOVED)
    change.record(operation, "user", member.id, member.user_name, before=before)
    Member.delete().where(Member.id == member.id, Member.workspace == workspace.id).execute()


# Entry points -----------------------------------------------------------------------------------------------

SETTABLE_TYPES = ("standard", "viewer")


def _check_time_zone(value):
    if value is None:
        return None
    try:
        if value != value.strip() or not value or len(value) > 64:
            raise ValueError(value)
        zoneinfo.ZoneInfo(value)
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError):  # "America" is a directory: IsADirectoryError
        raise InvalidError(f"Unknown time zone {value[:64]}",
                           errors={"time_zone": ["An IANA time zone such as Europe/Paris"]}) from None
    return value


def update_member(workspace, actor, member_id, data):
    """Change a member's status (suspended/active), display name, time zone or type (standard/viewer).

    What an IdP provisioned (status, display name) is the IdP's: 409 naming it. The owner cannot be suspended
    and its type stays `owner` (transfer ownership to change it). Records user.deactivated/user.reactivated for
    the status and member.updated for the rest."""
    with mutation(workspace, actor, "member.updated") as change:
        member = get_member(workspace, member_id, lock=True)
        before, after, columns = {}, {}, {}
        if "status" in data and (data["status"] == "suspended") != (member.status == "suspended"):
            refuse_if_managed(member, "status")
            suspended = data["status"] == "suspended"
            set_suspended(change, member, suspended, {"status": member.status},
                          {"status": "suspended" if suspended else "active"})
            columns["status"] = member.status
        if "display_name" in data and (data["display_name"] or None) != member.display_name:
            refuse_if_managed(member, "display_name")
            name = (data["display_name"] or "").strip() or None
            before["display_name"], after["display_name"] = member.display_name, name
            columns["display_name"] = name
            columns["attributes"] = {k: v for k, v in (member.attributes or {}).items() if k != "displayName"}
            if name:
                columns["attributes"]["displayName"] = name
        if "time_zone" in data and data["time_zone"] != member.time_zone:
            before["time_zone"], after["time_zone"] = member.time_zone, _check_time_zone(data["time_zone"])
            columns["time_zone"] = after["time_zone"]
        if "type" in data and data["type"] != member.type:
            if member.is_owner:
                raise ConflictError("The owner's type is owner; transfer ownership to change it")
            if data["type"] not in SETTABLE_TYPES:
                raise InvalidError(f"type must be one of {', '.join(SETTABLE_TYPES)}; ownership is transferred",
                                   errors={"type": [f"One of {', '.join(SETTABLE_TYPES)}"]})
            before["type"], after["type"] = member.type, data["type"]
            columns["type"] = data["type"]
        if after:
            change.record("member.updated", "user", member.id, member.user_name, before=before, after=after)
        if columns:
            columns.update(version=member.version + 1, updated_at=utcnow())
            save_row(member, "Member changed concurrently", **columns)
        return member


def set_roles(workspace, actor, member_id, env_roles, access=None):
    """Set direct roles per environment ([{environment_type, name}]); NoAccess removes access there. Return the
    member's role per environment."""
    with mutation(workspace, actor, "member.roles_changed") as change:
        member = get_member(workspace, member_id)
        wanted = resolve_env_roles(workspace, env_roles)
        if access is not None:
            for env, role in wanted.items():
                access.require("members:update", env)
                access.require_grantable(role, env)
        current = direct_roles(workspace, member)
        apply_roles(change, workspace, member, {env: wanted[env] for env in workspace.environments if env in wanted},
                    current)
        Member.update(version=Member.version + 1, updated_at=utcnow()).where(
            Member.id == member.id, tenant_filter(Member.workspace, workspace.id)).execute()
        return env_role_map(workspace, member)


def remove_member(workspace, actor, member_id):
    """Remove a member from the workspace (the person stays). The owner cannot be removed."""
    with mutation(workspace, actor, "member.removed") as change:
        member = get_member(workspace, member_id)
        delete_member(change, workspace, member, "member.removed",
                      {"userName": member.user_name, "roles": env_role_map(workspace, member)})


def _own_membership(workspace, actor):
    member = member_by_person(workspace, actor.person) if actor.person is not None else None
    if member is None:
        raise NotFoundError("Member not found")
    return member


def leave(workspace, actor):
    """Let the acting person leave; refused for the owner and for the last admin."""
    with mutation(workspace, actor, "member.left") as change:
        member = _own_membership(workspace, actor)
        if member.is_owner:
            raise ConflictError("The owner cannot leave; transfer ownership first")
        if "Admin" in env_role_map(workspace, member).values():
            admin = Role.get(Role.workspace == workspace.id, Role.name_ci == "admin")
            others = (MemberRole.select().join(Member)
                      .where(MemberRole.workspace == workspace.id, MemberRole.role == admin.id,
                             MemberRole.member != member.id, Member.status != "suspended").count())
            if not others:
                raise ConflictError("The last admin cannot leave")
        change.record("member.left", "user", member.id, member.user_name)
        member.delete_instance()


def transfer_ownership(workspace, actor, new_owner_id):
    """Make another active member the owner (with Admin everywhere); only the owner may, and keeps its roles."""
    with mutation(workspace, actor, "member.ownership_transferred") as change:
        current_owner = _own_membership(workspace, actor)
        if not current_owner.is_owner:
            raise PermissionDeniedError("Only the owner can transfer ownership")
        new_owner = get_member(workspace, new_owner_id)
        if new_owner.id == current_owner.id:
            raise InvalidError("That member is already the owner")
        if new_owner.status != "active":
            raise ConflictError("Ownership can only go to an active member")
        admin = Role.get(Role.workspace == workspace.id, Role.name_ci == "admin")
        for env in workspace.environments:
            MemberRole.delete().where(MemberRole.workspace == workspace.id, MemberRole.member == new_owner.id,
                                      MemberRole.environment == env).execute()
            MemberRole.create(workspace=workspace.id, member=new_owner.id, environment=env, role=admin.id)
        Member.update(is_owner=False, type="standard").where(Member.workspace == workspace.id,
                                                             Member.id == current_owner.id).execute()
        Member.update(is_owner=True, type="owner", version=Member.version + 1, updated_at=utcnow()).where(
            Member.workspace == workspace.id, Member.id == new_owner.id).execute()
        change.record("member.ownership_transferred", "user", new_owner.id, new_owner.user_name,
                      before={"owner": current_owner.id}, after={"owner": new_owner.id})
    return Member.get_by_id(new_owner.id)
