"""Who may do what: effective privileges per environment, and the checks every admin endpoint makes.

Rules (README.md, "Who may do what"): a member's privileges in an environment are the union of the direct role's and those of the
roles its groups grant there. Workspace-level actions need the privilege in at least one enabled environment;
actions about one environment (granting a prod role, inviting with a prod role) need it in that environment.
Service tokens: `admin` acts as Admin everywhere in its workspace, `audit:read` reads and exports the log.
A member of type `viewer` holds only the read privileges of what its roles and groups grant (a contractor in an
IdP group granting Admin still cannot write).
"""

import datetime

from ..db import utcnow
from ..directory import GroupGrant, GroupMember, Member, MemberRole, Role
from ..privileges import ALL_PRIVILEGES, READ_PRIVILEGES
from . import NotFoundError, PermissionDeniedError

# last_active_at moves at most once a minute: a busy person costs one UPDATE a minute, not one per request.
ACTIVITY_RESOLUTION = datetime.timedelta(seconds=60)

SCOPE_PRIVILEGES = {
    "admin": ALL_PRIVILEGES,
    "audit:read": frozenset({"audit:read", "audit:export"}),
    "scim": frozenset(),
}

# What minting a service token with a scope hands out. A `scim` token provisions members with any role
# (Admin included), so it is worth as much as an `admin` one.
SCOPE_GRANTS = {
    "admin": ALL_PRIVILEGES,
    "scim": ALL_PRIVILEGES,
    "audit:read": SCOPE_PRIVILEGES["audit:read"],
}


def privilege_sources(member):
    """Return {environment: [(privilege set, source dict)]} for a member, from direct roles and group grants."""
    out = {}
    direct = (MemberRole.select(MemberRole.environment, Role.id, Role.name, Role.privileges)
              .join(Role).where(MemberRole.member == member.id, MemberRole.workspace == member.workspace_id)
              .tuples())
    for env, role_id, role_name, privs in direct:
        out.setdefault(env, []).append((frozenset(privs), {"type": "direct", "role": role_name,
                                                            "role_id": role_id}))
    granted = (GroupGrant.select(GroupGrant.environment, Role.id, Role.name, Role.privileges, GroupGrant.group)
               .join(Role, on=(GroupGrant.role == Role.id))
               .switch(GroupGrant)
               .join(GroupMember, on=(GroupMember.group == GroupGrant.group))
               .where(GroupMember.member == member.id, GroupGrant.workspace == member.workspace_id)
               .tuples())
    for env, role_id, role_name, privs, group_id in granted:
        out.setdefault(env, []).append((frozenset(privs), {"type": "group", "role": role_name, "role_id": role_id,
                                                            "group_id": group_id}))
    return out


def cap(member, privileges):
    """Return the privileges the member may use of `privileges`: none when suspended, reads only for a viewer."""
    if member.status == "suspended":
        return frozenset()
    return privileges & READ_PRIVILEGES if member.type == "viewer" else privileges


def effective_privileges(member, environments):
    """Return {environment: frozenset(privileges)} for every environment in `environments`."""
    if member is None or member.status == "suspended":
        return {env: frozenset() for env in environments}
    sources = privilege_sources(member)
    return {env: cap(member, frozenset().union(*(p for p, _ in sources.get(env, [])))) for env in environments}


def note_activity(member):
    """Move the member's last_active_at to now, at most once per minute (one guarded UPDATE, no read)."""
    now = utcnow()
    if member.last_active_at is None or now - member.last_active_at > ACTIVITY_RESOLUTION:
        (Member.update(last_active_at=now)
         .where(Member.id == member.id, Member.workspace == member.workspace_id,
                Member.last_active_at.is_null() | (Member.last_active_at < now - ACTIVITY_RESOLUTION))
         .execute())
        member.last_active_at = now


class Access:
    """An actor's rights in one workspace."""

    def __init__(self, actor, workspace, member=None):
        self.actor = actor
        self.workspace = workspace
        self.member = member
        envs = list(workspace.environments)
        if actor.kind == "service":
            privs = frozenset().union(*(SCOPE_PRIVILEGES.get(s, frozenset()) for s in actor.scopes))
            self.by_env = {env: privs for env in envs}
        elif actor.kind == "cli":
            self.by_env = {env: ALL_PRIVILEGES for env in envs}
        else:
            self.by_env = effective_privileges(member, envs)

    def has(self, privilege, environment=None):
        """Tell whether the actor holds `privilege` (in `environment`, or in any environment)."""
        if environment is not None:
            return privilege in self.by_env.get(environment, frozenset())
        return any(privilege in privs for privs in self.by_env.values())

    def require(self, privilege, environment=None):
        """Raise PermissionDeniedError unless the actor holds `privilege`."""
        if not self.has(privilege, environment):
            where = f" in environment {environment}" if environment else ""
            raise PermissionDeniedError(f"Missing privilege {privilege}{where}")

    def require_grantable(self, role, environment):
        """Refuse handing out `role` in `environment` when it carries privileges the actor lacks there."""
        if role is None:
            return
        missing = frozenset(role.privileges) - self.by_env.get(environment, frozenset())
        if missing:
            raise PermissionDeniedError(
                f"Cannot grant {role.name} in environment {environment}: it carries privileges you do not hold "
                f"there ({', '.join(sorted(missing))})")

    def require_everywhere(self, privileges, refusal="Refused"):
        """Raise PermissionDeniedError (`refusal`: why) unless the actor holds `privileges` in every environment."""
        missing = frozenset().union(*(frozenset(privileges) - held for held in self.by_env.values()))
        if missing:
            raise PermissionDeniedError(
                f"{refusal}: you do not hold {', '.join(sorted(missing))} in every environment")


def access_for(actor, workspace):
    """Return the actor's Access to `workspace`, or raise NotFoundError when it may not see it at all."""
    if actor.kind == "service":
        if actor.workspace_id != workspace.id:
            raise NotFoundError("Workspace not found")
        return Access(actor, workspace)
    if actor.kind == "cli":
        return Access(actor, workspace)
    if actor.kind in ("personal", "console") and actor.person is not None:
        member = Member.get_or_none(Member.workspace == workspace.id, Member.person == actor.person.id)
        if member is None:
            raise NotFoundError("Workspace not found")
        note_activity(member)
        return Access(actor, workspace, member)
    raise NotFoundError("Workspace not found")
