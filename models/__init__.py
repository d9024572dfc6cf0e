"""Roster's data model: peewee models, migrations and the service layer every mutation goes through."""

from .access import Invitation, OneTimeCode, Token
from .db import BaseModel, db, init_db, upgrade, utcnow
from .events import (AuthRefusal, DeletedWorkspace, ProvisioningChain, ProvisioningCheckpoint, ProvisioningDaily,
                     ProvisioningEvent, ProvisioningEventRef, SignedCheckpoint)
from .directory import Group, GroupGrant, GroupMember, Member, MemberRole, Person, Role
from .sessions import ConsoleSession, SigninCode
from .sso import SsoConnection, SsoConsumedId, SsoDomain, SsoTestRun
from .workspace import Workspace

MODELS = [Workspace, Person, Role, Member, MemberRole, Group, GroupMember, GroupGrant, Token, Invitation,
          OneTimeCode, SsoConnection, SsoDomain, SsoTestRun, SsoConsumedId, ProvisioningEvent, ProvisioningChain,
          ProvisioningEventRef, ProvisioningCheckpoint, SigninCode, ConsoleSession,
          SignedCheckpoint, DeletedWorkspace, AuthRefusal, ProvisioningDaily]

__all__ = ["db", "init_db", "upgrade", "utcnow", "BaseModel", "MODELS", "Workspace", "Person", "Role", "Member",
           "MemberRole", "Group", "GroupMember", "GroupGrant", "Token", "Invitation", "OneTimeCode",
           "SsoConnection", "SsoDomain", "SsoTestRun", "SsoConsumedId", "ProvisioningEvent", "ProvisioningChain",
           "ProvisioningEventRef", "ProvisioningCheckpoint", "SigninCode", "ConsoleSession",
           "SignedCheckpoint", "DeletedWorkspace", "AuthRefusal", "ProvisioningDaily"]
