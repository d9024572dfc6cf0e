"""Workspace-scoped SCIM reads and writes: Users <-> members, Groups <-> groups, and the membership engine.

Every write runs inside `models.services.mutation()` (one transaction) and records what it changed with
`change.record(...)`, including the IdP quirks `normalize_resource`/`apply_patch` applied. Nothing here reads
`flask.g`: the workspace, the actor and the request's options are arguments.

Users:
- `userName` is unique per workspace, case-insensitively (`user_name_ci`, unique index) -> 409 uniqueness.
- A Person is keyed by the user's primary email (else the first email, else the userName) and created when
  new; it is fixed when the member is created: later email changes update the member, never re-point it to
  another person (a provisioning client could otherwise hand a membership, or the ownership, to someone else).
- `active: false` suspends (status "suspended"), keeping roles and groups; `active: true` reactivates. A PUT
  without `active` keeps the status.
- `roles` are the direct roles: `value` the role name, `type` the environment (it may be left out when the
  workspace has a single environment); `NoAccess` or an environment left out means no direct role there.
  A PUT without `roles` keeps the direct roles (roles are permissions an IdP may not know about); `roles: []`
  in a PUT, or PATCH operations on `roles`, change them. Unknown role or environment -> 400 invalidValue.
- The enterprise `manager.value` must be a User of the workspace (400 invalidValue otherwise).
- The owner cannot be deleted, suspended or demoted through SCIM: 409 with a detail saying why.
- DELETE removes the membership (its roles and group memberships go with it); the person stays.

Groups and the membership engine:
- `displayName` is unique per workspace, case-insensitively -> 409 uniqueness.
- `members` are group_member rows, never part of the stored document. Adding inserts only the new rows
  (INSERT ... ON CONFLICT DO NOTHING / INSERT OR IGNORE), removing deletes only the named rows; neither reads
  the membership. Every referenced id must be a User of the same workspace, else 400 invalidValue.
- Nested groups are not supported: a member that is a Group of the workspace is refused with 400 invalidValue
  (Roster's groups grant roles to members; nesting would make effective privileges transitive and unbounded).
- A PATCH locks the group row (PostgreSQL `SELECT ... FOR UPDATE`; SQLite write transactions are
  `BEGIN IMMEDIATE`), so concurrent PATCHes to one group serialise and lose nothing.
"""


from peewee import SQL, IntegrityError, fn

from models.db import db, id_list_sql, is_postgres, tenant_filter, tenant_sql, utcnow
from models.directory import Group, GroupMember, Member, MemberRole, Role
from models.services import ServiceError, mutation
from models.services.roles import resolve_env_roles
from models.services.workspaces import get_or_create_person

from . import mapping, schema
from .constants import ENTERPRISE_USER_SCHEMA
from .schema import GROUP, USER
from .errors import ConflictError, InvalidValueError, NotFoundError, PreconditionFailedError, UniquenessError
from .validation import check_immutable, member_ids, normalize_resource

COLUMN_MAX = 320
ID_MAX = 64
# Above this many ids an IN list becomes one JSON parameter (SQLite allows 32766 bound variables).
INLINE_IDS = 200
INSERT_CHUNK = 500


class Options:
    """What a write needs besides its body: strictness, If-Match, the public URL.

    `quirks` collects the names of the IdP quirks the request applied (the endpoints pass `g.scim_quirks`).
    """

    def __init__(self, base_url, strict=False, if_match=None, quirks=None):
        self.base_url = base_url
        self.strict = strict
        self.if_match = if_match
        self.quirks = quirks if quirks is not None else []

    def note(self, quirks):
        """Add quirk names to those the request applied."""
        self.quirks.extend(q for q in quirks if q not in self.quirks)


# Reads ------------------------------------------------------------------------------------------------------

def _valid_id(value):
    # No id holds NUL, and PostgreSQL cannot even compare a string with one.
    return isinstance(value, str) and 0 < len(value) <= ID_MAX and "\x00" not in value


def _get_row(model, label, workspace, row_id, lock):
    """Return the workspace's `model` row `row_id` (locked FOR UPDATE on PostgreSQL when asked) or raise 404."""
    row = None
    if _valid_id(row_id):
        query = model.select().where(model.id == row_id, model.workspace == workspace.id)
        if lock and is_postgres():
            query = query.for_update()
        row = query.first()
    if row is None:
        raise NotFoundError(f"{label} {row_id} not found")
    return row


def get_member(workspace, member_id, lock=False):
    """Return the member `member_id` of the workspace or raise 404."""
    return _get_row(Member, "User", workspace, member_id, lock)


def get_group(workspace, group_id, lock=False):
    """Return the group `group_id` of the workspace or raise 404."""
    return _get_row(Group, "Group", workspace, group_id, lock)


def member_by_person(workspace, person):
    """Return the person's membership in the workspace, or None."""
    return Member.get_or_none(Member.workspace == workspace.id, Member.person == person.id)


def roles_and_groups_of(workspace, member_ids, roles=True, groups=True):
    """Return ({member_id: {environment: role name}}, {member_id: [(group id, displayName)]}) in one query.

    Hand-written SQL: every rendered User needs it, and building two ORM queries cost more than running them.
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


def manager_names(workspace, members):
    """Return {manager id: display name} for the managers the members reference."""
    ids = set()
    for member in members:
        manager = (member.attributes or {}).get(ENTERPRISE_USER_SCHEMA, {}).get("manager")
        if isinstance(manager, dict) and _valid_id(manager.get("value")):
            ids.add(manager["value"])
    if not ids:
        return {}
    return dict(Member.select(Member.id, fn.COALESCE(Member.display_name, Member.user_name))
                .where(tenant_filter(Member.workspace, workspace.id), _in(Member.id, list(ids))).tuples())


def members_of(workspace, group_ids):
    """Return {group_id: [(member id, display)]}: the membership of a page of groups, in one query."""
    out = {gid: [] for gid in group_ids}
    if not group_ids:
        return out
    display = fn.COALESCE(Member.display_name, Member.user_name)
    rows = (GroupMember.select(GroupMember.group, Member.id, display)
            .join(Member, on=(GroupMember.member == Member.id))
            .where(tenant_filter(GroupMember.workspace, workspace.id), _in(GroupMember.group, group_ids))
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
    roles, groups = roles_and_groups_of(workspace, [m.id for m in members], roles=projection.returns("roles"),
                                        groups=projection.returns("groups"))
    managers = (manager_names(workspace, members)
                if projection.returns("manager", ENTERPRISE_USER_SCHEMA) else None)
    return [projection.apply(mapping.user_to_scim(m, base_url, env_roles=roles.get(m.id),
                                                  groups=groups.get(m.id), managers=managers))
            for m in members]


def render_groups(workspace, groups, projection, base_url):
    """Render groups as SCIM Groups; group_member is read only when `members` is returned."""
    members = members_of(workspace, [g.id for g in groups]) if projection.returns("members") else {}
    return [projection.apply(mapping.group_to_scim(g, base_url, members=members.get(g.id))) for g in groups]


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
                                                        _in(model.id, ids))}
    return total, [rows[i] for i in ids if i in rows]


# Helpers ----------------------------------------------------------------------------------------------------

def _id_list(ids):
    """Return a subquery yielding `ids` from one bound JSON parameter (for lists of any length)."""
    fragment, param = id_list_sql(ids)
    return SQL(fragment, [param])


def _in(column, ids):
    ids = list(ids)
    return column.in_(ids) if len(ids) <= INLINE_IDS else column.in_(_id_list(ids))


def _not_in(column, ids):
    ids = list(ids)
    return column.not_in(ids) if len(ids) <= INLINE_IDS else column.not_in(_id_list(ids))


def _check_if_match(row, if_match):
    """Raise 412 unless If-Match names the current version or is `*` (RFC 7644 §3.14, RFC 7232 §3.1)."""
    if if_match and not mapping.etag_matches(if_match, row.version):
        raise PreconditionFailedError(f"The resource is at version {mapping.etag(row.version)}, not {if_match}")


def _check_length(label, value):
    if isinstance(value, str) and len(value) > COLUMN_MAX:
        raise InvalidValueError(f"Attribute '{label}' is longer than {COLUMN_MAX} characters")


def _diff(before, after):
    """Return (before, after) restricted to the top-level keys that differ."""
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {k: before[k] for k in keys if k in before}, {k: after[k] for k in keys if k in after}


def _record_attempt(change, operation, target_type, target_id, target_name, quirks):
    """Tag every event of a PUT or PATCH with its quirks; record one event when it changed nothing.

    Every attempted mutation is logged: Okta re-sends a pushed group's name with its id on every membership
    update, which changes nothing but still applied a quirk the provisioning log must show.
    """
    for event in change.events:
        event.quirks = event.quirks or list(quirks)
    if not change.events:
        change.record(operation, target_type, target_id, target_name, before={}, after={}, quirks=quirks)


# Users ------------------------------------------------------------------------------------------------------

def _primary_email(doc):
    emails = [e for e in doc.get("emails") or [] if isinstance(e.get("value"), str) and e["value"].strip()]
    chosen = next((e for e in emails if e.get("primary") is True), emails[0] if emails else None)
    return chosen["value"].strip().lower() if chosen else None


def _resolve_roles(workspace, roles):
    """Turn SCIM roles (value = role name, type = environment) into {environment: Role or None} for every
    environment, with the admin API's rules (models.services.roles.resolve_env_roles)."""
    env_roles = []
    for item in roles or []:
        name, env = item.get("value"), item.get("type")
        if not isinstance(name, str) or not name:
            raise InvalidValueError("Every role needs a \"value\": the role name")
        if env is None:
            if len(workspace.environments) != 1:
                raise InvalidValueError(f"Role {name} needs a \"type\": the environment, one of "
                                        f"{', '.join(workspace.environments)}")
            env = workspace.environments[0]
        if not isinstance(env, str):
            raise InvalidValueError(f"The \"type\" of role {name} must be an environment name")
        env_roles.append({"environment_type": env, "name": name})
    try:
        return resolve_env_roles(workspace, env_roles, fill_no_access=True)
    except ServiceError as error:
        raise InvalidValueError(error.message) from None


def _direct_roles(workspace, member):
    """Return the member's direct roles as {environment: (role id, role name)}."""
    return {env: (role_id, name) for env, role_id, name in
            MemberRole.select(MemberRole.environment, Role.id, Role.name).join(Role)
            .where(MemberRole.member == member.id, MemberRole.workspace == workspace.id).tuples()}


def _user_before(workspace, member):
    """Return (SCIM document, direct roles) of a member about to be updated: its roles read once."""
    current = _direct_roles(workspace, member)
    return mapping.user_document(member, {env: name for env, (_, name) in current.items()}), current


def _apply_roles(change, workspace, member, wanted, current=None):
    """Make the member's direct roles `wanted`; record role.granted/role.revoked. Return True if changed.

    `current` ({environment: (role id, name)}) may be given when known (a new member has none).
    """
    if current is None:
        current = _direct_roles(workspace, member)
    if not wanted and not current:
        return False
    if member.is_owner and any(role is None or role.name != "Admin" for role in wanted.values()):
        raise ConflictError("The owner of the workspace keeps Admin in every environment and cannot be demoted "
                        "through SCIM; transfer ownership first")
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


def _split_user_doc(doc):
    """Split a normalized user document into (stored doc, active or None, roles or None)."""
    stored = dict(doc)
    active = stored.pop("active", None)
    roles = stored.pop("roles", None)
    stored.pop("groups", None)
    return stored, active, roles


def _manager_id(stored):
    manager = stored.get(ENTERPRISE_USER_SCHEMA, {}).get("manager")
    return manager.get("value") if isinstance(manager, dict) else None


def _check_user_doc(workspace, stored, member_id=None, check_unique=True, old_stored=None):
    """Check lengths, the manager (only when it changed from `old_stored`) and userName; return the email."""
    for label in ("userName", "externalId", "displayName"):
        _check_length(label, stored.get(label))
    email = _primary_email(stored)
    _check_length("emails.value", email)
    manager_id = _manager_id(stored)
    if manager_id is not None and (old_stored is None or manager_id != _manager_id(old_stored)):
        if not _valid_id(manager_id) or not Member.select().where(
                Member.workspace == workspace.id, Member.id == manager_id).exists():
            raise InvalidValueError(f"The manager {manager_id} is not a User of this workspace")
    if check_unique:
        user_name_ci = stored["userName"].lower()
        clash = Member.select().where(Member.workspace == workspace.id, Member.user_name_ci == user_name_ci)
        if member_id:
            clash = clash.where(Member.id != member_id)
        if clash.exists():
            raise UniquenessError(f"A User with userName {stored['userName']} already exists")
    return email


def _columns(stored, email):
    return {"user_name": stored["userName"], "user_name_ci": stored["userName"].lower(),
            "external_id": stored.get("externalId"), "display_name": stored.get("displayName"),
            "email_ci": email}


def _save(row, clash, **fields):
    """Write `fields` of a workspace's row in one UPDATE that keeps the workspace filter (PRODUCT.md: Citus).

    A unique-index race is 409 uniqueness with the detail `clash`; the row object is updated on success.
    """
    model = type(row)
    try:
        with db.atomic():
            model.update(**fields).where(model.id == row.id,
                                         tenant_filter(model.workspace, row.workspace_id)).execute()
    except IntegrityError:
        raise UniquenessError(clash) from None
    for key, value in fields.items():
        setattr(row, key, value)


def create_user(workspace, actor, body, options):
    """Create a member from a SCIM User (RFC 7644 §3.3)."""
    doc, quirks = normalize_resource(USER, body, strict=options.strict)
    options.note(quirks)
    stored, active, roles = _split_user_doc(doc)
    with mutation(workspace, actor, "user.created") as change:
        # The unique indexes (workspace, userName) and (workspace, person) decide; which one refused is only
        # worked out when one did, so a create costs no look-ups ahead of its INSERT.
        email = _check_user_doc(workspace, stored, check_unique=False)
        person = get_or_create_person(email or stored["userName"], stored.get("displayName") or "")
        wanted = _resolve_roles(workspace, roles)
        member = Member(workspace=workspace.id, person=person.id, attributes=stored,
                        status="suspended" if active is False else "active")
        try:
            with db.atomic():
                for key, value in _columns(stored, email).items():
                    setattr(member, key, value)
                member.save(force_insert=True)
        except IntegrityError:
            if member_by_person(workspace, person) is not None:
                raise UniquenessError(f"A User with email {person.email} already exists in this workspace") \
                    from None
            raise UniquenessError(f"A User with userName {stored['userName']} already exists") from None
        change.record("user.created", "user", member.id, member.user_name,
                      after=dict(stored, active=member.active), quirks=quirks)
        _apply_roles(change, workspace, member, wanted, current={})
    return member


def _update_user(change, workspace, member, before_doc, new_doc, quirks, roles_given, current_roles):
    """Write a user's new document, status and roles; record what changed.

    `current_roles` ({environment: (role id, name)}) are the direct roles `before_doc` was built from.
    """
    stored, active, roles = _split_user_doc(new_doc)
    old_stored, old_active, _ = _split_user_doc(before_doc)
    check_immutable(USER, old_stored, stored)
    email = _check_user_doc(workspace, stored, member.id,
                            check_unique=stored["userName"].lower() != member.user_name_ci,
                            old_stored=old_stored)
    changed = False
    # A PATCH removing `active` leaves it unassigned (RFC 7644 §3.5.2.2): Roster reads that as "not
    # suspended" and stops returning it until a write assigns it again. PUT keeps the current state.
    unassigned = active is None and (old_active is not None or mapping.active_unassigned(member))
    if unassigned and old_active is not None:
        change.record("user.updated", "user", member.id, member.user_name, before={"active": old_active},
                      after={}, quirks=quirks)
        changed = True
        if member.status == "suspended":
            member.status = "active"
            change.record("user.reactivated", "user", member.id, member.user_name,
                          before={"active": False}, after={}, quirks=quirks)
    if active is not None and active != (member.status != "suspended"):
        if member.is_owner and active is False:
            raise ConflictError("The owner of the workspace cannot be suspended through SCIM; transfer ownership "
                            "first")
        member.status = "active" if active else "suspended"
        operation = "user.reactivated" if active else "user.deactivated"
        change.record(operation, "user", member.id, member.user_name,
                      before={"active": old_active} if old_active is not None else {},
                      after={"active": active}, quirks=quirks)
        changed = True
    elif active is not None and old_active is None:
        # `active` was unassigned (and so not suspended): assigning true changes the representation only.
        change.record("user.updated", "user", member.id, member.user_name, before={},
                      after={"active": active}, quirks=quirks)
        changed = True
    if stored != old_stored:
        before, after = _diff(old_stored, stored)
        change.record("user.updated", "user", member.id, stored["userName"], before=before, after=after,
                      quirks=quirks)
        changed = True
    if roles_given and _apply_roles(change, workspace, member, _resolve_roles(workspace, roles),
                                    current=current_roles):
        changed = True
    if changed:
        if unassigned:
            stored[mapping.ACTIVE_UNASSIGNED] = None
        _save(member, f"A User with userName {stored['userName']} already exists", attributes=stored,
              status=member.status, version=member.version + 1, updated_at=utcnow(), **_columns(stored, email))
    return member


def replace_user(workspace, actor, member_id, body, options):
    """Replace a user (RFC 7644 §3.5.1): read-only attributes ignored, immutable ones checked."""
    doc, quirks = normalize_resource(USER, body, strict=options.strict)
    options.note(quirks)
    roles_given = isinstance(body, dict) and any(isinstance(k, str) and k.lower() == "roles" for k in body)
    with mutation(workspace, actor, "user.updated") as change:
        member = get_member(workspace, member_id, lock=True)
        _check_if_match(member, options.if_match)
        before, current_roles = _user_before(workspace, member)
        if "active" not in doc and "active" in before:
            doc["active"] = before["active"]
        _update_user(change, workspace, member, before, doc, quirks, roles_given, current_roles)
        _record_attempt(change, "user.updated", "user", member.id, member.user_name, quirks)
    return member


def patch_user(workspace, actor, member_id, operations, options):
    """Apply a PatchOp to a user atomically (RFC 7644 §3.5.2)."""
    from .patch import apply_patch
    with mutation(workspace, actor, "user.updated") as change:
        member = get_member(workspace, member_id, lock=True)
        _check_if_match(member, options.if_match)
        before, current_roles = _user_before(workspace, member)
        result = apply_patch(USER, before, operations, strict=options.strict, resource_id=member.id)
        options.note(result.quirks)
        if result.changed:
            if not result.resource.get("userName"):
                raise InvalidValueError("Attribute 'userName' is required")
            roles_given = result.resource.get("roles") != before.get("roles")
            _update_user(change, workspace, member, before, result.resource, result.quirks, roles_given,
                         current_roles)
        _record_attempt(change, "user.updated", "user", member.id, member.user_name, result.quirks)
    return member


def delete_user(workspace, actor, member_id, options):
    """Remove a membership (RFC 7644 §3.6): roles and group memberships go, the person stays."""
    with mutation(workspace, actor, "user.deleted") as change:
        member = get_member(workspace, member_id, lock=True)
        _check_if_match(member, options.if_match)
        if member.is_owner:
            raise ConflictError("The owner of the workspace cannot be deleted through SCIM; transfer ownership "
                            "first")
        change.record("user.deleted", "user", member.id, member.user_name,
                      before={"userName": member.user_name, "active": member.active})
        # ON DELETE CASCADE removes the member's group_member and member_role rows.
        Member.delete().where(Member.id == member.id, Member.workspace == workspace.id).execute()


# Groups -----------------------------------------------------------------------------------------------------

def check_member_ids(workspace, ids):
    """Raise 400 invalidValue unless every id is a User of the workspace; reads only those rows."""
    ids = list(dict.fromkeys(ids))
    if not ids:
        return
    bad = [i for i in ids if not _valid_id(i)]
    if not bad:
        found = {row[0] for row in Member.select(Member.id)
                 .where(tenant_filter(Member.workspace, workspace.id), _in(Member.id, ids)).tuples()}
        bad = [i for i in ids if i not in found]
    if not bad:
        return
    candidates = [b for b in bad if _valid_id(b)]
    groups = {row[0] for row in Group.select(Group.id)
              .where(tenant_filter(Group.workspace, workspace.id), _in(Group.id, candidates)).tuples()}
    if groups:
        raise InvalidValueError(f"Nested groups are not supported: {', '.join(sorted(groups)[:10])} "
                                f"{'is a Group' if len(groups) == 1 else 'are Groups'}")
    shown = ", ".join(str(b) for b in bad[:10]) + (f" and {len(bad) - 10} more" if len(bad) > 10 else "")
    raise InvalidValueError(f"Members must be Users of this workspace; not found: {shown}")


def add_members(change, workspace, group, ids):
    """Insert the membership rows that do not exist yet; return the ids added."""
    ids = list(dict.fromkeys(ids))
    check_member_ids(workspace, ids)
    now = utcnow()
    added = []
    for start in range(0, len(ids), INSERT_CHUNK):
        rows = [{"workspace": workspace.id, "group": group.id, "member": mid, "created_at": now}
                for mid in ids[start:start + INSERT_CHUNK]]
        query = GroupMember.insert_many(rows).on_conflict_ignore().returning(GroupMember.member)
        added.extend(row.member_id for row in query.execute())
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
    ids = [i for i in dict.fromkeys(ids) if _valid_id(i)]
    return _delete_members(change, workspace, group, [_in(GroupMember.member, ids)]) if ids else []


def remove_all_members(change, workspace, group):
    """Empty the group."""
    return _delete_members(change, workspace, group, [])


def replace_members(change, workspace, group, ids):
    """Make the membership exactly `ids`, deleting and inserting only the rows that differ."""
    ids = list(dict.fromkeys(ids))
    check_member_ids(workspace, ids)
    removed = _delete_members(change, workspace, group, [_not_in(GroupMember.member, ids)] if ids else [])
    added = add_members(change, workspace, group, ids)
    return added, removed


def remove_members_matching(change, workspace, group, node, base_url):
    """Remove the members a value filter selects (`members[display co "x"]`), scanning the group in batches.

    `members[value eq "id"]` never comes here: the PATCH engine turns it into a plain removal by id.
    """
    from .filters import matches
    attribute = schema.resolve(GROUP, None, "members")
    doomed, last = [], ""
    while True:
        display = fn.COALESCE(Member.display_name, Member.user_name)
        rows = (GroupMember.select(GroupMember.id, Member.id, display)
                .join(Member, on=(GroupMember.member == Member.id))
                .where(GroupMember.group == group.id, GroupMember.workspace == workspace.id,
                       Member.id > last)
                .order_by(Member.id).limit(1000).tuples())
        batch = list(rows)
        if not batch:
            break
        for _, member_id, display in batch:
            element = {"value": member_id, "display": display, "type": "User",
                       "$ref": mapping.user_location(base_url, member_id)}
            if matches(node, element, attribute, resource_type=GROUP):
                doomed.append(member_id)
        last = batch[-1][1]
    return remove_members(change, workspace, group, doomed)


def _apply_member_ops(change, workspace, group, member_ops, base_url):
    changed = False
    for op in member_ops:
        kind = op[0]
        if kind == "add":
            changed |= bool(add_members(change, workspace, group, op[1]))
        elif kind == "remove":
            changed |= bool(remove_members(change, workspace, group, op[1]))
        elif kind == "remove_all":
            changed |= bool(remove_all_members(change, workspace, group))
        elif kind == "replace":
            added, removed = replace_members(change, workspace, group, op[1])
            changed |= bool(added or removed)
        elif kind == "remove_filter":
            changed |= bool(remove_members_matching(change, workspace, group, op[1], base_url))
        else:
            raise ValueError(f"Unknown member operation {kind!r}")
    return changed


def _group_columns(stored):
    _check_length("displayName", stored.get("displayName"))
    _check_length("externalId", stored.get("externalId"))
    return {"display_name": stored["displayName"], "display_name_ci": stored["displayName"].lower(),
            "external_id": stored.get("externalId")}


def _check_group_name(workspace, name, group_id=None):
    clash = Group.select().where(Group.workspace == workspace.id, Group.display_name_ci == name.lower())
    if group_id:
        clash = clash.where(Group.id != group_id)
    if clash.exists():
        raise UniquenessError(f"A Group with displayName {name} already exists")


def _bump(group):
    """Advance the group's version and lastModified after a membership change, in one UPDATE."""
    now = utcnow()
    Group.update(version=Group.version + 1, updated_at=now).where(
        Group.id == group.id, tenant_filter(Group.workspace, group.workspace_id)).execute()
    group.version += 1
    group.updated_at = now


def create_group(workspace, actor, body, options):
    """Create a group, with its initial members (RFC 7644 §3.3)."""
    doc, quirks = normalize_resource(GROUP, body, strict=options.strict)
    options.note(quirks)
    ids = member_ids(doc.pop("members", None) or [])
    with mutation(workspace, actor, "group.created") as change:
        _check_group_name(workspace, doc["displayName"])
        group = Group(workspace=workspace.id, attributes=doc, **_group_columns(doc))
        try:
            with db.atomic():
                group.save(force_insert=True)
        except IntegrityError:
            raise UniquenessError(f"A Group with displayName {doc['displayName']} already exists") from None
        change.record("group.created", "group", group.id, group.display_name, after=doc, quirks=quirks)
        if ids:
            add_members(change, workspace, group, ids)
    return group


def _update_group_doc(change, workspace, group, old, new, quirks):
    """Store a group's new document; record a rename or update. Return True when it changed."""
    check_immutable(GROUP, old, new)
    if new == old:
        return False
    _check_group_name(workspace, new["displayName"], group.id)
    columns = _group_columns(new)
    if new["displayName"] != old.get("displayName"):
        change.record("group.renamed", "group", group.id, new["displayName"],
                      before={"displayName": old.get("displayName")},
                      after={"displayName": new["displayName"]},
                      quirks=quirks)
    rest_before, rest_after = _diff({k: v for k, v in old.items() if k != "displayName"},
                                    {k: v for k, v in new.items() if k != "displayName"})
    if rest_before or rest_after:
        change.record("group.updated", "group", group.id, new["displayName"], before=rest_before,
                      after=rest_after, quirks=quirks)
    _save(group, f"A Group with displayName {new['displayName']} already exists", attributes=new, **columns)
    return True


def replace_group(workspace, actor, group_id, body, options):
    """Replace a group and its membership (RFC 7644 §3.5.1), writing only the membership rows that differ."""
    doc, quirks = normalize_resource(GROUP, body, strict=options.strict)
    options.note(quirks)
    ids = member_ids(doc.pop("members", None) or [])
    with mutation(workspace, actor, "group.updated") as change:
        group = get_group(workspace, group_id, lock=True)
        _check_if_match(group, options.if_match)
        changed = _update_group_doc(change, workspace, group, dict(group.attributes or {}), doc, quirks)
        added, removed = replace_members(change, workspace, group, ids)
        if changed or added or removed:
            _bump(group)
        _record_attempt(change, "group.updated", "group", group.id, group.display_name, quirks)
    return group


def patch_group(workspace, actor, group_id, operations, options):
    """Apply a PatchOp to a group atomically (RFC 7644 §3.5.2); members change as row deltas."""
    from .patch import apply_patch
    with mutation(workspace, actor, "group.updated") as change:
        group = get_group(workspace, group_id, lock=True)
        _check_if_match(group, options.if_match)
        old = dict(group.attributes or {})
        result = apply_patch(GROUP, old, operations, strict=options.strict, resource_id=group.id)
        options.note(result.quirks)
        new = dict(result.resource)
        new.pop("members", None)
        if not new.get("displayName"):
            raise InvalidValueError("Attribute 'displayName' is required")
        changed = _update_group_doc(change, workspace, group, old, new, result.quirks)
        if result.member_ops:
            if _apply_member_ops(change, workspace, group, result.member_ops, options.base_url):
                changed = True
        if changed:
            _bump(group)
        _record_attempt(change, "group.updated", "group", group.id, group.display_name, result.quirks)
    return group


def delete_group(workspace, actor, group_id, options):
    """Delete a group (RFC 7644 §3.6); its membership rows and role grants go with it."""
    with mutation(workspace, actor, "group.deleted") as change:
        group = get_group(workspace, group_id, lock=True)
        _check_if_match(group, options.if_match)
        change.record("group.deleted", "group", group.id, group.display_name,
                      before={"displayName": group.display_name})
        Group.delete().where(Group.id == group.id, Group.workspace == workspace.id).execute()

