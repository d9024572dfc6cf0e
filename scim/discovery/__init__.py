"""Discovery documents (RFC 7643 §5-§7, RFC 7644 §4): what Roster implements and enforces, nothing more."""

from .. import schema
from ..constants import (BULK_MAX_OPERATIONS, BULK_MAX_PAYLOAD_SIZE, ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA,
                         RESOURCE_TYPE_SCHEMA, SERVICE_PROVIDER_CONFIG_SCHEMA, USER_SCHEMA)

ROOT = "/scim/v2"

RESOURCE_TYPES = {
    "User": {"name": "User", "endpoint": "/Users", "description": "Members of the workspace",
             "schema": USER_SCHEMA, "extensions": [ENTERPRISE_USER_SCHEMA]},
    "Group": {"name": "Group", "endpoint": "/Groups", "description": "Groups of members of the workspace",
              "schema": GROUP_SCHEMA, "extensions": []},
}


def service_provider_config(base_url, max_results):
    """Return /ServiceProviderConfig (RFC 7643 §5)."""
    return {
        "schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA],
        "patch": {"supported": True},
        "bulk": {"supported": True, "maxOperations": BULK_MAX_OPERATIONS,
                 "maxPayloadSize": BULK_MAX_PAYLOAD_SIZE},
        "filter": {"supported": True, "maxResults": max_results},
        "changePassword": {"supported": False},
        "sort": {"supported": True},
        "etag": {"supported": True},
        "authenticationSchemes": [{
            "type": "oauthbearertoken",
            "name": "OAuth Bearer Token",
            "description": "A workspace service token with the scim scope, sent as "
                           "Authorization: Bearer <token>",
            "specUri": "https://www.rfc-editor.org/rfc/rfc6750",
            "primary": True,
        }],
        "meta": {"resourceType": "ServiceProviderConfig",
                 "location": f"{base_url}{ROOT}/ServiceProviderConfig"},
    }


def resource_type(name, base_url):
    """Return one ResourceType (RFC 7643 §6); KeyError when unknown."""
    spec = RESOURCE_TYPES[name]
    return {
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": spec["name"],
        "name": spec["name"],
        "endpoint": spec["endpoint"],
        "description": spec["description"],
        "schema": spec["schema"],
        "schemaExtensions": [{"schema": urn, "required": False} for urn in spec["extensions"]],
        "meta": {"resourceType": "ResourceType",
                 "location": f"{base_url}{ROOT}/ResourceTypes/{spec['name']}"},
    }


def resource_types(base_url):
    """Return every ResourceType."""
    return [resource_type(name, base_url) for name in RESOURCE_TYPES]


def workspace_canonical_values(role_names, environments):
    """Return the User schema canonicalValues one workspace enforces: its roles and its environments.

    `roles.value` must name a role of the workspace and `roles.type` one of its enabled environments
    (anything else is 400 invalidValue), so a workspace's /Schemas lists exactly those. `NoAccess` is
    accepted as a value that removes the direct role of an environment, but no user ever holds it, so it
    is no canonical value of what is stored and returned.
    """
    return {"roles.value": list(role_names), "roles.type": list(environments)}


def schema_document(urn, base_url, canonical_values=None):
    """Return one Schema (RFC 7643 §7) with its full attribute definitions; KeyError when unknown.

    `canonical_values` ({"roles.value": [...], "roles.type": [...]}) tailors the User schema to a workspace.
    """
    canonical = schema.served_schema_urn(urn)
    overrides = canonical_values if canonical == USER_SCHEMA else None
    return schema.to_scim_schema(canonical, location=f"{base_url}{ROOT}/Schemas/{canonical}",
                                 canonical_values=overrides)


def schemas(base_url, canonical_values=None):
    """Return every Schema Roster serves, the User schema tailored by `canonical_values` when given."""
    return [schema_document(urn, base_url, canonical_values) for urn in schema.known_schemas()]
