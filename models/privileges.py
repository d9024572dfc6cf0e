"""The privilege catalogue and the system roles built from it."""

CATALOGUE = {
    "workspace": ["read", "update", "delete"],
    "members": ["read", "invite", "update", "remove"],
    "roles": ["read", "manage"],
    "groups": ["read", "manage"],
    "tokens": ["read", "manage"],
    "sso": ["read", "manage", "test"],
    "audit": ["read", "export"],
}

ALL_PRIVILEGES = frozenset(f"{res}:{act}" for res, acts in CATALOGUE.items() for act in acts)
READ_PRIVILEGES = frozenset(p for p in ALL_PRIVILEGES if p.endswith(":read"))

NO_ACCESS = "NoAccess"

# System roles exist in every workspace and cannot be edited or deleted. Member and Readonly hold the same
# catalogue privileges: the catalogue covers administration only, where both read; a Member's extra ("use all
# features, manage own tokens") is personal tokens, which belong to the person, not to a workspace privilege.
SYSTEM_ROLES = {
    "Admin": ("Everything, including members, settings and SSO", ALL_PRIVILEGES),
    "Member": ("Use all features and manage own tokens", READ_PRIVILEGES - {"audit:read"}),
    "Readonly": ("View only", READ_PRIVILEGES - {"audit:read"}),
}


def is_valid(privilege):
    """Tell whether `privilege` ("resource:action") is in the catalogue."""
    return privilege in ALL_PRIVILEGES


def catalogue_listing():
    """Return the catalogue as a list of {resource, actions, privileges}."""
    return [
        {"resource": res, "actions": list(acts), "privileges": [f"{res}:{a}" for a in acts]}
        for res, acts in CATALOGUE.items()
    ]
