"""Members of a workspace: listing, roles per environment, privileges, removal, leaving and ownership."""

from peewee import fn

from ..db import contains_ci, utcnow
from ..directory import Group, GroupGrant, GroupMember, Member, MemberRole, Role
from ..privileges import NO_ACCESS
from . import ConflictError, InvalidError, NotFoundError
from .authz import privilege_sources
from .roles import resolve_env_roles

def get_member(workspace, member_id):
    """Return a member of the workspace or raise NotFoundError."""
    member = (Member.get_or_none(Member.id == member_id, Member.workspace == workspace.id)
              if isinstance(member_id, str) and len(member_id) <= 64 else None)
    if member is None:
        raise NotFoundError("Member not found")
    return member


def member_query(workspace, email=None, status=None, role=None, environment=None):
    """Return the filtered member query: email contains, status, role name, environment with access."""
    query = Member.select().where(Member.workspace == workspace.id)
    if email:
        query = query.where(contains_ci(fn.COALESCE(Member.email_ci, Member.user_name_ci), email))
    if status:
        query = query.where(Member.status == status)
    if role or environment:
        direct = MemberRole.select(MemberRole.member).join(Role).where(MemberRole.workspace == workspace.id)
        via_group = (GroupMember.select(GroupMember.member)
                     .join(GroupGrant, on=(GroupGrant.group == GroupMember.group))
                     .join(Role, on=(GroupGrant.role == Role.id))
                     .where(GroupMember.workspace == workspace.id))
        if role:
            direct = direct.where(Role.name_ci == role.lower())
            via_group = via_group.where(Role.name_ci == role.lower())
        if environment:
            direct = direct.where(MemberRole.environment == environment)
            via_group = via_group.where(GroupGrant.environment == environment)
        query = query.where(Member.id.in_(direct) | Member.id.in_(via_group))
    return query


def list_members(workspace, page=1, page_size=50, **filters):
    """Return (members on the page, total) ordered by creation."""
    query = member_query(workspace, **filters)
    total = query.count()
    members = list(query.order_by(Member.created_at, Member.id).paginate(page, page_size))
    return members, total


def roles_and_groups(workspace, members):
    """Return {member_id: {"roles": {...}, "groups": [...]}} for a page of members in two queries."""
    ids = [m.id for m in members]
    out = {mid: {"roles": {}, "groups": []} for mid in ids}
    if not ids:
        return out
    for member_id, env, name in (MemberRole.select(MemberRole.member, MemberRole.environment, Role.name).join(Role)
                                 .where(MemberRole.workspace == workspace.id, MemberRole.member.in_(ids)).tuples()):
        out[member_id]["roles"][env] = name
    for member_id, gid, gname in (GroupMember.select(GroupMember.member, Group.id, Group.display_name).join(Group)
                                  .where(GroupMember.workspace == workspace.id, GroupMember.member.in_(ids))
                                  .order_by(Group.display_name_ci).tuples()):
        out[member_id]["groups"].append({"id": gid, "display_name": gname})
    return out


def env_role_map(workspace, member):
    """Return {environment: role name or NoAccess} for every environment of the workspace."""
    current = dict(MemberRole.select(MemberRole.environment, Role.name).join(Role)
                   .where(MemberRole.member == member.id, MemberRole.workspace == workspace.id).tuples())
    return {env: current.get(env, NO_ACCESS) for env in workspace.environments}


def _is_admin_anywhere(workspace, member):
    return any(name == "Admin" for name in env_role_map(workspace, member).values())


def set_roles(change, workspace, member, env_roles, access=None):
    """Set direct roles per environment; NoAccess removes access there. The owner keeps Admin everywhere."""
    wanted = resolve_env_roles(workspace, env_roles)
    if access is not None:
        for env, role in wanted.items():
            access.require("members:update", env)
            access.require_grantable(role, env)
    before = env_role_map(workspace, member)
    if member.is_owner and any(r is None or r.name != "Admin" for r in wanted.values()):
        raise ConflictError("The owner cannot be demoted; transfer ownership first")
    for env, role in wanted.items():
        MemberRole.delete().where(MemberRole.workspace == workspace.id, MemberRole.member == member.id,
                                  MemberRole.environment == env).execute()
        if role is not None:
            MemberRole.create(workspace=workspace.id, member=member.id, environment=env, role=role.id)
    after = env_role_map(workspace, member)
    for env in workspace.environments:
        if before[env] != after[env]:
            if before[env] != NO_ACCESS:
                change.record("role.revoked", "user", member.id, member.user_name,
                              before={"environment": env, "role": before[env]})
            if after[env] != NO_ACCESS:
                change.record("role.granted", "user", member.id, member.user_name,
                              after={"environment": env, "role": after[env]})
    member.updated_at = utcnow()
    member.version += 1
    member.save()
    return after


def privileges_report(workspace, member):
    """Return per environment the effective privileges and where each comes from."""
    sources = privilege_sources(member)
    group_ids = {src["group_id"] for entries in sources.values() for _, src in entries if src.get("group_id")}
    group_names = dict(Group.select(Group.id, Group.display_name)
                       .where(Group.workspace == workspace.id, Group.id.in_(list(group_ids))).tuples()) \
        if group_ids else {}
    report = []
    for env in workspace.environments:
        entries = sources.get(env, [])
        privs = frozenset().union(*(p for p, _ in entries)) if member.status != "suspended" else frozenset()
        via = []
        for _, src in entries:
            src = dict(src)
            if src.get("group_id"):
                src["group"] = group_names.get(src["group_id"])
            via.append(src)
        report.append({"environment": env, "privileges": sorted(privs), "sources": via})
    return report


def remove_member(change, workspace, member):
    """Remove a membership (the person stays). The owner cannot be removed."""
    if member.is_owner:
        raise ConflictError("The owner cannot be removed; transfer ownership first")
    change.record("member.removed", "user", member.id, member.user_name,
                  before={"userName": member.user_name, "roles": env_role_map(workspace, member)})
    member.delete_instance(recursive=False)


def leave(change, workspace, member):
    """Let a member leave; refused for the owner and for the last admin."""
    if member.is_owner:
        raise ConflictError("The owner cannot leave; transfer ownership first")
    if _is_admin_anywhere(workspace, member):
        admin = Role.get(Role.workspace == workspace.id, Role.name_ci == "admin")
        others = (MemberRole.select().join(Member)
                  .where(MemberRole.workspace == workspace.id, MemberRole.role == admin.id,
                         MemberRole.member != member.id, Member.status != "suspended").count())
        if not others:
            raise ConflictError("The last admin cannot leave")
    change.record("member.left", "user", member.id, member.user_name)
    member.delete_instance()


def transfer_ownership(change, workspace, current_owner, new_owner_id):
    """Make another active member the owner (with Admin everywhere); the old owner keeps its roles."""
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
    Member.update(is_owner=False).where(Member.workspace == workspace.id, Member.id == current_owner.id).execute()
    Member.update(is_owner=True, version=Member.version + 1, updated_at=utcnow()).where(
        Member.workspace == workspace.id, Member.id == new_owner.id).execute()
    change.record("member.ownership_transferred", "user", new_owner.id, new_owner.user_name,
                  before={"owner": current_owner.id}, after={"owner": new_owner.id})
    return new_owner


def find_owner(workspace):
    """Return the owner member of the workspace."""
    return Member.get_or_none(Member.workspace == workspace.id, Member.is_owner == True)  # noqa: E712


def add_member(change, workspace, person, env_roles, status="active", display_name=None, is_owner=False):
    """Create a membership for `person` with direct roles {environment: Role or None}."""
    if Member.select().where(Member.workspace == workspace.id, Member.person == person.id).exists():
        raise ConflictError(f"{person.email} is already a member")
    if Member.select().where(Member.workspace == workspace.id, Member.user_name_ci == person.email).exists():
        raise ConflictError(f"A member with userName {person.email} already exists")
    member = Member.create(workspace=workspace.id, person=person.id, user_name=person.email,
                           user_name_ci=person.email, email_ci=person.email,
                           display_name=display_name or person.name or None, status=status, is_owner=is_owner,
                           attributes={"userName": person.email, "emails": [
                               {"value": person.email, "type": "work", "primary": True}]})
    granted = {}
    for env, role in env_roles.items():
        if role is not None:
            MemberRole.create(workspace=workspace.id, member=member.id, environment=env, role=role.id)
            granted[env] = role.name
    change.record("member.added", "user", member.id, member.user_name,
                  after=dict({"owner": True} if is_owner else {}, roles=granted))
    return member
