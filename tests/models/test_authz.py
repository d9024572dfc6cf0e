"""Effective privileges: the union of the direct role and the roles granted by the member's groups, per environment."""

import pytest

from models.directory import Member
from models.privileges import ALL_PRIVILEGES, SYSTEM_ROLES
from models.services import Actor, NotFoundError, PermissionDeniedError
from models.services import workspaces as ws_svc
from models.services.authz import Access, access_for, effective_privileges, privilege_sources
from tests import factories
from tests.admin_helpers import make_group

ENVS = ["dev", "test", "prod"]
READONLY = frozenset(SYSTEM_ROLES["Readonly"][1])


@pytest.fixture
def acme(ctx):
    workspace, owner = factories.make_workspace("Acme", environments=ENVS)
    factories.make_role(workspace, "Operator", ["members:read", "members:update"])
    factories.make_role(workspace, "Auditor", ["audit:read", "audit:export"])
    return workspace


def test_direct_role_only(acme):
    member, _ = factories.make_member(acme, "a@acme.test", {"dev": "Readonly"})
    assert effective_privileges(member, ENVS) == {"dev": READONLY, "test": frozenset(), "prod": frozenset()}


def test_union_of_direct_role_and_group_grants_per_environment(acme):
    member, _ = factories.make_member(acme, "a@acme.test", {"dev": "Readonly"})
    make_group(acme, "Ops", [member], {"dev": "Operator", "prod": "Auditor"})
    make_group(acme, "Auditors", [member], {"prod": "Readonly"})
    make_group(acme, "Not mine", [], {"test": "Admin", "dev": "Admin"})
    privileges = effective_privileges(member, ENVS)
    assert privileges["dev"] == READONLY | {"members:update"}
    assert privileges["test"] == frozenset()
    assert privileges["prod"] == READONLY | {"audit:read", "audit:export"}
    sources = privilege_sources(member)
    assert sorted((s["type"], s["role"]) for _, s in sources["dev"]) == [("direct", "Readonly"),
                                                                         ("group", "Operator")]
    assert sorted((s["type"], s["role"]) for _, s in sources["prod"]) == [("group", "Auditor"),
                                                                          ("group", "Readonly")]
    assert "test" not in sources


def test_group_grants_alone_give_access(acme):
    member, _ = factories.make_member(acme, "a@acme.test", {})
    assert effective_privileges(member, ENVS) == {env: frozenset() for env in ENVS}
    make_group(acme, "Admins", [member], {"test": "Admin"})
    assert effective_privileges(member, ENVS)["test"] == ALL_PRIVILEGES


def test_grants_of_another_workspace_never_count(acme):
    member, person = factories.make_member(acme, "a@acme.test", {})
    other, _ = factories.make_workspace("Globex", owner_email="o@globex.test", environments=ENVS)
    other_member, _ = factories.make_member(other, "a@acme.test", {})
    make_group(other, "Admins", [other_member], {"dev": "Admin"})
    assert effective_privileges(member, ENVS)["dev"] == frozenset()
    assert effective_privileges(other_member, ENVS)["dev"] == ALL_PRIVILEGES


def test_a_suspended_member_has_nothing(acme):
    member, _ = factories.make_member(acme, "a@acme.test", {"dev": "Admin"}, status="suspended")
    make_group(acme, "Ops", [member], {"prod": "Operator"})
    assert effective_privileges(member, ENVS) == {env: frozenset() for env in ENVS}


def test_access_of_a_personal_token(acme):
    member, person = factories.make_member(acme, "a@acme.test", {"dev": "Operator"})
    access = access_for(Actor(kind="personal", person=person), acme)
    assert access.has("members:update") and access.has("members:update", "dev")
    assert not access.has("members:update", "prod")
    access.require("members:read")
    with pytest.raises(PermissionDeniedError, match="Missing privilege members:update in environment prod"):
        access.require("members:update", "prod")
    with pytest.raises(PermissionDeniedError, match="Missing privilege members:remove$"):
        access.require("members:remove")
    stranger = factories.make_person("x@y.test")
    with pytest.raises(NotFoundError, match="Workspace not found"):
        access_for(Actor(kind="personal", person=stranger), acme)


@pytest.mark.parametrize("scopes, granted", [
    ({"admin"}, ALL_PRIVILEGES),
    ({"audit:read"}, frozenset({"audit:read", "audit:export"})),
    ({"scim"}, frozenset()),
    ({"scim", "audit:read"}, frozenset({"audit:read", "audit:export"})),
])
def test_access_of_a_service_token(acme, scopes, granted):
    access = access_for(Actor(kind="service", workspace_id=acme.id, scopes=frozenset(scopes)), acme)
    assert access.by_env == {env: granted for env in ENVS}


def test_a_service_token_sees_only_its_workspace(acme):
    other, _ = factories.make_workspace("Globex", owner_email="o@globex.test")
    with pytest.raises(NotFoundError):
        access_for(Actor(kind="service", workspace_id=other.id, scopes=frozenset({"admin"})), acme)
    with pytest.raises(NotFoundError):
        access_for(Actor(kind="public"), acme)


def test_nobody_grants_more_than_they_hold(acme):
    member, person = factories.make_member(acme, "a@acme.test", {"dev": "Operator", "prod": "Admin"})
    access = access_for(Actor(kind="personal", person=person), acme)
    roles = {r.name: r for r in acme.roles}
    access.require_grantable(roles["Operator"], "dev")
    access.require_grantable(None, "dev")  # NoAccess takes nothing away from anyone's reach
    access.require_grantable(roles["Admin"], "prod")
    with pytest.raises(PermissionDeniedError, match=r"Cannot grant Admin in environment dev"):
        access.require_grantable(roles["Admin"], "dev")
    with pytest.raises(PermissionDeniedError, match=r"Cannot grant Operator in environment test"):
        access.require_grantable(roles["Operator"], "test")
    with pytest.raises(PermissionDeniedError, match=r"^Nope: you do not hold members:read in every environment$"):
        access.require_everywhere({"members:read"}, "Nope")
    admin = Access(Actor(kind="cli"), acme)
    admin.require_everywhere(ALL_PRIVILEGES)


def test_the_owner_holds_everything_in_every_environment(acme):
    owner = Member.get(Member.workspace == acme.id, Member.is_owner == True)  # noqa: E712
    assert effective_privileges(owner, ENVS) == {env: ALL_PRIVILEGES for env in ENVS}
    ws_svc.update_workspace(acme, factories.CLI, {"environments": ["dev"]})
    ws_svc.update_workspace(acme, factories.CLI, {"environments": ["dev", "prod"]})
    assert effective_privileges(owner, ["dev", "prod"]) == {"dev": ALL_PRIVILEGES, "prod": ALL_PRIVILEGES}
