"""Members and groups <-> SCIM Users and Groups (RFC 7643 §4), and attribute projection (RFC 7644 §3.9).

Storage: `Member.attributes` / `Group.attributes` hold the SCIM document as `validation.normalize_resource`
returns it (core attributes at the top level, extensions under their URN), minus what lives elsewhere:
`active` is the member's status (a removed `active` leaves a marker, see ACTIVE_UNASSIGNED), `roles` are
MemberRole rows, `groups` is derived from group_member,
Group `members` are group_member rows, and `id`/`meta` come from columns. `userName`, `externalId` and
`displayName` are kept in the document and mirrored to indexed columns.
"""

import copy

from . import schema
from .constants import ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, USER_SCHEMA

USERS_PATH = "/scim/v2/Users"
GROUPS_PATH = "/scim/v2/Groups"
# Attributes never dropped by `attributes=` or `excludedAttributes=` (RFC 7643 §2.2 returned "always").
ALWAYS = ("schemas", "id")
# Kept out of the stored documents; see the module docstring.
USER_DERIVED = ("active", "roles", "groups")
# The key a stored user document holds (as JSON null) once a client removed `active` (RFC 7644 §3.5.2.2): the
# attribute is unassigned, which Roster reads as "not suspended", and is not returned until a write assigns
# it or the member is suspended. scim.filters.sql reads the same marker.
ACTIVE_UNASSIGNED = "active"


def timestamp(value):
    """Format a stored naive-UTC datetime as an RFC 3339 instant with the stored microseconds.

    The full stored precision, so a value answered compares equal to itself in a filter (RFC 7644 §3.4.2.2:
    `meta.lastModified eq <what GET answered>` finds the resource, `gt` does not): an IdP's delta sync saves
    the last value it saw and filters with it."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def etag(version):
    """Return the weak ETag of a resource version (RFC 7644 §3.14)."""
    return f'W/"{version}"'


def etag_matches(header, version):
    """Tell whether an If-Match/If-None-Match header names `version` or is `*` (RFC 7232 §3.1-3.2, weakly)."""
    current = etag(version).removeprefix("W/")
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or any(t.removeprefix("W/") == current for t in tags)


def user_location(base_url, member_id):
    """Return the absolute URL of a User."""
    return f"{base_url}{USERS_PATH}/{member_id}"


def group_location(base_url, group_id):
    """Return the absolute URL of a Group."""
    return f"{base_url}{GROUPS_PATH}/{group_id}"


def _meta(resource_type, row, location):
    return {"resourceType": resource_type, "created": timestamp(row.created_at),
            "lastModified": timestamp(row.updated_at), "location": location, "version": etag(row.version)}


def roles_to_scim(env_roles):
    """Render {environment: role name} as SCIM roles: value is the role name, type the environment."""
    return [{"value": name, "type": env} for env, name in sorted(env_roles.items())]


def active_unassigned(member):
    """Tell whether a client removed the member's `active` and it has not been suspended since."""
    return ACTIVE_UNASSIGNED in (member.attributes or {}) and member.status != "suspended"


def user_document(member, env_roles):
    """Return the member's SCIM document as PATCH sees it: stored attributes plus active and roles."""
    doc = copy.deepcopy(member.attributes or {})
    doc.pop(ACTIVE_UNASSIGNED, None)
    if not active_unassigned(member):
        doc["active"] = member.status != "suspended"
    if env_roles:
        doc["roles"] = roles_to_scim(env_roles)
    return doc


def user_to_scim(member, base_url, *, env_roles=None, groups=None, managers=None):
    """Render a member as a SCIM User.

    `env_roles` {environment: role name}, `groups` [(id, displayName)] and `managers` {id: (displayName)}
    are loaded by the caller only when they will be returned.
    """
    doc = user_document(member, env_roles or {})
    extension = doc.pop(ENTERPRISE_USER_SCHEMA, None)
    resource = {"schemas": [USER_SCHEMA], "id": member.id}
    if member.external_id is not None:
        resource["externalId"] = member.external_id
    resource.update(doc)
    resource["userName"] = member.user_name
    if groups:
        resource["groups"] = [{"value": gid, "$ref": group_location(base_url, gid), "display": name,
                               "type": "direct"} for gid, name in groups]
    if extension:
        resource["schemas"].append(ENTERPRISE_USER_SCHEMA)
        manager = extension.get("manager")
        if isinstance(manager, dict) and manager.get("value"):
            # Entra needs the manager back as a complex value, never a bare string (idp_fixtures/entra/scim/09-read-manager.json).
            manager_id = manager["value"]
            rendered = {"value": manager_id}
            if managers is not None and manager_id in managers:
                rendered["$ref"] = user_location(base_url, manager_id)
                if managers[manager_id]:
                    rendered["displayName"] = managers[manager_id]
            extension["manager"] = rendered
        resource[ENTERPRISE_USER_SCHEMA] = extension
    resource["meta"] = _meta("User", member, user_location(base_url, member.id))
    return resource


def group_to_scim(group, base_url, *, members=None):
    """Render a group as a SCIM Group; `members` [(id, display)] is None when not loaded."""
    doc = copy.deepcopy(group.attributes or {})
    doc.pop("members", None)
    resource = {"schemas": [GROUP_SCHEMA], "id": group.id}
    if group.external_id is not None:
        resource["externalId"] = group.external_id
    resource.update(doc)
    resource["displayName"] = group.display_name
    if members:
        resource["members"] = [{"value": mid, "$ref": user_location(base_url, mid), "display": display,
                                "type": "User"} for mid, display in members]
    resource["meta"] = _meta("Group", group, group_location(base_url, group.id))
    return resource


def parse_attribute_list(value):
    """Split an `attributes`/`excludedAttributes` value (comma-separated string or list) into names."""
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [item.strip() for item in items if isinstance(item, str) and item.strip()]


def _selection(resource_type, name):
    """Turn one attribute name into (container URN or None for top level, attribute name, sub) or None."""
    urns = schema.schema_for(resource_type)
    lower = name.lower()
    for urn in sorted(urns, key=len, reverse=True):
        if lower == urn.lower():
            return (None if urn == urns[0] else urn, None, None)
        if lower.startswith(urn.lower() + ":"):
            uri, rest = urn, name[len(urn) + 1:]
            break
    else:
        uri, rest = None, name
    attr_name, _, sub = rest.partition(".")
    attr = schema.resolve(resource_type, uri, attr_name)
    if attr is None:
        return None
    container = None if attr.schema == urns[0] else attr.schema
    sub_attr = attr.sub(sub) if sub else None
    if sub and sub_attr is None:
        return None
    return (container, attr.name, sub_attr.name if sub_attr else None)


def _request_only(resource_type):
    """Return (container, attribute, sub-attribute) of every sub-attribute with returned "request"."""
    urns = schema.schema_for(resource_type)
    found = []
    for urn in urns:
        for attr in schema.attributes(resource_type, urn):
            for sub in attr.sub_attributes.values():
                if sub.returned == schema.RETURNED_REQUEST:
                    found.append((None if urn == urns[0] else urn, attr.name, sub.name))
    return found


class Projection:
    """The `attributes` / `excludedAttributes` of a request (RFC 7644 §3.4.2.5), applied to resources.

    Sub-attributes declared returned "request" (`manager.displayName`, `members.display`) are left out
    unless `attributes` names them (RFC 7643 §7): naming their parent is not enough.
    """

    def __init__(self, resource_type, attributes=None, excluded=None):
        self.resource_type = resource_type
        self.core = schema.core_schema(resource_type)
        names = parse_attribute_list(attributes)
        self.include = [s for s in (_selection(resource_type, n) for n in names) if s] if names else None
        # RFC 7644 §3.4.2.5: when both are given, `attributes` wins.
        excluded_names = [] if names else parse_attribute_list(excluded)
        self.exclude = [s for s in (_selection(resource_type, n) for n in excluded_names) if s]
        self.withheld = [s for s in _request_only(resource_type) if s not in (self.include or ())]

    def returns(self, name, container=None):
        """Tell whether top-level attribute `name` (of extension `container`) can appear in the output."""
        if self.include is not None:
            return any(c == container and (a == name or a is None) for c, a, _ in self.include)
        return not any(c == container and a == name and s is None for c, a, s in self.exclude)

    def apply(self, resource):
        """Return `resource` reduced to what the request asked for."""
        resource = self._withhold(resource)
        if self.include is None and not self.exclude:
            return resource
        if self.include is not None:
            out = {key: resource[key] for key in ALWAYS if key in resource}
            for container, name, sub in self.include:
                source = resource.get(container) if container else resource
                if not isinstance(source, dict):
                    continue
                target = out.setdefault(container, {}) if container else out
                if name is None:
                    target.update(copy.deepcopy(source))
                elif name in source:
                    if sub is None:
                        target[name] = copy.deepcopy(source[name])
                    else:
                        _copy_sub(source[name], target, name, sub)
            for key in [k for k, v in out.items() if k.startswith("urn:") and not v]:
                del out[key]
            return _fix_schemas(out)
        out = copy.deepcopy(resource)
        for container, name, sub in self.exclude:
            target = out.get(container) if container else out
            if not isinstance(target, dict):
                continue
            if name is None:
                out.pop(container, None)
            elif sub is None:
                if name not in ALWAYS:
                    target.pop(name, None)
            elif name in target:
                values = target[name] if isinstance(target[name], list) else [target[name]]
                for value in values:
                    if isinstance(value, dict):
                        value.pop(sub, None)
            if container and not target:
                out.pop(container, None)
        return _fix_schemas(out)


    def _withhold(self, resource):
        """Drop the returned-"request" sub-attributes the request did not name (in place)."""
        for container, name, sub in self.withheld:
            source = resource.get(container) if container else resource
            value = source.get(name) if isinstance(source, dict) else None
            for element in value if isinstance(value, list) else [value]:
                if isinstance(element, dict):
                    element.pop(sub, None)
        return resource


def _copy_sub(value, target, name, sub):
    if isinstance(value, list):
        slots = target.setdefault(name, [{} for _ in value])
        for slot, element in zip(slots, value):
            if isinstance(element, dict) and sub in element:
                slot[sub] = element[sub]
    elif isinstance(value, dict) and sub in value:
        target.setdefault(name, {})[sub] = value[sub]


def _fix_schemas(resource):
    """Keep `schemas` listing the core schema and only the extensions still present; drop emptied values."""
    for key in [k for k, v in resource.items() if isinstance(v, list) and v and all(x == {} for x in v)]:
        del resource[key]
    if "schemas" in resource:
        resource["schemas"] = [u for i, u in enumerate(resource["schemas"]) if i == 0 or u in resource]
    return resource
