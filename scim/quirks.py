"""Names of the non-RFC interpretations Roster applies for real IdPs, and the recorder that tracks them.

Each name is a short stable string "<idp>.<what>" shown in the provisioning log (docs/scim.md, "Strict mode and the quirk trail").
With strict RFC behaviour (a per-workspace setting) every one of them is refused with a 400 instead.
"""

from .errors import InvalidValueError

# Entra sends "Replace", "Add", "Remove" (idp_fixtures/entra/scim/15-disable.json).
ENTRA_OP_CASE = "entra.op_case"
# Entra's default (no aadOptscim062020) sends {"path": "active", "value": "False"} (§1 quirk 2).
ENTRA_BOOLEAN_AS_STRING = "entra.boolean_as_string"
# Entra with aadOptscim062020: no-path value keyed "name.givenName" or "urn:...:User:employeeNumber"
# (§1 quirk 4).
ENTRA_NO_PATH_DOTTED_KEYS = "entra.no_path_dotted_keys"
# Entra replaces emails[type eq "work"].value on a user without a work email: create the entry (§1).
ENTRA_VALUE_PATH_CREATES = "entra.value_path_creates"
# Entra sends the manager as a bare id string, or the older [{"$ref": .., "value": ..}] (§1 lifecycle 6).
ENTRA_MANAGER_BARE_STRING = "entra.manager_bare_string"
# Entra removes members with {"op": "Remove", "path": "members", "value": [{"value": id}]} (§1 quirk 3).
ENTRA_MEMBERS_REMOVE_BY_VALUE = "entra.members_remove_by_value"
# The same value-list selector on another multi-valued attribute, e.g. {"path": "roles", "value": [...]}.
ENTRA_REMOVE_BY_VALUE = "entra.remove_by_value"
# Entra matches users on emails[type eq "work"].value eq "x", outside the RFC 7644 filter ABNF (§1 quirk 5);
# read as emails[type eq "work" and value eq "x"]. A filter, so strict mode refuses it with invalidFilter.
ENTRA_FILTER_VALUE_PATH_ATTRIBUTE = "entra.filter_value_path_attribute"
# Okta renames a group with a no-path replace whose value carries the read-only "id" (§2 lifecycle 7).
OKTA_NO_PATH_ID_IN_VALUE = "okta.no_path_id_in_value"

ALL = (
    ENTRA_OP_CASE,
    ENTRA_BOOLEAN_AS_STRING,
    ENTRA_NO_PATH_DOTTED_KEYS,
    ENTRA_VALUE_PATH_CREATES,
    ENTRA_MANAGER_BARE_STRING,
    ENTRA_MEMBERS_REMOVE_BY_VALUE,
    ENTRA_REMOVE_BY_VALUE,
    ENTRA_FILTER_VALUE_PATH_ATTRIBUTE,
    OKTA_NO_PATH_ID_IN_VALUE,
)


class QuirkRecorder:
    """Collect the quirks applied to one request, or refuse them all in strict mode."""

    def __init__(self, strict=False):
        self.strict = strict
        self.applied = []

    def tolerate(self, name, detail, error=InvalidValueError):
        """Record quirk `name`; in strict mode raise `error` with `detail` instead."""
        if self.strict:
            raise error(f"{detail} (not allowed in strict RFC mode: {name})")
        if name not in self.applied:
            self.applied.append(name)
