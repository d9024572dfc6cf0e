"""The SCIM 2.0 blueprint at /scim/v2 and what every view shares: auth, body parsing, options, errors.

Views only glue: parse the request, call `scim.repository`, render with `scim.mapping`, answer with
`scim.responses`. Unknown query parameters are ignored on every path (Entra's `?aadOptscim062020`).
"""

from flask import Blueprint, current_app, g, request

from models.errors import ServiceError
from web import inputs

from .. import auth
from ..constants import BULK_MAX_PAYLOAD_SIZE, MAX_RESULTS
from ..errors import InvalidSyntaxError, PayloadTooLargeError
from ..mapping import Projection, etag, etag_matches
from ..repository import Options
from ..responses import not_modified, scim_error_response
from ..schema import get_ci

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")

JSON_TYPES = ("application/scim+json", "application/json")
# Discovery is public (RFC 7644 §4 leaves it to the provider): IdPs read it while being configured.
PUBLIC_ENDPOINTS = ("scim.service_provider_config", "scim.list_resource_types", "scim.get_resource_type",
                    "scim.list_schemas", "scim.get_schema")
PERSONAL_ENDPOINTS = ("scim.get_me", "scim.me_not_implemented")


@bp.before_request
def _authenticate():
    # The IdP quirks this request applies, for the provisioning log; reads record no event, so a hook
    # (e.g. after_request) picks them up here. Writes also record them on their events.
    g.scim_quirks = []
    if request.content_length is not None and request.content_length > BULK_MAX_PAYLOAD_SIZE:
        raise PayloadTooLargeError(f"The request body exceeds maxPayloadSize ({BULK_MAX_PAYLOAD_SIZE} bytes)")
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    if request.endpoint in PERSONAL_ENDPOINTS:
        auth.require_personal_token()
        return
    auth.require_service_token()


@bp.errorhandler(ServiceError)
def _scim_error(error):
    return scim_error_response(error)


def base_url():
    """Return the public base URL resources are located under."""
    return current_app.config["PUBLIC_URL"]


def max_results():
    """Return the largest page size, advertised in /ServiceProviderConfig and enforced."""
    return min(int(current_app.config.get("SCIM_MAX_RESULTS") or MAX_RESULTS), MAX_RESULTS)


def json_body():
    """Return the parsed JSON body; 400 invalidSyntax for another media type or bad JSON (RFC 7644 §3.8)."""
    mimetype = (request.mimetype or "").lower()
    if mimetype and mimetype not in JSON_TYPES:
        raise InvalidSyntaxError(f"Send the body as application/scim+json or application/json, "
                                 f"not {mimetype}")
    raw = request.get_data(cache=True)
    if len(raw) > BULK_MAX_PAYLOAD_SIZE:
        raise PayloadTooLargeError(f"The request body exceeds maxPayloadSize ({BULK_MAX_PAYLOAD_SIZE} bytes)")
    if not raw.strip():
        raise InvalidSyntaxError("The request body is empty")
    try:
        return inputs.json_body()
    except ValueError as error:
        raise InvalidSyntaxError(f"The request body is not valid JSON: {error}") from None


def strict():
    """Tell whether the workspace refuses IdP deviations (setting `scim.strict_rfc`)."""
    return bool(g.workspace.setting("scim.strict_rfc"))


def options(if_match=None, render=None):
    """Return the repository Options of this request; the quirks it applies land in `g.scim_quirks`, and
    `render(row)` builds the answer before the write commits."""
    return Options(base_url(), strict=strict(),
                   if_match=if_match if if_match is not None else request.headers.get("If-Match"),
                   quirks=g.scim_quirks, render=render)


def note_quirks(names):
    """Add quirk names to those this request applied (`g.scim_quirks`)."""
    g.scim_quirks.extend(name for name in names if name not in g.scim_quirks)


def projection(resource_type, source=None):
    """Return the attributes/excludedAttributes projection of the request (query or .search body)."""
    source = request.args if source is None else source
    return Projection(resource_type, get_ci(source, "attributes"), get_ci(source, "excludedAttributes"))


def not_modified_response(row):
    """Return 304 when If-None-Match names the current version (RFC 7644 §3.14), else None."""
    header = request.headers.get("If-None-Match")
    if header and etag_matches(header, row.version):
        return not_modified(etag(row.version))
    return None


def has_projection():
    """Tell whether the request names attributes or excludedAttributes."""
    return any(get_ci(request.args, key) is not None for key in ("attributes", "excludedAttributes"))


from . import bulk, discovery, groups, me, search, users  # noqa: E402,F401
