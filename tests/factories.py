"""Plain factory functions for tests: they call the service layer as the command line would."""

import dataclasses

from models.services import Actor, mutation
from models.services import members as members_svc
from models.services import roles as roles_svc
from models.services import tokens as tokens_svc
from models.services import workspaces as ws_svc

CLI = Actor(kind="cli")


@dataclasses.dataclass
class Setup:
    workspace: object
    owner: object
    owner_client: object
    admin_client: object
    scim_token: str
    scim_client: object


def make_person(email, name=""):
    return ws_svc.get_or_create_person(email, name)


def make_workspace(name="Acme", owner_email="owner@acme.test", **kwargs):
    """Return (workspace, owner person)."""
    owner = make_person(owner_email)
    return ws_svc.create_workspace(CLI, name, owner, **kwargs), owner


def make_service_token(workspace, scopes, label="test"):
    _, raw = tokens_svc.create_service_token(workspace, CLI, scopes, label)
    return raw


def make_personal_token(person, label="test"):
    _, raw = tokens_svc.create_personal_token(CLI, person, label)
    return raw


def make_member(workspace, email, roles=None, status="active"):
    """Add `email` as a member with roles {environment: role name}."""
    person = make_person(email)
    env_roles = {env: roles_svc.role_by_name(workspace, name) for env, name in (roles or {}).items()}
    with mutation(workspace, CLI) as change:
        member = members_svc.add_member(change, workspace, person, env_roles, status=status)
    return member, person


def make_role(workspace, name, privileges):
    return roles_svc.create_role(workspace, CLI, name, privileges)
