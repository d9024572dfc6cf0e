"""/Users: one view per verb (RFC 7644 §3.3, §3.4.1, §3.5, §3.6); listing lives in search.py."""

from flask import g

from web.audit import operation

from .. import repository
from ..mapping import etag, user_location
from ..responses import no_content, resource_response
from ..schema import USER
from . import base_url, bp, json_body, not_modified_response, options, projection
from .patchop import operations_of


def render_user(member):
    """Render one user as this request projects it."""
    return repository.render_users(g.workspace, [member], projection(USER), base_url())[0]


def user_response(member, status=200, resource=None):
    """Answer one user with its ETag (and Location when created); `resource` when already rendered."""
    resource = resource if resource is not None else render_user(member)
    return resource_response(resource, status, version=etag(member.version),
                             location=user_location(base_url(), member.id) if status == 201 else None)


@bp.get("/Users/<member_id>")
def get_user(member_id):
    """Return a user."""
    member = repository.get_member(g.workspace, member_id)
    return not_modified_response(member) or user_response(member)


@bp.post("/Users")
@operation("user.created", "user")
def create_user():
    """Create a user."""
    opts = options(render=render_user)  # answered from inside the transaction
    member = repository.create_user(g.workspace, g.scim_actor, json_body(), opts)
    return user_response(member, 201, opts.response)


@bp.put("/Users/<member_id>")
@operation("user.updated", "user", "member_id")
def replace_user(member_id):
    """Replace a user."""
    opts = options(render=render_user)  # answered from inside the transaction
    member = repository.replace_user(g.workspace, g.scim_actor, member_id, json_body(), opts)
    return user_response(member, resource=opts.response)


@bp.patch("/Users/<member_id>")
@operation("user.updated", "user", "member_id")
def patch_user(member_id):
    """Patch a user; answer 200 with the resource (RFC 7644 §3.5.2)."""
    operations = operations_of(json_body())
    opts = options(render=render_user)  # answered from inside the transaction
    member = repository.patch_user(g.workspace, g.scim_actor, member_id, operations, opts)
    return user_response(member, resource=opts.response)


@bp.delete("/Users/<member_id>")
@operation("user.deleted", "user", "member_id")
def delete_user(member_id):
    """Delete a user: the membership goes, the person stays."""
    repository.delete_user(g.workspace, g.scim_actor, member_id, options())
    return no_content()
