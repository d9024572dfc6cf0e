"""Groups seen from the admin API: listing and the roles a group grants per environment."""

from ..db import utcnow
from ..directory import Group, GroupGrant, GroupMember, Role
from ..privileges import NO_ACCESS
from . import NotFoundError
from .roles import resolve_env_roles


def get_group(workspace, group_id):
    """Return a group of the workspace or raise NotFoundError."""
    group = (Group.get_or_none(Group.id == group_id, Group.workspace == workspace.id)
             if isinstance(group_id, str) and len(group_id) <= 64 else None)
    if group is None:
        raise NotFoundError("Group not found")
    return group


def list_groups(workspace, page=1, page_size=50):
    """Return (groups on the page, total) ordered by name."""
    query = Group.select().where(Group.workspace == workspace.id)
    return list(query.order_by(Group.display_name_ci).paginate(page, page_size)), query.count()


def member_counts(workspace, groups):
    """Return {group_id: member count} for the groups in one query."""
    ids = [g.id for g in groups]
    if not ids:
        return {}
    from peewee import fn
    return dict(GroupMember.select(GroupMember.group, fn.COUNT(GroupMember.id))
                .where(GroupMember.workspace == workspace.id, GroupMember.group.in_(ids))
                .group_by(GroupMember.group).tuples())


def grants_by_group(workspace, groups):
    """Return {group_id: {environment: role name or NoAccess}} for a page of groups, in one query."""
    current = {g.id: {} for g in groups}
    if groups:
        for group_id, env, name in (GroupGrant.select(GroupGrant.group, GroupGrant.environment, Role.name)
                                    .join(Role).where(GroupGrant.workspace == workspace.id,
                                                      GroupGrant.group.in_(list(current))).tuples()):
            current[group_id][env] = name
    return {gid: {env: grants.get(env, NO_ACCESS) for env in workspace.environments}
            for gid, grants in current.items()}


def grants_of(workspace, group):
    """Return {environment: role name or NoAccess} the group grants."""
    return grants_by_group(workspace, [group])[group.id]


def replace_grants(change, workspace, group, env_roles, access=None):
    """Replace the roles the group grants; environments left out grant nothing."""
    wanted = resolve_env_roles(workspace, env_roles, fill_no_access=True)
    before = grants_of(workspace, group)
    if access is not None:
        for env in workspace.environments:
            if (wanted[env].name if wanted[env] else NO_ACCESS) != before[env]:
                access.require("groups:manage", env)
                access.require_grantable(wanted[env], env)
    GroupGrant.delete().where(GroupGrant.group == group.id, GroupGrant.workspace == workspace.id).execute()
    for env, role in wanted.items():
        if role is not None:
            GroupGrant.create(workspace=workspace.id, group=group.id, environment=env, role=role.id)
    after = grants_of(workspace, group)
    if before != after:
        change.record("group.grants_changed", "group", group.id, group.display_name, before=before, after=after)
        Group.update(updated_at=utcnow()).where(Group.workspace == workspace.id, Group.id == group.id).execute()
    return after
