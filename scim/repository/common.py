"""What SCIM's write paths share: the request options, the mutation that answers service refusals as SCIM
errors, If-Match, document diffs and the record of attempts that changed nothing."""

import contextlib

from models.directory import SCIM_SOURCE_PREFIX
from models.services import DuplicateError, InvalidError, mutation

from .. import mapping
from ..errors import InvalidValueError, PreconditionFailedError, ScimError, UniquenessError


class Options:
    """What a write needs besides its body: strictness, If-Match, the public URL.

    `quirks` collects the names of the IdP quirks the request applied (the endpoints pass `g.scim_quirks`).
    `render(row)`, when given, builds the answer inside the write's transaction (`respond`), so nothing that
    reads the database is left for after the commit: a write that committed is never answered with an error.
    """

    def __init__(self, base_url, strict=False, if_match=None, quirks=None, render=None):
        self.base_url = base_url
        self.strict = strict
        self.if_match = if_match
        self.quirks = quirks if quirks is not None else []
        self.render = render
        self.response = None

    def respond(self, row):
        """Render the written `row` for the answer (the last step inside the transaction)."""
        if self.render is not None:
            self.response = self.render(row)

    def note(self, quirks):
        """Add quirk names to those the request applied."""
        self.quirks.extend(q for q in quirks if q not in self.quirks)


def scim_source(actor):
    """Return the `source` of what this SCIM request creates: "scim:<idp>" (the IdP then owns it)."""
    return f"{SCIM_SOURCE_PREFIX}{actor.idp or 'unknown'}"


@contextlib.contextmanager
def scim_mutation(workspace, actor, operation):
    """`mutation()`, turning the services' refusals into SCIM errors inside it, so the provisioning log records
    their scimType too: a taken unique value is 409 uniqueness, a refused value 400 invalidValue."""
    with mutation(workspace, actor, operation) as change:
        try:
            yield change
        except ScimError:
            raise
        except DuplicateError as error:
            raise UniquenessError(error.message) from None
        except InvalidError as error:
            raise InvalidValueError(error.message) from None


def check_if_match(row, if_match):
    """Raise 412 unless If-Match names the current version or is `*` (RFC 7644 §3.14, RFC 7232 §3.1)."""
    if if_match and not mapping.etag_matches(if_match, row.version):
        raise PreconditionFailedError(f"The resource is at version {mapping.etag(row.version)}, not {if_match}")


def diff(before, after):
    """Return (before, after) restricted to the top-level keys that differ."""
    keys = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    return {k: before[k] for k in keys if k in before}, {k: after[k] for k in keys if k in after}


def record_attempt(change, operation, target_type, target_id, target_name, quirks):
    """Tag every event of a PUT or PATCH with its quirks; record one event when it changed nothing.

    Every attempted mutation is logged: Okta re-sends a pushed group's name with its id on every membership
    update, which changes nothing but still applied a quirk the provisioning log must show.
    """
    for event in change.events:
        event.quirks = event.quirks or list(quirks)
    if not change.events:
        change.record(operation, target_type, target_id, target_name, before={}, after={}, quirks=quirks)
