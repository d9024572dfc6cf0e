"""Attribute definitions of the SCIM User, Enterprise User and Group schemas (RFC 7643 §3.1, §4, §8.7.1).

Every attribute Roster knows is an immutable `Attribute`. Names are canonical (camelCase as in the RFC);
lookups are case-insensitive (RFC 7643 §2.1). Common attributes (`id`, `externalId`, `meta`) resolve for
every resource type and carry the resource's core schema URN, since they live at the top level of the
resource, but they are not listed in `/Schemas` (RFC 7643 §3.1: they belong to no schema).
"""

from dataclasses import dataclass, field
from types import MappingProxyType

from .constants import ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, SCHEMA_SCHEMA, USER_SCHEMA

STRING = "string"
BOOLEAN = "boolean"
DECIMAL = "decimal"
INTEGER = "integer"
DATETIME = "dateTime"
REFERENCE = "reference"
COMPLEX = "complex"
BINARY = "binary"

READ_WRITE = "readWrite"
READ_ONLY = "readOnly"
WRITE_ONLY = "writeOnly"
IMMUTABLE = "immutable"

RETURNED_ALWAYS = "always"
RETURNED_NEVER = "never"
RETURNED_DEFAULT = "default"
RETURNED_REQUEST = "request"

UNIQUENESS_NONE = "none"
UNIQUENESS_SERVER = "server"
UNIQUENESS_GLOBAL = "global"

USER = "User"
GROUP = "Group"

COMMON_ATTRIBUTE_NAMES = frozenset({"id", "externalid", "meta"})


@dataclass(frozen=True)
class Attribute:
    """One attribute definition (RFC 7643 §2.2, §7)."""

    schema: str
    name: str
    type: str = STRING
    multi_valued: bool = False
    case_exact: bool = False
    mutability: str = READ_WRITE
    returned: str = RETURNED_DEFAULT
    uniqueness: str = UNIQUENESS_NONE
    required: bool = False
    description: str = ""
    canonical_values: tuple = ()
    reference_types: tuple = ()
    sub_attributes: MappingProxyType = field(default_factory=lambda: MappingProxyType({}), hash=False,
                                             compare=False)

    @property
    def is_complex(self):
        """Tell whether the attribute holds sub-attributes."""
        return self.type == COMPLEX

    def sub(self, name):
        """Return the sub-attribute called `name` (any case), or None."""
        return self.sub_attributes.get(name.lower()) if name else None


def _attr(schema, name, type_=STRING, subs=(), **kwargs):
    """Build an Attribute, keying its sub-attributes by lower-case name."""
    sub_map = {}
    for spec in subs:
        sub_name, sub_type, sub_kwargs = spec[0], spec[1], spec[2] if len(spec) > 2 else {}
        sub_map[sub_name.lower()] = Attribute(schema=schema, name=sub_name, type=sub_type, **sub_kwargs)
    if "canonical_values" in kwargs:
        kwargs["canonical_values"] = tuple(kwargs["canonical_values"])
    if "reference_types" in kwargs:
        kwargs["reference_types"] = tuple(kwargs["reference_types"])
    return Attribute(schema=schema, name=name, type=type_, sub_attributes=MappingProxyType(sub_map), **kwargs)


def _sub(name, type_=STRING, description="", **kwargs):
    """Describe a sub-attribute for `_attr`."""
    for key in ("canonical_values", "reference_types"):
        if key in kwargs:
            kwargs[key] = tuple(kwargs[key])
    return (name, type_, dict(description=description, **kwargs))


def _multi_subs(schema_label, value_type=STRING, types=(), value_kwargs=None):
    """Return the value/display/type/primary sub-attributes of RFC 7643 §2.4 multi-valued attributes."""
    return (
        _sub("value", value_type, f"The {schema_label} value.", **(value_kwargs or {})),
        _sub("display", STRING, "A human-readable name, primarily used for display purposes."),
        _sub("type", STRING, f"A label indicating the {schema_label}'s function.", canonical_values=types),
        _sub("primary", BOOLEAN,
             f"Indicates the 'primary' or preferred {schema_label}; at most one is true."),
    )


def _common(schema):
    """Return the RFC 7643 §3.1 common attributes for a resource whose core schema is `schema`."""
    return [
        _attr(schema, "id", STRING, case_exact=True, mutability=READ_ONLY, returned=RETURNED_ALWAYS,
              uniqueness=UNIQUENESS_SERVER,
              description="Unique identifier for the resource, assigned by the service provider."),
        # RFC 7643 §3.1: externalId is caseExact, assigned by the provisioning client.
        _attr(schema, "externalId", STRING, case_exact=True,
              description="Identifier of the resource as defined by the provisioning client."),
        _attr(schema, "meta", COMPLEX, mutability=READ_ONLY, description="Resource metadata.", subs=(
            _sub("resourceType", STRING, "The name of the resource type.", case_exact=True,
                 mutability=READ_ONLY),
            _sub("created", DATETIME, "When the resource was added to the service provider.",
                 mutability=READ_ONLY),
            _sub("lastModified", DATETIME, "When the resource was last updated.", mutability=READ_ONLY),
            _sub("location", REFERENCE, "The URI of the resource.", case_exact=True, mutability=READ_ONLY,
                 reference_types=("uri",)),
            _sub("version", STRING, "The version (weak ETag) of the resource.", case_exact=True,
                 mutability=READ_ONLY),
        )),
    ]


def _user_attributes():
    """Return the core User schema attributes (RFC 7643 §4.1, §8.7.1)."""
    s = USER_SCHEMA
    name_subs = (
        _sub("formatted", STRING, "The full name, formatted for display."),
        _sub("familyName", STRING, "The family name of the User, or last name."),
        _sub("givenName", STRING, "The given name of the User, or first name."),
        _sub("middleName", STRING, "The middle name(s) of the User."),
        _sub("honorificPrefix", STRING, "The honorific prefix(es) of the User, or title."),
        _sub("honorificSuffix", STRING, "The honorific suffix(es) of the User."),
    )
    address_subs = (
        _sub("formatted", STRING, "The full mailing address, formatted for display."),
        _sub("streetAddress", STRING, "The full street address component."),
        _sub("locality", STRING, "The city or locality component."),
        _sub("region", STRING, "The state or region component."),
        _sub("postalCode", STRING, "The zip code or postal code component."),
        _sub("country", STRING, "The country name component (ISO 3166-1 alpha-2)."),
        _sub("type", STRING, "A label indicating the address' function.",
             canonical_values=("work", "home", "other")),
        _sub("primary", BOOLEAN, "Indicates the 'primary' or preferred address; at most one is true."),
    )
    group_subs = (
        _sub("value", STRING, "The identifier of the User's group.", mutability=READ_ONLY),
        _sub("$ref", REFERENCE, "The URI of the corresponding Group resource.", mutability=READ_ONLY,
             reference_types=("User", "Group")),
        _sub("display", STRING, "A human-readable name of the group.", mutability=READ_ONLY),
        _sub("type", STRING, "How the membership was derived: direct or indirect.", mutability=READ_ONLY,
             canonical_values=("direct", "indirect")),
    )
    return [
        _attr(s, "userName", STRING, required=True, uniqueness=UNIQUENESS_SERVER,
              description="Unique identifier for the User, typically used to sign in. Unique per workspace, "
                          "compared case-insensitively."),
        _attr(s, "name", COMPLEX, subs=name_subs, description="The components of the user's real name."),
        _attr(s, "displayName", STRING, description="The name of the User, suitable for display."),
        _attr(s, "nickName", STRING, description="The casual way to address the user."),
        _attr(s, "profileUrl", REFERENCE, reference_types=("external",),
              description="A fully qualified URL pointing to a page representing the User's online profile."),
        _attr(s, "title", STRING, description="The user's title, such as \"Vice President\"."),
        _attr(s, "userType", STRING, description="The relationship between the organization and the user."),
        _attr(s, "preferredLanguage", STRING,
              description="The User's preferred written or spoken language (RFC 7231 Accept-Language)."),
        _attr(s, "locale", STRING, description="The User's default location (language tag, e.g. en-US)."),
        _attr(s, "timezone", STRING, description="The User's time zone in IANA format, e.g. Europe/Paris."),
        _attr(s, "active", BOOLEAN,
              description="The User's administrative status; false suspends the member and keeps roles and "
                          "groups."),
        _attr(s, "password", STRING, mutability=WRITE_ONLY, returned=RETURNED_NEVER,
              description="The User's cleartext password; accepted and never stored nor returned."),
        _attr(s, "emails", COMPLEX, multi_valued=True, description="Email addresses for the user.",
              subs=_multi_subs("email address", types=("work", "home", "other"))),
        _attr(s, "phoneNumbers", COMPLEX, multi_valued=True, description="Phone numbers for the User.",
              subs=_multi_subs("phone number", types=("work", "home", "mobile", "fax", "pager", "other"))),
        _attr(s, "ims", COMPLEX, multi_valued=True, description="Instant messaging addresses for the User.",
              subs=_multi_subs("instant messaging address",
                               types=("aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"))),
        _attr(s, "photos", COMPLEX, multi_valued=True, description="URLs of images of the User.",
              subs=_multi_subs("photo", value_type=REFERENCE, types=("photo", "thumbnail"),
                               value_kwargs={"reference_types": ("external",)})),
        _attr(s, "addresses", COMPLEX, multi_valued=True, description="Physical mailing addresses.",
              subs=address_subs),
        _attr(s, "groups", COMPLEX, multi_valued=True, mutability=READ_ONLY, subs=group_subs,
              description="The groups the user belongs to; read-only, derived from group membership."),
        _attr(s, "entitlements", COMPLEX, multi_valued=True, description="Entitlements the User has.",
              subs=_multi_subs("entitlement")),
        # A direct role is a (role, environment) pair, one per environment: no display nor primary is
        # stored, so none is described. A workspace's token sees its role names and environments as
        # canonicalValues (scim.discovery.workspace_canonical_values).
        _attr(s, "roles", COMPLEX, multi_valued=True,
              description="The member's direct roles, one per environment: value is the role name, type the "
                          "environment.",
              subs=(
                  _sub("value", STRING, "The role name: a role of the workspace, or NoAccess to remove the "
                                        "direct role of that environment."),
                  _sub("type", STRING, "The environment the role applies to: one of the workspace's enabled "
                                       "environments."),
              )),
        _attr(s, "x509Certificates", COMPLEX, multi_valued=True,
              description="X.509 certificates issued to the User.",
              subs=_multi_subs("certificate", value_type=BINARY, value_kwargs={"case_exact": True})),
    ]


def _enterprise_attributes():
    """Return the Enterprise User extension attributes (RFC 7643 §4.3, §8.7.1)."""
    s = ENTERPRISE_USER_SCHEMA
    return [
        _attr(s, "employeeNumber", STRING, description="Numeric or alphanumeric identifier assigned to a "
                                                       "person by the organization."),
        _attr(s, "costCenter", STRING, description="Identifies the name of a cost center."),
        _attr(s, "organization", STRING, description="Identifies the name of an organization."),
        _attr(s, "division", STRING, description="Identifies the name of a division."),
        _attr(s, "department", STRING, description="Identifies the name of a department."),
        _attr(s, "manager", COMPLEX, description="The User's manager.", subs=(
            _sub("value", STRING, "The id of the SCIM resource representing the User's manager."),
            _sub("$ref", REFERENCE, "The URI of the SCIM resource representing the User's manager.",
                 reference_types=("User",)),
            # RFC 7643 §7 returned "request": computed from the manager, sent only when asked for with
            # attributes=...manager.displayName, so a client gets back exactly the {value, $ref} it wrote.
            _sub("displayName", STRING, "The displayName of the User's manager.", mutability=READ_ONLY,
                 returned=RETURNED_REQUEST),
        )),
    ]


def _group_attributes():
    """Return the core Group schema attributes (RFC 7643 §4.2, §8.7.1)."""
    s = GROUP_SCHEMA
    return [
        # RFC 7643 §4.2 calls displayName REQUIRED; Roster also keeps it unique per workspace (Entra's rule).
        _attr(s, "displayName", STRING, required=True, uniqueness=UNIQUENESS_SERVER,
              description="A human-readable name for the Group, unique per workspace (case-insensitive)."),
        _attr(s, "members", COMPLEX, multi_valued=True, description="A list of members of the Group.", subs=(
            _sub("value", STRING, "Identifier of the member of this Group.", case_exact=True,
                 mutability=IMMUTABLE),
            _sub("$ref", REFERENCE, "The URI of the member resource.", case_exact=True, mutability=IMMUTABLE,
                 reference_types=("User", "Group")),
            # Computed from the member (its displayName, else userName): returned only when requested
            # (attributes=members.display), like manager.displayName.
            _sub("display", STRING, "A human-readable name of the member.", mutability=READ_ONLY,
                 returned=RETURNED_REQUEST),
            _sub("type", STRING, "The type of the member.", mutability=IMMUTABLE,
                 canonical_values=("User", "Group")),
        )),
    ]


_SCHEMA_INFO = {
    USER_SCHEMA: ("User", "User Account", _user_attributes()),
    ENTERPRISE_USER_SCHEMA: ("EnterpriseUser", "Enterprise User", _enterprise_attributes()),
    GROUP_SCHEMA: ("Group", "Group", _group_attributes()),
}

_RESOURCE_SCHEMAS = {
    USER.lower(): (USER, [USER_SCHEMA, ENTERPRISE_USER_SCHEMA]),
    GROUP.lower(): (GROUP, [GROUP_SCHEMA]),
}

_COMMON = {USER_SCHEMA: _common(USER_SCHEMA), GROUP_SCHEMA: _common(GROUP_SCHEMA)}

_BY_SCHEMA = {
    urn: {a.name.lower(): a for a in attrs + _COMMON.get(urn, [])}
    for urn, (_, _, attrs) in _SCHEMA_INFO.items()
}
_URN_BY_LOWER = {urn.lower(): urn for urn in _SCHEMA_INFO}


def _resource(resource_type):
    """Return (canonical name, schema URNs) of a resource type, or raise ValueError."""
    try:
        return _RESOURCE_SCHEMAS[resource_type.lower()]
    except (KeyError, AttributeError):
        raise ValueError(f"Unknown resource type {resource_type!r}") from None


def resource_type_name(resource_type):
    """Return the canonical name ("User", "Group") of a resource type given in any case."""
    return _resource(resource_type)[0]


def schema_for(resource_type):
    """Return the schema URNs of a resource type: core first, then extensions."""
    return list(_resource(resource_type)[1])


def core_schema(resource_type):
    """Return the core schema URN of a resource type."""
    return _resource(resource_type)[1][0]


def extension_schemas(resource_type):
    """Return the extension schema URNs of a resource type."""
    return list(_resource(resource_type)[1][1:])


def canonical_urn(resource_type, uri):
    """Return the canonical spelling of `uri` if it is a schema of the resource type, else None."""
    urn = _URN_BY_LOWER.get(uri.lower()) if isinstance(uri, str) else None
    return urn if urn in _resource(resource_type)[1] else None


def attributes(resource_type, urn=None):
    """Return the top-level attributes of one schema (default: the core one), common attributes included."""
    urn = canonical_urn(resource_type, urn) if urn else core_schema(resource_type)
    return list(_BY_SCHEMA[urn].values()) if urn else []


def resolve(resource_type, uri, name, sub=None):
    """Return the Attribute for [uri:]name[.sub] of a resource type (case-insensitive), or None.

    With `uri` None the core schema (and the common attributes) is searched first, then the extensions,
    where the name must be unique (RFC 7644 §3.10: the URN may be omitted for unambiguous names).
    """
    if not isinstance(name, str) or not name:
        return None
    urns = _resource(resource_type)[1]
    key = name.lower()
    if uri is not None:
        urn = canonical_urn(resource_type, uri)
        attr = _BY_SCHEMA[urn].get(key) if urn else None
    else:
        attr = _BY_SCHEMA[urns[0]].get(key)
        if attr is None:
            found = [_BY_SCHEMA[u][key] for u in urns[1:] if key in _BY_SCHEMA[u]]
            attr = found[0] if len(found) == 1 else None
    if attr is None or sub is None:
        return attr
    return attr.sub(sub) if attr.is_complex else None


def _attribute_to_scim(attr, canonical_values=None, prefix=""):
    """Render one attribute as RFC 7643 §7 JSON (camelCase keys, no nulls).

    `canonical_values` maps lower-case dotted paths ("roles.value") to values that replace the built-in
    canonicalValues of those attributes.
    """
    path = f"{prefix}{attr.name.lower()}"
    overrides = canonical_values or {}
    body = {
        "name": attr.name,
        "type": attr.type,
        "multiValued": attr.multi_valued,
        "description": attr.description,
        "required": attr.required,
        "caseExact": attr.case_exact,
        "mutability": attr.mutability,
        "returned": attr.returned,
        "uniqueness": attr.uniqueness,
    }
    values = overrides.get(path, attr.canonical_values)
    if values:
        body["canonicalValues"] = list(values)
    if attr.type == REFERENCE:
        body["referenceTypes"] = list(attr.reference_types)
    if attr.is_complex:
        body["subAttributes"] = [_attribute_to_scim(s, overrides, f"{path}.")
                                 for s in attr.sub_attributes.values()]
    return body


def served_schema_urn(uri):
    """Return the canonical spelling of a schema URN served in /Schemas (any case); KeyError if unknown."""
    return _URN_BY_LOWER[uri.lower()]


def known_schemas():
    """Return every schema URN Roster serves in /Schemas."""
    return list(_SCHEMA_INFO)


def to_scim_schema(urn, location=None, canonical_values=None):
    """Return the RFC 7643 §7 representation of a schema, as served by GET /Schemas; KeyError if unknown.

    `location`, when given, is the absolute URL of the schema and adds `meta` (RFC 7644 §4).
    `canonical_values` ({"roles.value": [...]}) advertises the values one workspace accepts.
    """
    canonical = served_schema_urn(urn)
    name, description, attrs = _SCHEMA_INFO[canonical]
    body = {
        "schemas": [SCHEMA_SCHEMA],
        "id": canonical,
        "name": name,
        "description": description,
        "attributes": [_attribute_to_scim(a, canonical_values) for a in attrs],
    }
    if location:
        body["meta"] = {"resourceType": "Schema", "location": location}
    return body


def get_ci(container, key):
    """Return container[key] matching the key case-insensitively (RFC 7643 §2.1), or None.

    `container` is a dict or a request's query args (a MultiDict: its first value).
    """
    if not isinstance(container, dict) or key is None:
        return None
    if key in container:
        return container[key]
    lowered = key.lower()
    for name, value in container.items():
        if isinstance(name, str) and name.lower() == lowered:
            return value
    return None
