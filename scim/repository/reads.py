"""Workspace-scoped SCIM reads: Users and Groups by id, pages of them, and their rendering.

Rendering reads the related rows a page needs in one query each, and only when the projection returns them.
"""

from peewee import fn

from models.db import in_ids, tenant_filter, valid_id, workspace_row
from models.directory import Group, GroupMember, Member, Role
from models.services import members as member_service

from .. import mapping
from ..constants import ENTERPRISE_USER_SCHEMA
from ..errors import NotFoundError
from ..schema import USER


def _get_row(model, label, workspace, row_id, lock):
    """Return the workspace's `model` row `row_id` (locked FOR UPDATE on PostgreSQL when asked) or raise 404."""
    row = workspace_row(model, workspace.id, row_id, lock)
    if row is None:
        raise NotFoundError(f"{label} {row_id} not found")
    return row


def get_member(workspace, member_id, lock=False):
    """Return the member `member_id` of the workspace or raise 404."""
    return _get_row(Member, "User", workspace, member_id, lock)


def get_group(workspace, group_id, lock=False):
    """Return the group `group_id` of the workspace or raise 404."""
    return _get_row(Group, "Group", workspace, group_id, lock)


def manager_names(workspace, members):
    """Return {manager id: display name} for the managers the members reference."""
    ids = set()
    for member in members:
        manager = (member.attributes or {}).get(ENTERPRISE_USER_SCHEMA, {}).get("manager")
        if isinstance(manager, dict) and valid_id(manager.get("value")):
            ids.add(manager["value"])
    if not ids:
        return {}
    return dict(Member.select(Member.id, fn.COALESCE(Member.display_name, Member.user_name))
                .where(tenant_filter(Member.workspace, workspace.id), in_ids(Member.id, list(ids))).tuples())


def members_of(workspace, group_ids):
    """Return {group_id: [(member id, display)]}: the membership of a page of groups, in one query."""
    out = {gid: [] for gid in group_ids}
    if not group_ids:
        return out
    display = fn.COALESCE(Member.display_name, Member.user_name)
    rows = (GroupMember.select(GroupMember.group, Member.id, display)
            .join(Member, on=(GroupMember.member == Member.id))
            .where(tenant_filter(GroupMember.workspace, workspace.id), in_ids(GroupMember.group, group_ids))
            .order_by(GroupMember.group, GroupMember.id).tuples())
    for group_id, member_id, display in rows:
        out[group_id].append((member_id, display))
    return out


def role_names(workspace):
    """Return the names of the workspace's roles (system and custom), sorted case-insensitively."""
    return [name for (name,) in Role.select(Role.name).where(Role.workspace == workspace.id)
            .order_by(Role.name_ci).tuples()]


def render_users(workspace, members, projection, base_url):
    """Render members as SCIM Users, loading roles, groups and managers only when they are returned."""
    roles, groups = member_service.roles_and_groups_of(workspace, [m.id for m in members],
                                                       roles=projection.returns("roles"),
                                                       groups=projection.returns("groups"))
    managers = (manager_names(workspace, members)
                if projection.returns("manager", ENTERPRISE_USER_SCHEMA) else None)
    return [projection.apply(mapping.user_to_scim(m, base_url, env_roles=roles.get(m.id),
                                                  groups=groups.get(m.id), managers=managers))
            for m in members]


def render_groups(workspace, groups, projection, base_url):
    """Render groups as SCIM Groups; group_member is read only when `members` is returned."""
    rows = members_of(workspace, [g.id for g in groups]) if projection.returns("members") else {}
    return [projection.apply(mapping.group_to_scim(g, base_url, members=rows.get(g.id))) for g in groups]


def list_page(workspace, resource_type, where=None, order=None, offset=0, limit=100):
    """Return (total, rows) of one page: `where` a compiled filter, `order` sort terms (then the id)."""
    model = Member if resource_type == USER else Group
    scope = [model.workspace == workspace.id] + ([where] if where is not None else [])
    ordering = list(order or [model.created_at]) + [model.id]
    if offset == 0 and limit > 0:
        # The first page reads whole rows at once; when it is not full its length is the total (a lookup such
        # as userName eq then costs one query, not three).
        rows = list(model.select().where(*scope).order_by(*ordering).limit(limit))
        if len(rows) < limit:
            return len(rows), rows
        return model.select(model.id).where(*scope).count(), rows
    total = model.select(model.id).where(*scope).count()
    if limit <= 0 or offset >= total:
        return total, []
    # Deeper pages go over ids first: the OFFSET then walks an index, not whole rows. In the default order
    # (created_at, id: never NULL) a page past the middle is read from the far end of the same order, so the
    # page at startIndex=90001 of 100,000 skips 9,900 index entries, not 90,000.
    if not order and offset > total // 2:
        count = min(limit, total - offset)
        ids = [row[0] for row in model.select(model.id).where(*scope)
               .order_by(model.created_at.desc(), model.id.desc())
               .offset(total - offset - count).limit(count).tuples()][::-1]
    else:
        ids = [row[0] for row in model.select(model.id).where(*scope).order_by(*ordering)
               .offset(offset).limit(limit).tuples()]
    rows = {row.id: row for row in model.select().where(tenant_filter(model.workspace, workspace.id),
                                                        in_ids(model.id, ids))}
    return total, [rows[i] for i in ids if i in rows]
