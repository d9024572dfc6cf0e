"""People, members (the SCIM Users), roles, groups (the SCIM Groups) and role grants."""

from peewee import (AutoField, BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField,
                    JSONField, TextField)

from .db import BaseModel, new_id, utcnow
from .workspace import Workspace

MEMBER_STATUSES = ("invited", "active", "suspended")
MEMBER_TYPES = ("owner", "standard", "viewer")
# Where a member or group came from: "scim:<idp>" (the IdP owns its SCIM attributes), "invitation", "admin",
# "owner" (the workspace's creator).
SCIM_SOURCE_PREFIX = "scim:"


class Person(BaseModel):
    """A global identity keyed by a case-insensitive email."""

    id = CharField(36, primary_key=True, default=new_id)
    email = CharField(320, unique=True)  # stored lower-case
    name = CharField(200, default="")
    created_at = DateTimeField(default=utcnow)


class Role(BaseModel):
    """A set of privileges; system roles (Admin, Member, Readonly) are seeded in every workspace."""

    id = CharField(36, primary_key=True, default=new_id)
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE", backref="roles")
    name = CharField(100)
    name_ci = CharField(100)
    description = TextField(default="")
    is_system = BooleanField(default=False)
    privileges = JSONField(default=list)  # sorted "resource:action" strings
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("workspace", "name_ci"), True),)


class Member(BaseModel):
    """A person's membership in one workspace: the SCIM User resource of that workspace."""

    id = CharField(36, primary_key=True, default=new_id)
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE", backref="members")
    person = ForeignKeyField(Person, on_delete="RESTRICT", backref="memberships")
    user_name = CharField(320)
    user_name_ci = CharField(320)
    external_id = CharField(320, null=True)
    display_name = CharField(320, null=True)
    email_ci = CharField(320, null=True)
    status = CharField(16, default="active")
    is_owner = BooleanField(default=False)
    type = CharField(16, default="standard")  # MEMBER_TYPES; "owner" follows is_owner
    source = CharField(64, default="admin")
    time_zone = CharField(64, null=True)
    last_active_at = DateTimeField(null=True)
    attributes = JSONField(default=dict)  # the SCIM document (core at top level, extensions under their URN)
    version = IntegerField(default=1)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("workspace", "user_name_ci"), True),
            (("workspace", "person"), True),
            (("workspace", "external_id"), False),
            (("workspace", "email_ci"), False),
            (("workspace", "created_at"), False),
        )

    @property
    def active(self):
        return self.status != "suspended"


class MemberRole(BaseModel):
    """A member's direct role in one environment."""

    id = AutoField()
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE")
    member = ForeignKeyField(Member, on_delete="CASCADE", backref="env_roles")
    environment = CharField(16)
    role = ForeignKeyField(Role, on_delete="RESTRICT", backref="member_roles")

    class Meta:
        indexes = ((("member", "environment"), True), (("workspace", "role"), False))


class Group(BaseModel):
    """A member group: the SCIM Group resource."""

    id = CharField(36, primary_key=True, default=new_id)
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE", backref="groups")
    display_name = CharField(320)
    display_name_ci = CharField(320)
    external_id = CharField(320, null=True)
    source = CharField(64, default="admin")
    attributes = JSONField(default=dict)
    version = IntegerField(default=1)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "member_group"
        indexes = (
            (("workspace", "display_name_ci"), True),
            (("workspace", "external_id"), False),
            (("workspace", "created_at"), False),
        )


class GroupMember(BaseModel):
    """One member of one group; membership changes touch only the rows that change."""

    id = AutoField()
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE")
    group = ForeignKeyField(Group, on_delete="CASCADE", backref="memberships")
    member = ForeignKeyField(Member, on_delete="CASCADE", backref="group_memberships")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("group", "member"), True),)


class GroupGrant(BaseModel):
    """A role a group grants its members in one environment."""

    id = AutoField()
    workspace = ForeignKeyField(Workspace, on_delete="CASCADE")
    group = ForeignKeyField(Group, on_delete="CASCADE", backref="grants")
    environment = CharField(16)
    role = ForeignKeyField(Role, on_delete="RESTRICT", backref="group_grants")

    class Meta:
        indexes = ((("group", "environment"), True), (("workspace", "role"), False))
