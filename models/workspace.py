"""Workspaces (the tenant): environments and validated settings."""

from peewee import CharField, DateTimeField, TextField
from peewee import JSONField

from .db import BaseModel, new_id, utcnow

ENVIRONMENTS = ("dev", "test", "prod")
DEFAULT_ENVIRONMENTS = ["dev"]

# The settings catalogue: key -> (python type, default, description). Settings are validated against it;
# unknown keys are refused so a typo never silently does nothing.
SETTINGS = {
    "scim.strict_rfc": (bool, False, "Refuse the known IdP deviations from RFC 7644 instead of tolerating them"),
    "scim.default_idp": (str, "", "IdP name to record when a request does not say who sent it"),
    "scim.rate_limit_per_second": (int, 0, "Lower the request rate of this workspace's tokens (per token; bursts of "
                                            "twice it pass); 0 or a value above the operator's RATE_LIMIT_SCIM "
                                            "uses the operator's"),
    "audit.retention_days": (int, 0, "Prune provisioning events older than this many days (0 keeps all)"),
    "invitations.expiry_hours": (int, 72, "How long an invitation link stays valid"),
}


def default_settings():
    """Return the settings a new workspace starts with."""
    return {key: spec[1] for key, spec in SETTINGS.items()}


class Workspace(BaseModel):
    id = CharField(36, primary_key=True, default=new_id)
    name = CharField(200)
    slug = CharField(64, unique=True)
    logo_url = TextField(null=True)
    settings = JSONField(default=default_settings)
    environments = JSONField(default=lambda: list(DEFAULT_ENVIRONMENTS))
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    def setting(self, key):
        """Return a setting's value, falling back to the catalogue default."""
        return (self.settings or {}).get(key, SETTINGS[key][1])
