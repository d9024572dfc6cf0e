"""Workspace-scoped SCIM writes: Users <-> members (models.services.members), Groups <-> groups
(models.services.groups, the membership engine). Reads and rendering are in `scim.reads`, re-exported here.

SCIM maps its documents onto the services: document validation, PATCH application, If-Match and the IdP quirks
stay here. Every write runs inside `models.services.mutation()` (one transaction) and records what it changed
with `change.record(...)`, including the quirks `normalize_resource`/`apply_patch` applied; the services'
refusals are answered as SCIM errors (DuplicateError -> 409 uniqueness, 400 -> invalidValue). Nothing here reads
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

Groups (the membership rules are models.services.groups'):
- `displayName` is unique per workspace, case-insensitively -> 409 uniqueness.
- `members` are group_member rows, never part of the stored document; only the rows that differ are written.
  Every referenced id must be a User of the same workspace, and not a Group, else 400 invalidValue.
- A PATCH locks the group row (PostgreSQL `SELECT ... FOR UPDATE`; SQLite write transactions are
  `BEGIN IMMEDIATE`), so concurrent PATCHes to one group serialise and lose nothing.
"""

import contextlib

from models.db import utcnow, valid_id
from models.directory import Member
from models.services import DuplicateError, InvalidError, ServiceError, mutation
from models.services import groups as engine
from models.services import members
from models.services.roles import resolve_env_roles
from models.services.rows import check_length, save_row
from models.services.workspaces import get_or_create_person

from . import mapping, schema
from .constants import ENTERPRISE_USER_SCHEMA
from .errors import InvalidValueError, PreconditionFailedError, ScimError, UniquenessError
from .reads import (get_group, get_member, list_page, manager_names, members_of, render_groups,  # noqa: F401
                    render_users, role_names)
from .schema import GROUP, USER
from .validation import check_immutable, member_ids, normalize_resource


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


@contextlib.contextmanager
def _mutation(workspace, actor, operation):
    """`mutation()`, turning the services' refusals into SCIM errors inside it, so the provisioning log records
    their scimType too: a taken unique value is 409 uniqueness, a refused value 400 invalidValue."""
    with mutation(workspace, actor, operation) as change:
        try:
            yield change
        except ScimError:
            raise
        except DuplicateError as error:
            raise UniquenessError(error.message) from None
        except InvalidError as error:
            raise InvalidValueError(error.message) from None


# Helpers ----------------------------------------------------------------------------------------------------


def _check_if_match(row, if_match):
    """Raise 412 unless If-Match names the current version or is `*` (RFC 7644 §3.14, RFC 7232 §3.1)."""
    if if_match and not mapping.etag_matches(if_match, row.version):
        raise PreconditionFailedError(f"The resource is at version {mapping.etag(row.version)}, not {if_match}")


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


def _user_before(workspace, member):
    """Return (SCIM document, direct roles) of a member about to be updated: its roles read once."""
    current = members.direct_roles(workspace, member)
    return mapping.user_document(member, {env: name for env, (_, name) in current.items()}), current


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
        check_length(label, stored.get(label))
    email = _primary_email(stored)
    check_length("emails.value", email)
    manager_id = _manager_id(stored)
    if manager_id is not None and (old_stored is None or manager_id != _manager_id(old_stored)):
        if not valid_id(manager_id) or not Member.select().where(
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


def create_user(workspace, actor, body, options):
    """Create a member from a SCIM User (RFC 7644 §3.3)."""
    doc, quirks = normalize_resource(USER, body, strict=options.strict)
    options.note(quirks)
    stored, active, roles = _split_user_doc(doc)
    with _mutation(workspace, actor, "user.created") as change:
        # The unique indexes (workspace, userName) and (workspace, person) decide (members.insert_member).
        email = _check_user_doc(workspace, stored, check_unique=False)
        person = get_or_create_person(email or stored["userName"], stored.get("displayName") or "")
        wanted = _resolve_roles(workspace, roles)
        member = members.insert_member(workspace, Member(
            workspace=workspace.id, person=person.id, attributes=stored,
            status="suspended" if active is False else "active", **_columns(stored, email)), person)
        change.record("user.created", "user", member.id, member.user_name,
                      after=dict(stored, active=member.active), quirks=quirks)
        members.apply_roles(change, workspace, member, wanted, current={})
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
            members.set_suspended(change, member, False, before={"active": False}, after={}, quirks=quirks)
    if active is not None and active != (member.status != "suspended"):
        members.set_suspended(change, member, not active,
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
    if roles_given and members.apply_roles(change, workspace, member, _resolve_roles(workspace, roles),
                                           current=current_roles):
        changed = True
    if changed:
        if unassigned:
            stored[mapping.ACTIVE_UNASSIGNED] = None
        save_row(member, f"A User with userName {stored['userName']} already exists", attributes=stored,
                 status=member.status, version=member.version + 1, updated_at=utcnow(), **_columns(stored, email))
    return member


def replace_user(workspace, actor, member_id, body, options):
    """Replace a user (RFC 7644 §3.5.1): read-only attributes ignored, immutable ones checked."""
    doc, quirks = normalize_resource(USER, body, strict=options.strict)
    options.note(quirks)
    roles_given = isinstance(body, dict) and any(isinstance(k, str) and k.lower() == "roles" for k in body)
    with _mutation(workspace, actor, "user.updated") as change:
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
    with _mutation(workspace, actor, "user.updated") as change:
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
    with _mutation(workspace, actor, "user.deleted") as change:
        member = get_member(workspace, member_id, lock=True)
        _check_if_match(member, options.if_match)
        members.delete_member(change, workspace, member, "user.deleted",
                              {"userName": member.user_name, "active": member.active})


# Groups -----------------------------------------------------------------------------------------------------


def remove_members_matching(change, workspace, group, node, base_url):
    """Remove the members a value filter selects (`members[display co "x"]`), scanning the group in batches.

    `members[value eq "id"]` never comes here: the PATCH engine turns it into a plain removal by id.
    """
    from .filters import matches
    attribute = schema.resolve(GROUP, None, "members")
    doomed = []
    for member_id, display in engine.scan_members(workspace, group):
        element = {"value": member_id, "display": display, "type": "User",
                   "$ref": mapping.user_location(base_url, member_id)}
        if matches(node, element, attribute, resource_type=GROUP):
            doomed.append(member_id)
    return engine.remove_members(change, workspace, group, doomed)


def _apply_member_ops(change, workspace, group, member_ops, base_url):
    changed = False
    for op in member_ops:
        kind = op[0]
        if kind == "add":
            changed |= bool(engine.add_members(change, workspace, group, op[1]))
        elif kind == "remove":
            changed |= bool(engine.remove_members(change, workspace, group, op[1]))
        elif kind == "remove_all":
            changed |= bool(engine.remove_all_members(change, workspace, group))
        elif kind == "replace":
            added, removed = engine.replace_members(change, workspace, group, op[1])
            changed |= bool(added or removed)
        elif kind == "remove_filter":
            changed |= bool(remove_members_matching(change, workspace, group, op[1], base_url))
        else:
            raise ValueError(f"Unknown member operation {kind!r}")
    return changed


def create_group(workspace, actor, body, options):
    """Create a group, with its initial members (RFC 7644 §3.3)."""
    doc, quirks = normalize_resource(GROUP, body, strict=options.strict)
    options.note(quirks)
    ids = member_ids(doc.pop("members", None) or [])
    with _mutation(workspace, actor, "group.created") as change:
        return engine.insert_group(change, workspace, doc["displayName"], doc.get("externalId"), attributes=doc,
                                   member_ids=ids, quirks=quirks)


def _update_group_doc(change, workspace, group, old, new, quirks):
    """Store a group's new document; record a rename or update. Return True when it changed."""
    check_immutable(GROUP, old, new)
    if new == old:
        return False
    engine.update_group(change, workspace, group, new["displayName"], new.get("externalId"), attributes=new,
                        quirks=quirks)
    rest_before, rest_after = _diff({k: v for k, v in old.items() if k != "displayName"},
                                    {k: v for k, v in new.items() if k != "displayName"})
    if rest_before or rest_after:
        change.record("group.updated", "group", group.id, new["displayName"], before=rest_before,
                      after=rest_after, quirks=quirks)
    return True


def replace_group(workspace, actor, group_id, body, options):
    """Replace a group and its membership (RFC 7644 §3.5.1), writing only the membership rows that differ."""
    doc, quirks = normalize_resource(GROUP, body, strict=options.strict)
    options.note(quirks)
    ids = member_ids(doc.pop("members", None) or [])
    with _mutation(workspace, actor, "group.updated") as change:
        group = get_group(workspace, group_id, lock=True)
        _check_if_match(group, options.if_match)
        changed = _update_group_doc(change, workspace, group, dict(group.attributes or {}), doc, quirks)
        added, removed = engine.replace_members(change, workspace, group, ids)
        if changed or added or removed:
            engine.touch(group)
        _record_attempt(change, "group.updated", "group", group.id, group.display_name, quirks)
    return group


def patch_group(workspace, actor, group_id, operations, options):
    """Apply a PatchOp to a group atomically (RFC 7644 §3.5.2); members change as row deltas."""
    from .patch import apply_patch
    with _mutation(workspace, actor, "group.updated") as change:
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
            engine.touch(group)
        _record_attempt(change, "group.updated", "group", group.id, group.display_name, result.quirks)
    return group


def delete_group(workspace, actor, group_id, options):
    """Delete a group (RFC 7644 §3.6); its membership rows and role grants go with it."""
    with _mutation(workspace, actor, "group.deleted") as change:
        group = get_group(workspace, group_id, lock=True)
        _check_if_match(group, options.if_match)
        engine.remove_group(change, workspace, group)
