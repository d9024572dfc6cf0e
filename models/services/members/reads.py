"""Reading members: lookups, the filtered listing, direct roles, groups and privileges."""

from peewee import fn

from ...db import contains_ci, db, id_list_sql, tenant_sql, workspace_row
from ...directory import Group, GroupGrant, GroupMember, Member, MemberRole, Role
from ...privileges import NO_ACCESS
from .. import NotFoundError
from ..authz import cap, privilege_sources


def get_member(workspace, member_id, lock=False):
    """Return a member of the workspace (locked FOR UPDATE on PostgreSQL when asked) or raise NotFoundError."""
    member = workspace_row(Member, workspace.id, member_id, lock)
    if member is None:
        raise NotFoundError("Member not found")
    return member


def member_by_person(workspace, person):
    """Return the person's membership in the workspace, or None."""
    return Member.get_or_none(Member.workspace == workspace.id, Member.person == person.id)


def find_owner(workspace):
    """Return the owner member of the workspace."""
    return Member.get_or_none(Member.workspace == workspace.id, Member.is_owner == True)  # noqa: E712


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


def roles_and_groups_of(workspace, member_ids, roles=True, groups=True):
    """Return ({member_id: {environment: role name}}, {member_id: [(group id, displayName)]}) in one query,
    groups ordered by name.

    Hand-written SQL: every rendered SCIM User needs it, and building two ORM queries cost more than running them.
    """
    env_roles = {mid: {} for mid in member_ids}
    memberships = {mid: [] for mid in member_ids}
    if not member_ids or not (roles or groups):
        return env_roles, memberships
    ids_sql, ids_param = id_list_sql(member_ids)
    p = db.param
    mr_tenant, gm_tenant = tenant_sql('mr."workspace_id"'), tenant_sql('gm."workspace_id"')
    parts, params = [], []
    if roles:
        parts.append(f'SELECT mr."member_id", 0, mr."environment", r."name", r."name" '
                     f'FROM "member_role" AS mr '
                     f'JOIN "role" AS r ON r."id" = mr."role_id" '
                     f'WHERE {mr_tenant} = {p} AND mr."member_id" IN {ids_sql}')
        params += [workspace.id, ids_param]
    if groups:
        parts.append(f'SELECT gm."member_id", 1, g."id", g."display_name", g."display_name_ci" '
                     f'FROM "group_member" AS gm JOIN "member_group" AS g ON g."id" = gm."group_id" '
                     f'WHERE {gm_tenant} = {p} AND gm."member_id" IN {ids_sql}')
        params += [workspace.id, ids_param]
    found = []
    for member_id, kind, key, name, sort_key in db.execute_sql(" UNION ALL ".join(parts), params):
        if kind == 0:
            env_roles[member_id][key] = name
        else:
            found.append((sort_key, member_id, key, name))
    for _, member_id, group_id, name in sorted(found):
        memberships[member_id].append((group_id, name))
    return env_roles, memberships


def direct_roles(workspace, member):
    """Return the member's direct roles as {environment: (role id, role name)}."""
    return {env: (role_id, name) for env, role_id, name in
            MemberRole.select(MemberRole.environment, Role.id, Role.name).join(Role)
            .where(MemberRole.member == member.id, MemberRole.workspace == workspace.id).tuples()}


def env_role_map(workspace, member, current=None):
    """Return {environment: role name or NoAccess} for every environment of the workspace.

    `current` ({environment: (role id, name)}, from direct_roles) may be given when already read."""
    if current is None:
        current = direct_roles(workspace, member)
    return {env: current[env][1] if env in current else NO_ACCESS for env in workspace.environments}


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
        privs = cap(member, frozenset().union(*(p for p, _ in entries)))
        via, resources = [], {}
        for granted, src in entries:
            src = dict(src)
            if src.get("group_id"):
                src["group"] = group_names.get(src["group_id"])
            via.append(src)
            for privilege in sorted(granted & privs):
                resource, action = privilege.split(":", 1)
                entry = resources.setdefault(resource, {"resource": resource, "actions": set(), "sources": []})
                entry["actions"].add(action)
                if src not in entry["sources"]:
                    entry["sources"].append(src)
        report.append({"environment": env, "privileges": sorted(privs), "sources": via,
                       "resources": [dict(r, actions=sorted(r["actions"])) for _, r in sorted(resources.items())]})
    return report


def context_of(workspace, access):
    """Return what the acting caller is here: its membership, direct role and effective privileges per
    environment with their sources (a service token: no membership, its scopes' privileges)."""
    member = access.member
    if member is None:
        source = {"type": "token", "scopes": sorted(access.actor.scopes)}
        return {"workspace": workspace, "membership": None, "roles": {},
                "privileges": [{"environment": env, "privileges": sorted(access.by_env.get(env, ())),
                                "sources": [source]} for env in workspace.environments]}
    return {"workspace": workspace, "membership": member, "roles": env_role_map(workspace, member),
            "privileges": privileges_report(workspace, member)}
