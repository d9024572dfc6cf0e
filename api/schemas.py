"""Marshmallow schemas of the admin API (request bodies and responses)."""

from marshmallow import Schema, fields, validate

from models.access import SCOPES
from models.directory import MEMBER_STATUSES
from models.workspace import ENVIRONMENTS


class EnvRoleSchema(Schema):
    environment_type = fields.String(required=True, validate=validate.Length(max=16))
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class WorkspaceSchema(Schema):
    id = fields.String(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    slug = fields.String(validate=validate.Length(min=1, max=64))
    logo_url = fields.Url(allow_none=True, validate=validate.Length(max=2000))
    environments = fields.List(fields.String(validate=validate.OneOf(ENVIRONMENTS)),
                               validate=validate.Length(min=1, max=3))
    settings = fields.Dict(load_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class WorkspaceUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=200))
    slug = fields.String(validate=validate.Length(min=1, max=64))
    logo_url = fields.Url(allow_none=True, validate=validate.Length(max=2000))
    environments = fields.List(fields.String(validate=validate.OneOf(ENVIRONMENTS)),
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
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    slug = fields.String(validate=validate.Length(min=1, max=64))


class DeleteWorkspaceSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=32))


class SettingsSchema(Schema):
    settings = fields.Dict(required=True)


class MemberSchema(Schema):
    id = fields.String()
    email = fields.String(attribute="email_ci", allow_none=True)
    user_name = fields.String()
    display_name = fields.String(allow_none=True)
    status = fields.String()
    is_owner = fields.Boolean()
    roles = fields.Dict(keys=fields.String(), values=fields.String())
    groups = fields.List(fields.Dict())
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class MemberListArgs(Schema):
    email = fields.String(validate=validate.Length(max=320))
    status = fields.String(validate=validate.OneOf(MEMBER_STATUSES))
    role = fields.String(validate=validate.Length(max=100))
    environment = fields.String(validate=validate.OneOf(ENVIRONMENTS))
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
    roles = fields.Dict(keys=fields.String(), values=fields.String())


class PrivilegeSourceSchema(Schema):
    type = fields.String()
    role = fields.String()
    role_id = fields.String()
    group_id = fields.String()
    group = fields.String(allow_none=True)


class EnvPrivilegesSchema(Schema):
    environment = fields.String()
    privileges = fields.List(fields.String())
    sources = fields.List(fields.Nested(PrivilegeSourceSchema))


class TransferSchema(Schema):
    member_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class InvitationCreateSchema(Schema):
    name = fields.String(load_default="", validate=validate.Length(max=200))
    email = fields.String(required=True, validate=validate.Length(min=3, max=320))
    env_roles = fields.List(fields.Nested(EnvRoleSchema), load_default=list, validate=validate.Length(max=3))


class InvitationSchema(Schema):
    id = fields.String()
    email = fields.String()
    name = fields.String()
    env_roles = fields.Dict(keys=fields.String(), values=fields.String())
    status = fields.String()
    inviter_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    last_sent_at = fields.DateTime()
    expires_at = fields.DateTime()
    accepted_at = fields.DateTime(allow_none=True)


class AcceptSchema(Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=200))


class RoleSchema(Schema):
    id = fields.String(dump_only=True)
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))
    description = fields.String(load_default="", validate=validate.Length(max=1000))
    privileges = fields.List(fields.String(validate=validate.Length(max=64)), load_default=list,
                             validate=validate.Length(max=100))
    is_system = fields.Boolean(dump_only=True)
    created_at = fields.DateTime(dump_only=True)
    updated_at = fields.DateTime(dump_only=True)


class RoleUpdateSchema(Schema):
    name = fields.String(validate=validate.Length(min=1, max=100))
    description = fields.String(validate=validate.Length(max=1000))
    privileges = fields.List(fields.String(validate=validate.Length(max=64)), validate=validate.Length(max=100))


class PrivilegeChangeSchema(Schema):
    privileges = fields.List(fields.String(validate=validate.Length(max=64)), required=True,
                             validate=validate.Length(min=1, max=100))


class CatalogueEntrySchema(Schema):
    resource = fields.String()
    actions = fields.List(fields.String())
    privileges = fields.List(fields.String())


class GroupSchema(Schema):
    id = fields.String()
    display_name = fields.String()
    external_id = fields.String(allow_none=True)
    member_count = fields.Integer()
    grants = fields.Dict(keys=fields.String(), values=fields.String())
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class PageArgs(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    page_size = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class GroupListSchema(Schema):
    items = fields.List(fields.Nested(GroupSchema))
    total = fields.Integer()
    page = fields.Integer()
    page_size = fields.Integer()


class TokenCreateSchema(Schema):
    scopes = fields.List(fields.String(validate=validate.OneOf(SCOPES)), required=True,
                         validate=validate.Length(min=1, max=3))
    label = fields.String(load_default="", validate=validate.Length(max=200))
    expires_in_days = fields.Integer(allow_none=True, load_default=None, validate=validate.Range(min=1, max=3650))


class TokenSchema(Schema):
    id = fields.String()
    kind = fields.String()
    label = fields.String()
    prefix = fields.String()
    scopes = fields.List(fields.String())
    created_at = fields.DateTime()
    expires_at = fields.DateTime(allow_none=True)
    last_used_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class TokenCreatedSchema(TokenSchema):
    token = fields.String(metadata={"description": "The secret, shown only in this response"})


class DeletionPreviewSchema(Schema):
    workspace = fields.Dict()
    will_delete = fields.Dict(keys=fields.String(), values=fields.Integer())


class StatsSchema(Schema):
    members = fields.Integer()
    members_by_status = fields.Dict(keys=fields.String(), values=fields.Integer())
    groups = fields.Integer()
    custom_roles = fields.Integer()
    active_tokens = fields.Integer()
    pending_invitations = fields.Integer()
    environments = fields.List(fields.String())


class MessageSchema(Schema):
    message = fields.String()
