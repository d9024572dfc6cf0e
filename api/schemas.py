"""Marshmallow schemas of the admin API (request bodies and responses)."""

import datetime

from marshmallow import Schema, fields, validate

from models.access import SCOPES
from models.directory import MEMBER_STATUSES
from models.workspace import ENVIRONMENTS


def _refuse_nul(field, text):
    # PostgreSQL cannot store NUL in text, so refuse it here instead of failing in the database.
    if isinstance(text, str) and "\x00" in text:
        raise field.make_error("nul")
    return text


class Text(fields.String):
    """A string that refuses NUL characters."""

    default_error_messages = {"nul": "Must not contain NUL characters."}

    def _deserialize(self, value, attr, data, **kwargs):
        return _refuse_nul(self, super()._deserialize(value, attr, data, **kwargs))


class Url(fields.Url):
    """A URL that refuses NUL characters."""

    default_error_messages = {"nul": "Must not contain NUL characters."}

    def _deserialize(self, value, attr, data, **kwargs):
        return _refuse_nul(self, super()._deserialize(value, attr, data, **kwargs))


class UtcDateTime(fields.DateTime):
    """A stored time (naive UTC) answered as an RFC 3339 instant in UTC with microseconds and `Z`, the
    OpenAPI `date-time` format (a naive ISO time has no offset: clients would read it as local time)."""

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(datetime.timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EnvRoleSchema(Schema):
    # No length limit: any unknown name, however long, is "Environment <name> not found" (400).
    environment_type = Text(required=True)
    name = Text(required=True, validate=validate.Length(min=1, max=100))


class WorkspaceSchema(Schema):
    id = Text(dump_only=True)
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    slug = Text(validate=validate.Length(min=1, max=64))
    logo_url = Url(allow_none=True, validate=validate.Length(max=2000))
    environments = fields.List(Text(validate=validate.OneOf(ENVIRONMENTS)),
                               validate=validate.Length(min=1, max=3))
    settings = fields.Dict(load_only=True)
    membership_status = Text(dump_only=True, metadata={
        "description": "In \"my workspaces\": the acting person's membership there (active, suspended)"})
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


class WorkspaceUpdateSchema(Schema):
    name = Text(validate=validate.Length(min=1, max=200))
    slug = Text(validate=validate.Length(min=1, max=64))
    logo_url = Url(allow_none=True, validate=validate.Length(max=2000))
    environments = fields.List(Text(validate=validate.OneOf(ENVIRONMENTS)),
                               validate=validate.Length(min=1, max=3))


class WorkspaceListSchema(Schema):
    items = fields.List(fields.Nested(WorkspaceSchema))
    total = fields.Integer()


class BulkWorkspaceSchema(Schema):
    workspaces = fields.List(fields.Nested(WorkspaceSchema), required=True,
                             validate=validate.Length(min=1, max=100))


class BulkResultSchema(Schema):
    created = fields.List(fields.Nested(WorkspaceSchema))


class CloneSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    slug = Text(validate=validate.Length(min=1, max=64))


class DeleteWorkspaceSchema(Schema):
    code = Text(required=True, validate=validate.Length(min=1, max=32))


class SettingsSchema(Schema):
    settings = fields.Dict(required=True)


class MemberSchema(Schema):
    id = Text()
    email = Text(attribute="email_ci", allow_none=True)
    user_name = Text()
    display_name = Text(allow_none=True)
    external_id = Text(allow_none=True)
    status = Text()
    is_owner = fields.Boolean()
    type = Text(metadata={"description": "owner, standard (roles and groups decide) or viewer (read only)"})
    source = Text(metadata={"description": "scim:<idp> (the IdP owns its SCIM attributes), invitation, admin "
                                           "or owner"})
    time_zone = Text(allow_none=True)
    last_active_at = UtcDateTime(allow_none=True)
    roles = fields.Dict(keys=Text(), values=Text())
    groups = fields.List(fields.Dict())
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class MemberUpdateSchema(Schema):
    status = Text(validate=validate.OneOf(("active", "suspended")))
    display_name = Text(allow_none=True, validate=validate.Length(max=320))
    time_zone = Text(allow_none=True, validate=validate.Length(max=64),
                     metadata={"description": "An IANA time zone (Europe/Paris); null clears it"})
    type = Text(validate=validate.OneOf(("standard", "viewer")),
                metadata={"description": "owner changes only by transferring ownership"})


class MemberListArgs(Schema):
    email = Text(validate=validate.Length(max=320))
    status = Text(validate=validate.OneOf(MEMBER_STATUSES))
    role = Text(validate=validate.Length(max=100))
    environment = Text(validate=validate.OneOf(ENVIRONMENTS))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class MemberListSchema(Schema):
    items = fields.List(fields.Nested(MemberSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


class CountSchema(Schema):
    count = fields.Integer()


class EnvRolesSchema(Schema):
    env_roles = fields.List(fields.Nested(EnvRoleSchema), required=True, validate=validate.Length(max=3))


class RoleMapSchema(Schema):
    roles = fields.Dict(keys=Text(), values=Text())


class PrivilegeSourceSchema(Schema):
    type = Text(metadata={"description": "direct, group, or token (a service token's scopes)"})
    role = Text()
    role_id = Text()
    group_id = Text()
    group = Text(allow_none=True)
    scopes = fields.List(Text())


class ResourcePrivilegesSchema(Schema):
    resource = Text()
    actions = fields.List(Text())
    sources = fields.List(fields.Nested(PrivilegeSourceSchema),
                          metadata={"description": "The roles (direct or through a group) granting these actions"})


class EnvPrivilegesSchema(Schema):
    environment = Text()
    privileges = fields.List(Text())
    sources = fields.List(fields.Nested(PrivilegeSourceSchema))
    resources = fields.List(fields.Nested(ResourcePrivilegesSchema), metadata={
        "description": "The same privileges by resource, each with the roles and sources granting it"})


class MembershipSchema(Schema):
    id = Text()
    type = Text()
    status = Text()
    owner = fields.Boolean(attribute="is_owner")
    source = Text()


class ContextSchema(Schema):
    workspace = fields.Nested(WorkspaceSchema)
    membership = fields.Nested(MembershipSchema, allow_none=True,
                               metadata={"description": "null for a service token, which acts as no person"})
    roles = fields.Dict(keys=Text(), values=Text(), metadata={"description": "My direct role per environment"})
    privileges = fields.List(fields.Nested(EnvPrivilegesSchema),
                             metadata={"description": "My effective privileges per environment and their sources"})


class TransferSchema(Schema):
    member_id = Text(required=True, validate=validate.Length(min=1, max=64))


class InvitationCreateSchema(Schema):
    name = Text(load_default="", validate=validate.Length(max=200))
    email = Text(required=True, validate=validate.Length(min=3, max=320))
    env_roles = fields.List(fields.Nested(EnvRoleSchema), load_default=list, validate=validate.Length(max=3))


class InvitationSchema(Schema):
    id = Text()
    email = Text()
    name = Text()
    env_roles = fields.Dict(keys=Text(), values=Text())
    status = Text()
    inviter_id = Text(allow_none=True)
    created_at = UtcDateTime()
    last_sent_at = UtcDateTime()
    expires_at = UtcDateTime()
    accepted_at = UtcDateTime(allow_none=True)


class AcceptSchema(Schema):
    token = Text(required=True, validate=validate.Length(min=1, max=200))


class RoleSchema(Schema):
    id = Text(dump_only=True)
    name = Text(required=True, validate=validate.Length(min=1, max=100))
    description = Text(load_default="", validate=validate.Length(max=1000))
    privileges = fields.List(Text(validate=validate.Length(max=64)), load_default=list,
                             validate=validate.Length(max=100))
    is_system = fields.Boolean(dump_only=True)
    created_at = UtcDateTime(dump_only=True)
    updated_at = UtcDateTime(dump_only=True)


class RoleUpdateSchema(Schema):
    name = Text(validate=validate.Length(min=1, max=100))
    description = Text(validate=validate.Length(max=1000))
    privileges = fields.List(Text(validate=validate.Length(max=64)), validate=validate.Length(max=100))


class PrivilegeChangeSchema(Schema):
    privileges = fields.List(Text(validate=validate.Length(max=64)), required=True,
                             validate=validate.Length(min=1, max=100))


class CatalogueEntrySchema(Schema):
    resource = Text()
    actions = fields.List(Text())
    privileges = fields.List(Text())


class GroupSchema(Schema):
    id = Text()
    display_name = Text()
    external_id = Text(allow_none=True)
    source = Text(metadata={"description": "scim:<idp> (managed by that IdP), or admin"})
    member_count = fields.Integer()
    grants = fields.Dict(keys=Text(), values=Text())
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class GroupCreateSchema(Schema):
    display_name = Text(required=True, validate=validate.Length(min=1, max=320))
    external_id = Text(allow_none=True, load_default=None, validate=validate.Length(max=320))


class GroupUpdateSchema(Schema):
    display_name = Text(validate=validate.Length(min=1, max=320))
    external_id = Text(allow_none=True, validate=validate.Length(max=320))


MAX_GROUP_MEMBER_IDS = 10000


class MemberIdsSchema(Schema):
    member_ids = fields.List(Text(validate=validate.Length(min=1, max=64)), required=True,
                             validate=validate.Length(min=1, max=MAX_GROUP_MEMBER_IDS))


class MembershipChangeSchema(Schema):
    added = fields.List(Text(), metadata={"description": "Members that were not in the group before"})
    removed = fields.List(Text(), metadata={"description": "Members that were in the group before"})
    member_count = fields.Integer()


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class GroupListSchema(Schema):
    items = fields.List(fields.Nested(GroupSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


class TokenCreateSchema(Schema):
    scopes = fields.List(Text(validate=validate.OneOf(SCOPES)), required=True,
                         validate=validate.Length(min=1, max=3))
    label = Text(load_default="", validate=validate.Length(max=200))
    expires_in_days = fields.Integer(strict=True, allow_none=True, load_default=None,
                                     validate=validate.Range(min=1, max=3650))


class TokenSchema(Schema):
    id = Text()
    kind = Text()
    label = Text()
    prefix = Text()
    scopes = fields.List(Text())
    created_at = UtcDateTime()
    expires_at = UtcDateTime(allow_none=True)
    last_used_at = UtcDateTime(allow_none=True)
    revoked_at = UtcDateTime(allow_none=True)


class TokenCreatedSchema(TokenSchema):
    token = Text(metadata={"description": "The secret, shown only in this response"})


class DeletionPreviewSchema(Schema):
    workspace = fields.Dict()
    will_delete = fields.Dict(keys=Text(), values=fields.Integer())


class StatsSchema(Schema):
    members = fields.Integer()
    members_by_status = fields.Dict(keys=Text(), values=fields.Integer())
    groups = fields.Integer()
    custom_roles = fields.Integer()
    active_tokens = fields.Integer()
    pending_invitations = fields.Integer()
    environments = fields.List(Text())


class MessageSchema(Schema):
    message = Text()
