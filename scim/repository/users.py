"""SCIM Users <-> workspace members: documents mapped onto the member service (models.services.members)."""

from models.db import utcnow, valid_id
from models.directory import Member
from models.services import ServiceError
from models.services import members
from models.services.roles import resolve_env_roles
from models.services.rows import check_length, save_row
from models.services.workspaces import get_or_create_person

from .. import mapping
from ..constants import ENTERPRISE_USER_SCHEMA
from ..errors import InvalidValueError, UniquenessError
from ..patch import apply_patch
from ..schema import USER
from ..validation import check_immutable, normalize_resource
from .common import check_if_match, diff, record_attempt, scim_mutation, scim_source
from .reads import get_member


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
    with scim_mutation(workspace, actor, "user.created") as change:
        # The unique indexes (workspace, userName) and (workspace, person) decide (members.insert_member).
        email = _check_user_doc(workspace, stored, check_unique=False)
        person = get_or_create_person(email or stored["userName"], stored.get("displayName") or "")
        wanted = _resolve_roles(workspace, roles)
        member = members.insert_member(workspace, Member(
            workspace=workspace.id, person=person.id, attributes=stored,
            status="suspended" if active is False else "active", source=scim_source(actor),
            **_columns(stored, email)), person)
        change.record("user.created", "user", member.id, member.user_name,
                      after=dict(stored, active=member.active), quirks=quirks)
        members.apply_roles(change, workspace, member, wanted, current={})
        options.respond(member)
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
        before, after = diff(old_stored, stored)
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
    with scim_mutation(workspace, actor, "user.updated") as change:
        member = get_member(workspace, member_id, lock=True)
        check_if_match(member, options.if_match)
        before, current_roles = _user_before(workspace, member)
        if "active" not in doc and "active" in before:
            doc["active"] = before["active"]
        _update_user(change, workspace, member, before, doc, quirks, roles_given, current_roles)
        record_attempt(change, "user.updated", "user", member.id, member.user_name, quirks)
        options.respond(member)
    return member


def patch_user(workspace, actor, member_id, operations, options):
    """Apply a PatchOp to a user atomically (RFC 7644 §3.5.2)."""
    with scim_mutation(workspace, actor, "user.updated") as change:
        member = get_member(workspace, member_id, lock=True)
        check_if_match(member, options.if_match)
        before, current_roles = _user_before(workspace, member)
        result = apply_patch(USER, before, operations, strict=options.strict, resource_id=member.id)
        options.note(result.quirks)
        if result.changed:
            if not result.resource.get("userName"):
                raise InvalidValueError("Attribute 'userName' is required")
            roles_given = result.resource.get("roles") != before.get("roles")
            _update_user(change, workspace, member, before, result.resource, result.quirks, roles_given,
                         current_roles)
        record_attempt(change, "user.updated", "user", member.id, member.user_name, result.quirks)
        options.respond(member)
    return member


def delete_user(workspace, actor, member_id, options):
    """Remove a membership (RFC 7644 §3.6): roles and group memberships go, the person stays."""
    with scim_mutation(workspace, actor, "user.deleted") as change:
        member = get_member(workspace, member_id, lock=True)
        check_if_match(member, options.if_match)
        members.delete_member(change, workspace, member, "user.deleted",
                              {"userName": member.user_name, "active": member.active})
