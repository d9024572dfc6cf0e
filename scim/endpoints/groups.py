"""/Groups: one view per verb (RFC 7644 §3.3, §3.4.1, §3.5, §3.6); listing lives in search.py.

A group PATCH answers 204 with the new ETag (RFC 7644 §3.5.2 allows it; Entra expects it), so changing the
membership of a 50,000-member group never reads that membership back. Ask for `attributes` or
`excludedAttributes` on the PATCH to get 200 with the projected resource instead.
"""

from flask import g

from web.audit import operation

from .. import repository
from ..mapping import etag, group_location
from ..responses import no_content, resource_response
from ..schema import GROUP
from . import base_url, bp, has_projection, json_body, not_modified_response, options, projection
from .patchop import operations_of


def render_group(group):
    """Render one group as this request projects it."""
    return repository.render_groups(g.workspace, [group], projection(GROUP), base_url())[0]


def group_response(group, status=200, resource=None):
    """Answer one group with its ETag (and Location when created); `resource` when already rendered."""
    resource = resource if resource is not None else render_group(group)
    return resource_response(resource, status, version=etag(group.version),
                             location=group_location(base_url(), group.id) if status == 201 else None)


@bp.get("/Groups/<group_id>")
def get_group(group_id):
    """Return a group; `excludedAttributes=members` never touches the membership."""
    group = repository.get_group(g.workspace, group_id)
    return not_modified_response(group) or group_response(group)


@bp.post("/Groups")
@operation("group.created", "group")
def create_group():
    """Create a group."""
    opts = options(render=render_group)  # answered from inside the transaction
    group = repository.create_group(g.workspace, g.scim_actor, json_body(), opts)
    return group_response(group, 201, opts.response)


@bp.put("/Groups/<group_id>")
@operation("group.updated", "group", "group_id")
def replace_group(group_id):
    """Replace a group and its membership."""
    opts = options(render=render_group)  # answered from inside the transaction
    group = repository.replace_group(g.workspace, g.scim_actor, group_id, json_body(), opts)
    return group_response(group, resource=opts.response)


@bp.patch("/Groups/<group_id>")
@operation("group.updated", "group", "group_id")
def patch_group(group_id):
    """Patch a group; 204, or 200 with the resource when attributes/excludedAttributes are asked for."""
    opts = options(render=render_group if has_projection() else None)
    group = repository.patch_group(g.workspace, g.scim_actor, group_id, operations_of(json_body()), opts)
    if has_projection():
        return group_response(group, resource=opts.response)
    return no_content(etag(group.version))


@bp.delete("/Groups/<group_id>")
@operation("group.deleted", "group", "group_id")
def delete_group(group_id):
    """Delete a group."""
    repository.delete_group(g.workspace, g.scim_actor, group_id, options())
    return no_content()
