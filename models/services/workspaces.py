"""Workspaces: creation (with system roles and an owner), settings, the two-step delete, clone, stats."""

import datetime
import hmac
import re
import secrets
import uuid

from peewee import IntegrityError, fn

from ..access import Invitation, OneTimeCode, Token
from ..db import db, new_id, utcnow
from ..directory import Group, GroupGrant, GroupMember, Member, MemberRole, Person, Role
from ..events import (AuthRefusal, ProvisioningChain, ProvisioningCheckpoint, ProvisioningDaily, ProvisioningEvent,
                      ProvisioningEventRef, SignedCheckpoint)
from ..privileges import SYSTEM_ROLES
from ..sso import SsoConnection, SsoConsumedId, SsoDomain, SsoTestRun
from ..workspace import ENVIRONMENTS, SETTINGS, Workspace, default_settings
from . import (ConflictError, InvalidError, NotFoundError, PermissionDeniedError, TooManyRequestsError,
               mail_after_commit, mutation)
from . import audit
from .members import add_member, find_owner
from .tokens import hash_code, issue_personal_token, issue_service_token

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
NAME_MAX = 200
CODE_TTL = datetime.timedelta(minutes=15)
CODE_MAX_ATTEMPTS = 5
CODE_RESEND_INTERVAL = datetime.timedelta(seconds=60)
# Deleting a workspace deletes these first (children before parents), then the directory's tables:
# (name in the deletion preview or None, model, its workspace column). The provisioning log goes with its
# workspace, whether or not the log is switched on; the preview counts only its events (the other three
# tables are its index, checkpoints and chain head).
WORKSPACE_OWNED_TABLES = (
    ("sso_test_runs", SsoTestRun, SsoTestRun.workspace),
    ("sso_replay_ids", SsoConsumedId, SsoConsumedId.workspace),
    ("sso_domains", SsoDomain, SsoDomain.workspace),
    ("sso_connections", SsoConnection, SsoConnection.workspace),
    ("events", ProvisioningEvent, ProvisioningEvent.workspace_id),
    (None, ProvisioningEventRef, ProvisioningEventRef.workspace_id),
    (None, ProvisioningCheckpoint, ProvisioningCheckpoint.workspace_id),
    (None, ProvisioningChain, ProvisioningChain.workspace_id),
    (None, SignedCheckpoint, SignedCheckpoint.workspace_id),
    (None, AuthRefusal, AuthRefusal.workspace_id),
    (None, ProvisioningDaily, ProvisioningDaily.workspace_id),
)


def slugify(name):
    """Derive a slug from a name: lower-case ASCII letters, digits and dashes."""
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64].strip("-")
    return slug or "workspace"


def _is_uuid(ref):
    try:
        uuid.UUID(ref)
        return True
    except (ValueError, AttributeError, TypeError):
        return False


def find_workspace(ref):
    """Return the workspace with this id or slug, or raise NotFoundError."""
    if not isinstance(ref, str) or len(ref) > 64 or "\x00" in ref:
        raise NotFoundError("Workspace not found")
    query = Workspace.id == ref if _is_uuid(ref) else Workspace.slug == ref.lower()
    workspace = Workspace.get_or_none(query)
    if workspace is None:
        raise NotFoundError("Workspace not found")
    return workspace


def get_or_create_person(email, name=""):
    """Return the person with this email (case-insensitive), creating it when new.

    One INSERT that ignores a taken email: a new person costs one statement and concurrent creators cannot clash.
    """
    email = email.strip().lower()
    person = Person(id=new_id(), email=email, name=name or "", created_at=utcnow())
    inserted = (Person.insert(id=person.id, email=email, name=person.name, created_at=person.created_at)
                .on_conflict_ignore().as_rowcount().execute())
    return person if inserted == 1 else Person.get(Person.email == email)


def _unique_slug(base):
    candidate, n = base, 1
    while True:
        query = Workspace.select().where(Workspace.slug == candidate)
        if not query.exists():
            return candidate
        n += 1
        suffix = f"-{n}"
        candidate = base[:64 - len(suffix)] + suffix


def _check_slug(slug):
    if not isinstance(slug, str) or not SLUG_RE.match(slug) or _is_uuid(slug):
        raise InvalidError("Invalid slug", errors={"slug": [
            "Use 1-64 lower-case letters, digits and dashes, starting and ending with a letter or digit"]})


def _check_environments(environments):
    if (not isinstance(environments, list) or not environments
            or any(e not in ENVIRONMENTS for e in environments) or len(set(environments)) != len(environments)):
        raise InvalidError("Invalid environments", errors={"environments": [
            f"A non-empty list of distinct values from {', '.join(ENVIRONMENTS)}"]})
    return [e for e in ENVIRONMENTS if e in environments]


def validate_settings(settings, base=None):
    """Return `base` updated with `settings`, or raise InvalidError naming each bad key."""
    if not isinstance(settings, dict):
        raise InvalidError("Settings must be an object")
    errors, out = {}, dict(base if base is not None else default_settings())
    for key, value in settings.items():
        if key not in SETTINGS:
            errors[key] = ["Unknown setting"]
            continue
        kind = SETTINGS[key][0]
        if kind is int and (isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100000):
            errors[key] = ["Must be an integer from 0 to 100000"]
        elif kind is bool and not isinstance(value, bool):
            errors[key] = ["Must be true or false"]
        elif kind is str and (not isinstance(value, str) or len(value) > 200 or "\x00" in value):
            errors[key] = ["Must be a string of at most 200 characters, without NUL"]
        elif key == "audit.retention_days" and 0 < value < audit.settings().min_retention_days:
            floor = audit.settings().min_retention_days
            errors[key] = [f"Must be 0 (keep everything) or at least {floor} days: the operator's floor "
                           f"(AUDIT_MIN_RETENTION_DAYS) is {floor}"]
        else:
            out[key] = value
    if errors:
        raise InvalidError("Invalid settings", errors=errors)
    return out


def seed_system_roles(workspace):
    """Create the system roles of a new workspace; return {name: Role}."""
    roles = {}
    for name, (description, privileges) in SYSTEM_ROLES.items():
        roles[name] = Role.create(workspace=workspace.id, name=name, name_ci=name.lower(),
                                  description=description, is_system=True, privileges=sorted(privileges))
    return roles


def create_workspace(actor, name, owner, slug=None, logo_url=None, environments=None, settings=None):
    """Create a workspace with its system roles and `owner` (a Person, or an email: the person is created when
    new) as the owning Admin."""
    with mutation(None, actor, "workspace.created") as change:
        if isinstance(owner, str):
            owner = get_or_create_person(owner)
        return _create_workspace(change, name, owner, slug, logo_url, environments, settings)


def provision_workspaces(actor, owner, items):
    """Create several workspaces ([{name, slug, logo_url, environments, settings}]) owned by `owner`, all or
    none."""
    with mutation(None, actor, "workspace.created") as change:
        return [_create_workspace(change, item["name"], owner, item.get("slug"), item.get("logo_url"),
                                  item.get("environments"), item.get("settings"))
                for item in items]


def _create_workspace(change, name, owner, slug=None, logo_url=None, environments=None, settings=None):
    if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
        raise InvalidError("Invalid name", errors={"name": [f"1 to {NAME_MAX} characters"]})
    envs = _check_environments(environments) if environments is not None else ["dev"]
    if slug is not None:
        _check_slug(slug)
        if Workspace.select().where(Workspace.slug == slug).exists():
            raise ConflictError(f"Slug {slug} is already taken", errors={"slug": ["Already taken"]})
    else:
        slug = _unique_slug(slugify(name))
    merged = validate_settings(settings or {})
    try:
        with db.atomic():
            workspace = Workspace.create(name=name.strip(), slug=slug, logo_url=logo_url, environments=envs,
                                         settings=merged)
    except IntegrityError:
        raise ConflictError(f"Slug {slug} is already taken", errors={"slug": ["Already taken"]})
    change.workspace = workspace
    roles = seed_system_roles(workspace)
    change.record("workspace.created", "workspace", workspace.id, workspace.slug,
                  after={"name": workspace.name, "slug": slug, "environments": envs})
    add_member(change, workspace, owner, {env: roles["Admin"] for env in envs}, is_owner=True)
    return workspace


def update_workspace(workspace, actor, data):
    """Apply a PATCH of name, slug, logo_url and environments."""
    with mutation(workspace, actor, "workspace.updated") as change:
        return _update_workspace(change, workspace, data)


def _update_workspace(change, workspace, data):
    before = {"name": workspace.name, "slug": workspace.slug, "logo_url": workspace.logo_url,
              "environments": list(workspace.environments)}
    if "name" in data:
        name = data["name"]
        if not isinstance(name, str) or not name.strip() or len(name) > NAME_MAX:
            raise InvalidError("Invalid name", errors={"name": [f"1 to {NAME_MAX} characters"]})
        workspace.name = name.strip()
    if "slug" in data:
        _check_slug(data["slug"])
        if Workspace.select().where(Workspace.slug == data["slug"], Workspace.id != workspace.id).exists():
            raise ConflictError(f"Slug {data['slug']} is already taken", errors={"slug": ["Already taken"]})
        workspace.slug = data["slug"]
    if "logo_url" in data:
        workspace.logo_url = data["logo_url"]
    if "environments" in data:
        envs = _check_environments(data["environments"])
        removed = [e for e in workspace.environments if e not in envs]
        if removed:
            MemberRole.delete().where(MemberRole.workspace == workspace.id,
                                      MemberRole.environment.in_(removed)).execute()
            GroupGrant.delete().where(GroupGrant.workspace == workspace.id,
                                      GroupGrant.environment.in_(removed)).execute()
        added = [e for e in envs if e not in workspace.environments]
        workspace.environments = envs
        if added:
            # The owner keeps administering every environment.
            owner = find_owner(workspace)
            admin = Role.get(Role.workspace == workspace.id, Role.name_ci == "admin")
            for env in added:
                if owner is not None:
                    MemberRole.create(workspace=workspace.id, member=owner.id, environment=env, role=admin.id)
    workspace.updated_at = utcnow()
    try:
        with db.atomic():
            workspace.save()
    except IntegrityError:
        raise ConflictError("Slug is already taken", errors={"slug": ["Already taken"]})
    after = {"name": workspace.name, "slug": workspace.slug, "logo_url": workspace.logo_url,
             "environments": list(workspace.environments)}
    changed = {k: v for k, v in after.items() if before[k] != v}
    if changed:
        change.record("workspace.updated", "workspace", workspace.id, workspace.slug,
                      before={k: before[k] for k in changed}, after=changed)
    return workspace


def replace_settings(workspace, actor, settings):
    """Replace the workspace settings (unknown keys and wrong types refused); omitted keys get defaults."""
    with mutation(workspace, actor, "workspace.settings_changed") as change:
        return _replace_settings(change, workspace, settings)


def _replace_settings(change, workspace, settings):
    before = dict(workspace.settings or {})
    workspace.settings = validate_settings(settings)
    workspace.updated_at = utcnow()
    workspace.save()
    diff = {k: v for k, v in workspace.settings.items() if before.get(k) != v}
    if diff:
        change.record("workspace.settings_changed", "workspace", workspace.id, workspace.slug,
                      before={k: before.get(k) for k in diff}, after=diff)
    return workspace.settings


def _tenant_counts(workspace):
    counts = {
        "members": Member.select().where(Member.workspace == workspace.id).count(),
        "groups": Group.select().where(Group.workspace == workspace.id).count(),
        "roles": Role.select().where(Role.workspace == workspace.id, Role.is_system == False).count(),  # noqa: E712
        "tokens": Token.select().where(Token.workspace == workspace.id).count(),
        "invitations": Invitation.select().where(Invitation.workspace == workspace.id).count(),
    }
    for name, model, field in WORKSPACE_OWNED_TABLES:
        if name is not None:
            counts[name] = model.select().where(field == workspace.id).count()
    return counts


def deletion_preview(workspace):
    """Describe what deleting the workspace would remove."""
    return {"workspace": {"id": workspace.id, "name": workspace.name, "slug": workspace.slug},
            "will_delete": _tenant_counts(workspace)}


def stats(workspace):
    """Return counts an admin dashboard shows (only those: no count of the event log or SSO tables)."""
    by_status = dict(Member.select(Member.status, fn.COUNT(Member.id)).where(Member.workspace == workspace.id)
                     .group_by(Member.status).tuples())
    return {"members": sum(by_status.values()),
            "members_by_status": {s: by_status.get(s, 0) for s in ("invited", "active", "suspended")},
            "groups": Group.select().where(Group.workspace == workspace.id).count(),
            "custom_roles": Role.select().where(Role.workspace == workspace.id,
                                                Role.is_system == False).count(),  # noqa: E712
            "active_tokens": Token.select().where(Token.workspace == workspace.id, Token.revoked_at.is_null())
            .count(),
            "pending_invitations": Invitation.select().where(Invitation.workspace == workspace.id,
                                                             Invitation.status == "pending").count(),
            "environments": list(workspace.environments)}


def request_deletion_code(workspace, actor):
    """Mail a one-time deletion code to the acting person; earlier unused codes stop working."""
    with mutation(workspace, actor, "workspace.deletion_code_sent") as change:
        return _request_deletion_code(change, workspace, actor.person)


def _request_deletion_code(change, workspace, person):
    if person is None:
        raise PermissionDeniedError("Deleting a workspace needs a personal token: the code is mailed to a person")
    now = utcnow()
    last = (OneTimeCode.select().where(OneTimeCode.workspace == workspace.id, OneTimeCode.person == person.id,
                                       OneTimeCode.purpose == "workspace.delete")
            .order_by(OneTimeCode.created_at.desc()).first())
    if last is not None and now - last.created_at < CODE_RESEND_INTERVAL:
        wait = (CODE_RESEND_INTERVAL - (now - last.created_at)).total_seconds()
        raise TooManyRequestsError("A code was sent moments ago; wait before asking again",
                                   retry_after=max(1, int(wait) + 1))
    superseded = [c.id for c in OneTimeCode.select(OneTimeCode.id).where(
        OneTimeCode.workspace == workspace.id, OneTimeCode.person == person.id,
        OneTimeCode.purpose == "workspace.delete", OneTimeCode.used == False)]  # noqa: E712
    if superseded:
        OneTimeCode.update(used=True).where(OneTimeCode.workspace == workspace.id,
                                            OneTimeCode.id.in_(superseded)).execute()
    code = f"{secrets.randbelow(10 ** 8):08d}"
    otc = OneTimeCode.create(workspace=workspace.id, person=person.id, purpose="workspace.delete",
                             code_hash=hash_code(f"workspace.delete:{workspace.id}", code), expires_at=now + CODE_TTL)
    change.record("workspace.deletion_code_sent", "workspace", workspace.id, workspace.slug)

    def undo(undo_change):
        OneTimeCode.delete().where(OneTimeCode.workspace == workspace.id, OneTimeCode.id == otc.id).execute()
        if superseded:
            OneTimeCode.update(used=False).where(OneTimeCode.workspace == workspace.id,
                                                 OneTimeCode.id.in_(superseded)).execute()
        undo_change.record("workspace.deletion_code_withdrawn", "workspace", workspace.id, workspace.slug,
                           after={"reason": "the mail could not be delivered"})
    mail_after_commit(change, person.email, f"Confirm deleting workspace {workspace.name}",
                      f"Someone (hopefully you) asked to delete the Roster workspace {workspace.name} "
                      f"({workspace.slug}).\n\nConfirmation code: {code}\n\nIt expires in "
                      f"{int(CODE_TTL.total_seconds() // 60)} minutes and works once. If you did not ask for this, "
                      f"ignore this message.\n", undo, "The code could not be mailed")
    return otc


def check_deletion_code(workspace, person, code):
    """Consume a deletion code; raise when it is wrong, expired, used or out of attempts.

    Runs (and commits) on its own, before the delete, so a wrong guess counts even though the delete is refused.
    """
    if person is None:
        raise PermissionDeniedError("Deleting a workspace needs a personal token")
    if not isinstance(code, str) or not code:
        raise InvalidError("Missing code", errors={"code": ["Required"]})
    with db.atomic():
        otc = (OneTimeCode.select().where(OneTimeCode.workspace == workspace.id, OneTimeCode.person == person.id,
                                          OneTimeCode.purpose == "workspace.delete", OneTimeCode.used == False)  # noqa
               .order_by(OneTimeCode.created_at.desc()).first())
        if otc is None or otc.expires_at <= utcnow():
            raise InvalidError("No valid deletion code: request a new one", errors={"code": ["Expired or unknown"]})
        if otc.attempts >= CODE_MAX_ATTEMPTS:
            raise InvalidError("Too many wrong codes: request a new one", errors={"code": ["Too many attempts"]})
        ok = hmac.compare_digest(otc.code_hash, hash_code(f"workspace.delete:{workspace.id}", code.strip()))
        # Counted and consumed only while unused: of two requests sending the right code at once, one wins.
        ok = OneTimeCode.update(attempts=OneTimeCode.attempts + 1, used=ok).where(
            OneTimeCode.workspace == workspace.id, OneTimeCode.id == otc.id,
            OneTimeCode.used == False).execute() == 1 and ok  # noqa: E712
    if not ok:
        raise InvalidError("Wrong code", errors={"code": ["Does not match"]})


def delete_workspace(workspace, actor, code=None):
    """Delete the workspace and everything in it (the people stay), with the acting person's one-time code
    (consumed first, in its own transaction, so a wrong guess counts). The command line needs no code."""
    if actor.kind != "cli":
        check_deletion_code(workspace, actor.person, code)
    with mutation(workspace, actor, "workspace.deleted") as change:
        _delete_workspace(change, workspace)


def _delete_workspace(change, workspace):
    preview = deletion_preview(workspace)
    change.record("workspace.deleted", "workspace", workspace.id, workspace.slug, before=preview)
    audit.record_deletion(workspace, change.actor, preview["will_delete"])  # outlives the workspace
    for _, model, field in WORKSPACE_OWNED_TABLES:
        model.delete().where(field == workspace.id).execute()
    for model in (GroupGrant, GroupMember, MemberRole, Group, Member, Invitation, Token, OneTimeCode, Role):
        model.delete().where(model.workspace == workspace.id).execute()
    Workspace.delete().where(Workspace.id == workspace.id).execute()


def clone_workspace(source, actor, name, slug=None):
    """Copy settings, environments, custom roles, groups and their grants (not members) into a new workspace
    owned by the acting person."""
    with mutation(None, actor, "workspace.cloned") as change:
        return _clone_workspace(change, source, actor.person, name, slug)


def _clone_workspace(change, source, owner, name, slug):
    clone = _create_workspace(change, name, owner, slug=slug, logo_url=source.logo_url,
                             environments=list(source.environments), settings=dict(source.settings or {}))
    by_name = {r.name_ci: r for r in Role.select().where(Role.workspace == clone.id)}
    for role in Role.select().where(Role.workspace == source.id, Role.is_system == False):  # noqa: E712
        by_name[role.name_ci] = Role.create(workspace=clone.id, name=role.name, name_ci=role.name_ci,
                                            description=role.description, privileges=list(role.privileges))
    source_roles = {r.id: r.name_ci for r in Role.select().where(Role.workspace == source.id)}
    source_grants = {}
    for grant in GroupGrant.select().where(GroupGrant.workspace == source.id):
        source_grants.setdefault(grant.group_id, []).append(grant)
    for group in Group.select().where(Group.workspace == source.id):
        new_group = Group.create(workspace=clone.id, display_name=group.display_name,
                                 display_name_ci=group.display_name_ci, external_id=group.external_id,
                                 attributes={k: v for k, v in (group.attributes or {}).items() if k != "members"})
        for grant in source_grants.get(group.id, []):
            GroupGrant.create(workspace=clone.id, group=new_group.id, environment=grant.environment,
                              role=by_name[source_roles[grant.role_id]].id)
    change.record("workspace.cloned", "workspace", clone.id, clone.slug, after={"source": source.id})
    return clone


def workspaces_of(person):
    """Return the workspaces `person` is a member of, by name, each with `membership_status` (active,
    suspended: a suspended member sees the workspace but may do nothing there)."""
    rows = (Workspace.select(Workspace, Member.status.alias("membership_status")).join(Member)
            .where(Member.person == person.id).order_by(Workspace.name).objects())
    return list(rows)


def seed_demo(actor, slug, owner_email):
    """Create the demo workspace (once) and fresh tokens for trying it: return (workspace, personal token
    secret acting as the owner, SCIM token secret)."""
    with mutation(None, actor, "demo.seed") as change:
        person = get_or_create_person(owner_email, "Demo Admin")
        workspace = Workspace.get_or_none(Workspace.slug == slug)
        if workspace is None:
            workspace = _create_workspace(change, "Demo", person, slug=slug, environments=["dev", "test", "prod"])
        change.workspace = workspace  # so the token events land in the demo workspace's log
        _, admin_raw = issue_personal_token(change, person, "make run")
        _, scim_raw = issue_service_token(change, workspace, ["scim"], "make run")
    return workspace, admin_raw, scim_raw
