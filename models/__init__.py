"""Roster's data model: peewee models, migrations and the service layer every mutation goes through."""

from .access import Invitation, OneTimeCode, Token
from .db import BaseModel, db, init_db, upgrade, utcnow
from .events import (ProvisioningChain, ProvisioningCheckpoint, ProvisioningDaily, ProvisioningEvent,
                     ProvisioningEventRef)
from .directory import Group, GroupGrant, GroupMember, Member, MemberRole, Person, Role
from .sessions import ConsoleSession, SigninCode
from .sso import SsoConnection, SsoConsumedId, SsoDomain, SsoTestRun
from .workspace import Workspace

MODELS = [Workspace, Person, Role, Member, MemberRole, Group, GroupMember, GroupGrant, Token, Invitation,
          OneTimeCode, SsoConnection, SsoDomain, SsoTestRun, SsoConsumedId, ProvisioningEvent, ProvisioningChain,
          ProvisioningEventRef, ProvisioningCheckpoint, ProvisioningDaily, SigninCode, ConsoleSession]

__all__ = ["db", "init_db", "upgrade", "utcnow", "BaseModel", "MODELS", "Workspace", "Person", "Role", "Member",
           "MemberRole", "Group", "GroupMember", "GroupGrant", "Token", "Invitation", "OneTimeCode",
           "SsoConnection", "SsoDomain", "SsoTestRun", "SsoConsumedId", "ProvisioningEvent", "ProvisioningChain",
           "ProvisioningEventRef", "ProvisioningCheckpoint", "ProvisioningDaily", "SigninCode", "ConsoleSession"]
