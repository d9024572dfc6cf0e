"""/Me (RFC 7644 §3.11): the User a personal token acts as, read-only.

A person may be a member of several workspaces: `?workspace=<id or slug>` picks one, and may be left out when
the person belongs to exactly one. Writes through /Me are not offered (501): the IdP owns a member's
attributes, and a member must not grant itself roles.
"""

from flask import g, request

from models.directory import Member
from models.services import NotFoundError as ServiceNotFoundError
from models.services.workspaces import find_workspace

from .. import repository
from ..errors import InvalidValueError, NotFoundError, ScimError
from ..mapping import etag
from ..responses import resource_response
from ..schema import USER, get_ci
from . import base_url, bp, not_modified_response, projection

def _membership(person):
    ref = get_ci(request.args, "workspace")
    if ref:
        try:
            workspace = find_workspace(ref)
        except ServiceNotFoundError:
            raise NotFoundError("Workspace not found") from None
        member = Member.get_or_none(Member.workspace == workspace.id, Member.person == person.id)
        if member is None:
            raise NotFoundError("Workspace not found")
        return workspace, member
    members = list(Member.select().where(Member.person == person.id).limit(2))
    if not members:
        raise NotFoundError("The token's person is not a member of any workspace")
    if len(members) > 1:
        raise InvalidValueError("The person belongs to several workspaces: add ?workspace=<id or slug>")
    return members[0].workspace, members[0]


@bp.get("/Me")
def get_me():
    """Return the user the personal token acts as."""
    workspace, member = _membership(g.scim_actor.person)
    g.workspace = workspace
    found = not_modified_response(member)
    if found:
        return found
    resource = repository.render_users(workspace, [member], projection(USER), base_url())[0]
    return resource_response(resource, version=etag(member.version))


@bp.route("/Me", methods=["POST", "PUT", "PATCH", "DELETE"])
def me_not_implemented():
    """Refuse writes through /Me."""
    raise ScimError("Only GET is supported on /Me; the identity provider manages users", status=501)
