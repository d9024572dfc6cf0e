"""Groups: the membership engine, creating, renaming and deleting groups, and the roles a group grants.

SCIM's repository and the admin API both change groups through here. Steps taking a `change` run inside a
mutation their caller opened (SCIM adds its document, If-Match and quirk handling around them); the entry points
taking `(workspace, actor, ...)` open the mutation themselves.

- `display_name` is unique per workspace, case-insensitively -> DuplicateError (409).
- Members are group_member rows. Adding inserts only the new rows (INSERT ... ON CONFLICT DO NOTHING / INSERT
  OR IGNORE, in chunks, RETURNING what was inserted), removing deletes only the named rows; neither reads the
  membership. Every referenced id must be a member of the same workspace, else InvalidError (400).
- Nested groups are not supported: a member that is a group of the workspace is refused (InvalidError): groups
  grant roles to members; nesting would make effective privileges transitive and unbounded.
- A group pushed over SCIM (`source` "scim:<idp>") belongs to that IdP: the admin entry points refuse to rename,
  fill, empty or delete it (ConflictError naming the IdP), since the next sync would undo it; its grants stay
  Roster's. SCIM itself uses the steps, which do not ask.
"""

from peewee import IntegrityError, fn

from ..db import db, in_ids, not_in_ids, tenant_filter, utcnow, valid_id, workspace_row
from ..directory import SCIM_SOURCE_PREFIX, Group, GroupGrant, GroupMember, Member, Role
from ..privileges import NO_ACCESS
from . import ConflictError, DuplicateError, InvalidError, NotFoundError, mutation
from .roles import resolve_env_roles
from .rows import check_length, save_row

INSERT_CHUNK = 500


def get_group(workspace, group_id, lock=False):
    """Return a group of the workspace (locked FOR UPDATE on PostgreSQL when asked) or raise NotFoundError."""
    row = workspace_row(Group, workspace.id, group_id, lock)
    if row is None:
        raise NotFoundError("Group not found")
    return row


def list_groups(workspace, page=1, page_size=50):
    """Return (groups on the page, total) ordered by name."""
    query = Group.select().where(Group.workspace == workspace.id)
    return list(query.order_by(Group.display_name_ci).paginate(page, page_size)), query.count()


def count_groups(workspace):
    """Return the number of groups of the workspace."""
    return Group.select().where(Group.workspace == workspace.id).count()


def list_group_members(workspace, group_id, page=1, page_size=50):
    """Return (members of the group on the page, total), ordered by userName."""
    group = get_group(workspace, group_id)
    query = (Member.select().join(GroupMember, on=(GroupMember.member == Member.id))
             .where(GroupMember.group == group.id, GroupMember.workspace == workspace.id,
                    Member.workspace == workspace.id))
    return list(query.order_by(Member.user_name_ci, Member.id).paginate(page, page_size)), query.count()


def managed_by(source):
    """Return the IdP owning a row of this `source` ("scim:okta" -> "okta"), or None when Roster owns it."""
    if source and source.startswith(SCIM_SOURCE_PREFIX):
        idp = source[len(SCIM_SOURCE_PREFIX):]
        return idp if idp and idp != "unknown" else "the SCIM client"
    return None


def refuse_if_managed(row, what):
    """Raise ConflictError when an IdP owns `row` (a member or group): `what` it would change is the IdP's."""
    idp = managed_by(row.source)
    if idp:
        raise ConflictError(f"Managed by {idp}: change it in the identity provider",
                            errors={what: [f"{what} is provisioned by {idp} over SCIM"]})


def member_counts(workspace, groups):
    """Return {group_id: member count} for the groups in one query."""
    ids = [g.id for g in groups]
    if not ids:
        return {}
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


def replace_grants(workspace, actor, group_id, env_roles, access=None):
    """Replace the roles the group grants; environments left out grant nothing. Return them per environment."""
    with mutation(workspace, actor, "group.grants_changed") as change:
        # The group row is locked first: two replacements of the same group's grants would otherwise both
        # delete the old rows and both insert, and the second would break the (group, environment) key (500).
        return _replace_grants(change, workspace, get_group(workspace, group_id, lock=True), env_roles, access)


def _replace_grants(change, workspace, group, env_roles, access):
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


# Membership -------------------------------------------------------------------------------------------------

def check_member_ids(workspace, ids):
    """Raise InvalidError unless every id is a member of the workspace; reads only those rows."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return
    bad = [i for i in ids if not valid_id(i)]
    if not bad:
        # The cursor directly: peewee's row iteration costs more than the look-up for 10,000 ids.
        found = {row[0] for row in db.execute_sql(*Member.select(Member.id).where(
            tenant_filter(Member.workspace, workspace.id), in_ids(Member.id, ids)).sql())}
        bad = [i for i in ids if i not in found]
    if not bad:
        return
    candidates = [b for b in bad if valid_id(b)]
    groups = {row[0] for row in Group.select(Group.id)
              .where(tenant_filter(Group.workspace, workspace.id), in_ids(Group.id, candidates)).tuples()}
    if groups:
        raise InvalidError(f"Nested groups are not supported: {', '.join(sorted(groups)[:10])} "
                           f"{'is a Group' if len(groups) == 1 else 'are Groups'}")
    shown = ", ".join(str(b) for b in bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
    raise InvalidError(f"Members must be Users of this workspace; not found: {shown}")


def add_members(change, workspace, group, ids):
    """Insert the membership rows that do not exist yet; return the ids added."""
    ids = list(dict.fromkeys(ids))
    check_member_ids(workspace, ids)
    now = GroupMember.created_at.db_value(utcnow())
    added = []
    # Written by hand: peewee builds a 10,000-row insert_many value by value, slower than the insert itself.
    p = db.param
    for start in range(0, len(ids), INSERT_CHUNK):
        chunk = ids[start:start + INSERT_CHUNK]
        values = ", ".join([f"({p}, {p}, {p}, {p})"] * len(chunk))
        params = [v for mid in chunk for v in (workspace.id, group.id, mid, now)]
        added.extend(row[0] for row in db.execute_sql(
            f'INSERT INTO "group_member" ("workspace_id", "group_id", "member_id", "created_at") VALUES {values} '
            f'ON CONFLICT DO NOTHING RETURNING "member_id"', params))
    if added:
        change.record("group.members_added", "group", group.id, group.display_name, after={"members": added})
    return added


def _delete_members(change, workspace, group, condition):
    query = (GroupMember.delete()
             .where(GroupMember.group == group.id, tenant_filter(GroupMember.workspace, workspace.id),
                    *condition)
             .returning(GroupMember.member))
    removed = [row.member_id for row in query.execute()]
    if removed:
        change.record("group.members_removed", "group", group.id, group.display_name,
                      before={"members": removed})
    return removed


def remove_members(change, workspace, group, ids):
    """Delete the named membership rows; ids that are not members are ignored. Return the ids removed."""
    ids = [i for i in dict.fromkeys(ids) if valid_id(i)]
    return _delete_members(change, workspace, group, [in_ids(GroupMember.member, ids)]) if ids else []


def remove_all_members(change, workspace, group):
    """Empty the group; return the ids removed."""
    return _delete_members(change, workspace, group, [])


def replace_members(change, workspace, group, ids):
    """Make the membership exactly `ids`, deleting and inserting only the rows that differ."""
    ids = list(dict.fromkeys(ids))
    check_member_ids(workspace, ids)
    removed = _delete_members(change, workspace, group, [not_in_ids(GroupMember.member, ids)] if ids else [])
    added = add_members(change, workspace, group, ids)
    return added, removed


def scan_members(workspace, group, batch=1000):
    """Yield the group's members as (member id, display name) in batches ordered by id (for value filters)."""
    last = ""
    display = fn.COALESCE(Member.display_name, Member.user_name)
    while True:
        rows = list(GroupMember.select(Member.id, display)
                    .join(Member, on=(GroupMember.member == Member.id))
                    .where(GroupMember.group == group.id, GroupMember.workspace == workspace.id, Member.id > last)
                    .order_by(Member.id).limit(batch).tuples())
        if not rows:
            return
        yield from rows
        last = rows[-1][0]


def touch(group):
    """Advance the group's version and lastModified after a change, in one UPDATE."""
    now = utcnow()
    Group.update(version=Group.version + 1, updated_at=now).where(
        Group.id == group.id, tenant_filter(Group.workspace, group.workspace_id)).execute()
    group.version += 1
    group.updated_at = now


# Groups -----------------------------------------------------------------------------------------------------

def _columns(display_name, external_id):
    check_length("displayName", display_name)
    check_length("displayName", display_name.lower())  # lower-casing can lengthen a string ("İ" -> "i̇")
    check_length("externalId", external_id)
    return {"display_name": display_name, "display_name_ci": display_name.lower(), "external_id": external_id}


def _check_name(workspace, name, group_id=None):
    clash = Group.select().where(Group.workspace == workspace.id, Group.display_name_ci == name.lower())
    if group_id:
        clash = clash.where(Group.id != group_id)
    if clash.exists():
        raise DuplicateError(f"A Group with displayName {name} already exists")


def insert_group(change, workspace, display_name, external_id=None, attributes=None, member_ids=(), quirks=(),
                 source="admin"):
    """Create a group with its initial members; record group.created (after: `attributes`)."""
    attributes = attributes if attributes is not None else dict(
        {"displayName": display_name}, **({"externalId": external_id} if external_id else {}))
    _check_name(workspace, display_name)
    group = Group(workspace=workspace.id, attributes=attributes, source=source,
                  **_columns(display_name, external_id))
    try:
        with db.atomic():
            group.save(force_insert=True)
    except IntegrityError:
        raise DuplicateError(f"A Group with displayName {display_name} already exists") from None
    change.record("group.created", "group", group.id, group.display_name, after=attributes, quirks=quirks)
    if member_ids:
        add_members(change, workspace, group, member_ids)
    return group


def update_group(change, workspace, group, display_name, external_id=None, attributes=None, quirks=()):
    """Store a group's name, externalId and document; record group.renamed when the name changed."""
    old_name = group.display_name
    if display_name.lower() != group.display_name_ci:
        _check_name(workspace, display_name, group.id)
    columns = _columns(display_name, external_id)
    if display_name != old_name:
        change.record("group.renamed", "group", group.id, display_name, before={"displayName": old_name},
                      after={"displayName": display_name}, quirks=quirks)
    if attributes is None:
        attributes = {k: v for k, v in (group.attributes or {}).items() if k != "externalId"}
        attributes.update({"displayName": display_name}, **({"externalId": external_id} if external_id else {}))
    save_row(group, f"A Group with displayName {display_name} already exists", attributes=attributes, **columns)


def remove_group(change, workspace, group):
    """Delete a group; its membership rows and role grants go with it. Record group.deleted."""
    change.record("group.deleted", "group", group.id, group.display_name,
                  before={"displayName": group.display_name})
    Group.delete().where(Group.id == group.id, Group.workspace == workspace.id).execute()


# Entry points (workspace + actor) ---------------------------------------------------------------------------

def _clean_name(display_name):
    if not isinstance(display_name, str) or not display_name.strip():
        raise InvalidError("A group needs a display_name", errors={"display_name": ["Must not be blank"]})
    return display_name.strip()


def create_group(workspace, actor, display_name, member_ids=(), external_id=None):
    """Create a group managed in Roster (source `admin`) with its initial members."""
    with mutation(workspace, actor, "group.created") as change:
        return insert_group(change, workspace, _clean_name(display_name), external_id or None,
                            member_ids=member_ids)


_KEEP = object()


def rename_group(workspace, actor, group_id, display_name=None, external_id=_KEEP):
    """Rename a group or change its externalId; refused for a group an IdP manages."""
    with mutation(workspace, actor, "group.renamed") as change:
        group = get_group(workspace, group_id, lock=True)
        name = group.display_name if display_name is None else _clean_name(display_name)
        external_id = group.external_id if external_id is _KEEP else (external_id or None)
        if (name, external_id) != (group.display_name, group.external_id):
            refuse_if_managed(group, "display_name" if name != group.display_name else "external_id")
            before = {"displayName": group.display_name, "externalId": group.external_id}
            update_group(change, workspace, group, name, external_id)
            if name == before["displayName"]:
                change.record("group.updated", "group", group.id, name, before={"externalId": before["externalId"]},
                              after={"externalId": external_id})
            touch(group)
        return group


def delete_group(workspace, actor, group_id):
    """Delete a group; refused for a group an IdP manages."""
    with mutation(workspace, actor, "group.deleted") as change:
        group = get_group(workspace, group_id, lock=True)
        refuse_if_managed(group, "group")
        remove_group(change, workspace, group)


def change_members(workspace, actor, group_id, add=(), remove=()):
    """Add and remove members of a group (only the rows that change); return (added, removed). Refused for a
    group an IdP manages."""
    attempted = "group.members_removed" if remove and not add else "group.members_added"
    with mutation(workspace, actor, attempted) as change:
        group = get_group(workspace, group_id, lock=True)
        refuse_if_managed(group, "member_ids")
        removed = remove_members(change, workspace, group, remove)
        added = add_members(change, workspace, group, add)
        if added or removed:
            touch(group)
        return added, removed
