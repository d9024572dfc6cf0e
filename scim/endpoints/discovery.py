"""/ServiceProviderConfig, /ResourceTypes and /Schemas (RFC 7644 §4); public, no token needed.

With a workspace's scim token, /Schemas describes that workspace: `roles.value` lists its role names and
`roles.type` its enabled environments as canonicalValues, exactly what a write is checked against.
"""

from flask import request

from .. import auth, discovery, repository
from ..errors import ForbiddenError, NotFoundError
from ..responses import list_response, scim_response
from ..schema import get_ci
from . import base_url, bp, max_results


def _refuse_filter():
    # RFC 7644 §4: a filter on discovery endpoints SHOULD be answered with 403.
    if get_ci(request.args, "filter") is not None:
        raise ForbiddenError("Discovery endpoints do not support filtering")


@bp.get("/ServiceProviderConfig")
def service_provider_config():
    """Return the service provider configuration."""
    return scim_response(discovery.service_provider_config(base_url(), max_results()))


@bp.get("/ResourceTypes")
def list_resource_types():
    """List the resource types."""
    _refuse_filter()
    types = discovery.resource_types(base_url())
    return list_response(types, len(types), 1)


@bp.get("/ResourceTypes/<name>")
def get_resource_type(name):
    """Return one resource type."""
    found = next((n for n in discovery.RESOURCE_TYPES if n.lower() == name.lower()), None)
    if found is None:
        raise NotFoundError(f"Resource type {name} not found")
    return scim_response(discovery.resource_type(found, base_url()))


def _canonical_values():
    workspace = auth.discovery_workspace()
    if workspace is None:
        return None
    return discovery.workspace_canonical_values(repository.role_names(workspace), workspace.environments)


@bp.get("/Schemas")
def list_schemas():
    """List the schemas with their attribute definitions."""
    _refuse_filter()
    documents = discovery.schemas(base_url(), _canonical_values())
    return list_response(documents, len(documents), 1)


@bp.get("/Schemas/<path:urn>")
def get_schema(urn):
    """Return one schema."""
    try:
        return scim_response(discovery.schema_document(urn, base_url(), _canonical_values()))
    except KeyError:
        raise NotFoundError(f"Schema {urn} not found") from None
