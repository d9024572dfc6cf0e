"""SSO connections: the admin API (connections, test runs) and the public side (metadata, ACS, callback)."""

from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, render_template, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from models.services import ServiceError
from models.sso import CONNECTION_STATUSES, PROVIDERS
from sso import service as svc
from web.audit import operation
from web.limits import SSO_TESTS, limited
from web.metrics import sso_test_finished

from ..auth import authenticate_request, current_actor, public_actor, workspace_access
from ..schemas import UtcDateTime

blp = Blueprint("sso", __name__, url_prefix="/api/v1/workspaces",
                description="SSO connections and test sign-ins")
blp.before_request(authenticate_request)
public_bp = FlaskBlueprint("sso_public", __name__, url_prefix="/sso", template_folder="../templates")

RESULT_HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
}


# A name of only spaces is refused here like an empty one (422), not later by the service (400).
NAME = validate.And(validate.Length(min=1, max=200),
                    validate.Predicate("strip", error="Must not be blank."))


class ConnectionCreateSchema(Schema):
    provider = fields.String(required=True, validate=validate.OneOf(PROVIDERS))
    name = fields.String(required=True, validate=NAME)
    domains = fields.List(fields.String(validate=validate.Length(max=253)), required=True,
                          validate=validate.Length(min=1, max=50))
    config = fields.Dict(required=True, metadata={
        "description": 'SAML: {"metadata_xml"} or {"metadata_url"}; '
                       'OIDC: {"issuer", "client_id", "client_secret"} (the secret is write-only)'})
    status = fields.String(validate=validate.OneOf(("draft", "inactive")))


class ConnectionUpdateSchema(Schema):
    provider = fields.String(validate=validate.OneOf(PROVIDERS))
    name = fields.String(validate=NAME)
    domains = fields.List(fields.String(validate=validate.Length(max=253)),
                          validate=validate.Length(min=1, max=50))
    config = fields.Dict()
    status = fields.String(validate=validate.OneOf(CONNECTION_STATUSES), metadata={
        "description": "active needs a test of the current configuration with no failed check and every "
                       "warning acknowledged (acknowledge_warnings)"})
    acknowledge_warnings = fields.List(fields.String(validate=validate.Length(max=100)),
                                       validate=validate.Length(max=100), metadata={
        "description": "With status active: the ids of the last test's warning checks the admin accepts"})


class ConnectionSchema(Schema):
    id = fields.String()
    provider = fields.String()
    name = fields.String()
    domains = fields.List(fields.String())
    status = fields.String()
    config = fields.Dict()
    service_provider = fields.Dict(metadata={"description": "What to enter at the IdP"})
    last_test = fields.Dict(allow_none=True)
    last_test_current = fields.Boolean(metadata={"description": "The last test passed with this config"})
    trust = fields.Dict(allow_none=True, metadata={
        "description": "SAML: pinned certificate fingerprints, those waiting for approval (message: "
                       "'certificate changed: approve the new fingerprint') and former ones still accepted"})
    created_at = UtcDateTime()
    updated_at = UtcDateTime()


class CheckSchema(Schema):
    id = fields.String()
    stage = fields.String()
    status = fields.String()
    message = fields.String()
    fix = fields.String(allow_none=True)
    detail = fields.Raw(allow_none=True)


class TestRunSchema(Schema):
    id = fields.String()
    connection_id = fields.String()
    provider = fields.String()
    status = fields.String()
    summary = fields.String()
    login_url = fields.String(allow_none=True, metadata={
        "description": "Where to send the browser: only in the answer that starts the run (it is never stored)"})
    checks = fields.List(fields.Nested(CheckSchema))
    profile = fields.Dict(allow_none=True, metadata={
        "description": "The IdP's profile: only for whoever started the run and sso:manage holders"})
    started_by = fields.String()
    created_at = UtcDateTime()
    expires_at = UtcDateTime()
    finished_at = UtcDateTime(allow_none=True)


def site():
    """Return the public URL and secret key the SSO service works with."""
    return svc.Site.from_config(current_app.config)


def connection_out(connection):
    """Return a connection as the API shows it (never the client secret)."""
    return {"id": connection.id, "provider": connection.provider, "name": connection.name,
            "domains": connection.domains, "status": connection.status,
            "config": svc.public_config(connection),
            "service_provider": site().service_provider(connection), "last_test": connection.last_test,
            "last_test_current": svc.test_is_current(connection), "trust": svc.trust_state(connection),
            "created_at": connection.created_at,
            "updated_at": connection.updated_at}


def run_out(run, private):
    """Return a test run as the API shows it: the login URL only in the answer that started it, the profile
    only when `private` (whoever started the run, sso:manage holders)."""
    return {"id": run.id, "connection_id": run.connection_id, "provider": run.provider, "status": run.status,
            "summary": run.summary, "login_url": getattr(run, "issued_login_url", None),
            "checks": run.checks, "profile": run.profile if private else None, "started_by": run.started_by,
            "created_at": run.created_at,
            "expires_at": run.expires_at, "finished_at": run.finished_at}


@blp.route("/<ws>/sso/connections")
class Connections(MethodView):
    @blp.response(200, ConnectionSchema(many=True))
    def get(self, ws):
        """List the workspace's SSO connections."""
        workspace, _ = workspace_access(ws, "sso:read")
        return [connection_out(c) for c in svc.list_connections(workspace)]

    @blp.arguments(ConnectionCreateSchema)
    @blp.response(201, ConnectionSchema)
    @operation("sso.connection.changed", "sso_connection")
    def post(self, data, ws):
        """Create an SSO connection (draft); SAML metadata given by URL is fetched now."""
        workspace, _ = workspace_access(ws, "sso:manage")
        return connection_out(svc.create_connection(workspace, current_actor(), data, site()))


@blp.route("/<ws>/sso/connections/<connection_id>")
class ConnectionItem(MethodView):
    @blp.response(200, ConnectionSchema)
    def get(self, ws, connection_id):
        """Read an SSO connection."""
        workspace, _ = workspace_access(ws, "sso:read")
        return connection_out(svc.get_connection(workspace, connection_id))

    @blp.arguments(ConnectionUpdateSchema)
    @blp.response(200, ConnectionSchema)
    @operation("sso.connection.changed", "sso_connection", "connection_id")
    def patch(self, data, ws, connection_id):
        """Change a connection; a new config or domains make it draft again until a test passes."""
        workspace, _ = workspace_access(ws, "sso:manage")
        return connection_out(svc.update_connection(workspace, current_actor(), connection_id, data, site()))

    @blp.response(204)
    @operation("sso.connection.changed", "sso_connection", "connection_id")
    def delete(self, ws, connection_id):
        """Delete a connection with its test runs and release its domains."""
        workspace, _ = workspace_access(ws, "sso:manage")
        svc.delete_connection(workspace, current_actor(), connection_id)


class ApproveSchema(Schema):
    sha256 = fields.List(fields.String(validate=validate.Length(max=100)), required=True,
                         validate=validate.Length(min=1, max=10), metadata={
        "description": "Every pending fingerprint (trust.pending), as shown: the admin approves by naming them"})
    rotation_days = fields.Integer(load_default=7, validate=validate.Range(min=0, max=30), metadata={
        "description": "How many days the former certificates stay accepted (0: from now on only the new)"})


@blp.route("/<ws>/sso/connections/<connection_id>/refresh", methods=["POST"])
@blp.response(200, ConnectionSchema)
@operation("sso.certificate.changed", "sso_connection", "connection_id")
def refresh(ws, connection_id):
    """Fetch a metadata_url connection's metadata again; a changed certificate waits for approval."""
    workspace, _ = workspace_access(ws, "sso:manage")
    connection, _ = svc.refresh_connection(workspace, current_actor(), connection_id, site())
    return connection_out(connection)


@blp.route("/<ws>/sso/connections/<connection_id>/certificates/approve", methods=["POST"])
@blp.arguments(ApproveSchema)
@blp.response(200, ConnectionSchema)
@operation("sso.certificate.approved", "sso_connection", "connection_id")
def approve_certificates(data, ws, connection_id):
    """Approve the IdP's changed signing certificate; the former one stays accepted for rotation_days."""
    workspace, _ = workspace_access(ws, "sso:manage")
    return connection_out(svc.approve_certificates(workspace, current_actor(), connection_id, data["sha256"],
                                                   data["rotation_days"]))


@blp.route("/<ws>/sso/connections/<connection_id>/tests", methods=["POST"])
@blp.response(201, TestRunSchema)
@operation("sso.connection.changed", "sso_connection", "connection_id")
@limited("sso_test", SSO_TESTS)
def start_test(ws, connection_id):
    """Start a test sign-in: static checks now, then send the browser to login_url."""
    workspace, _ = workspace_access(ws, "sso:test")
    return run_out(svc.start_test(workspace, current_actor(), connection_id, site()), private=True)


@blp.route("/<ws>/sso/connections/<connection_id>/tests/<run_id>", methods=["GET"])
@blp.response(200, TestRunSchema)
def get_test(ws, connection_id, run_id):
    """Read a test run: status, summary and every check; the IdP profile for whoever started it and
    sso:manage holders."""
    workspace, access = workspace_access(ws, "sso:read")
    connection = svc.get_connection(workspace, connection_id)
    run = svc.get_test_run(workspace, connection, run_id)
    return run_out(run, private=svc.may_see_private(run, current_actor(), access))


def _page(status_code, run=None, connection=None, error=None):
    body = render_template("sso/result.html", run=run, connection=connection, error=error,
                           status_label=STATUS_LABELS.get(run.status if run else "failed"))
    return Response(body, status=status_code, mimetype="text/html", headers=RESULT_HEADERS)


STATUS_LABELS = {
    "passed": "Passed",
    "passed_with_warnings": "Passed with warnings",
    "failed": "Failed",
    "expired": "Expired",
    "pending_login": "Waiting for the sign-in",
}


def _public_actor(connection):
    return public_actor(idp=f"sso:{connection.name}"[:200])


@public_bp.route("/<connection_id>/metadata", methods=["GET"])
def sp_metadata(connection_id):
    """Serve the SP metadata of a SAML connection (entityID, ACS URL, NameID format)."""
    try:
        connection = svc.find_public_connection(connection_id)
    except ServiceError as error:
        return Response(error.message, status=error.status, mimetype="text/plain")
    if connection.provider != "saml":
        return Response("This connection uses OpenID Connect: it has no SAML metadata", status=404,
                        mimetype="text/plain")
    return Response(site().sp_metadata(connection), mimetype="application/samlmetadata+xml",
                    headers={"Content-Disposition": f'inline; filename="roster-sp-{connection.id}.xml"'})


@public_bp.route("/<connection_id>/acs", methods=["POST"])
def acs(connection_id):
    """Receive the IdP's SAML Response for a test run, verify it, store and show the result."""
    connection = None
    try:
        connection = svc.find_public_connection(connection_id)
        if connection.provider != "saml":
            return _page(404, connection=connection, error="This connection uses OpenID Connect, not SAML")
        saml_response = request.form.get("SAMLResponse")
        if not saml_response:
            return _page(400, connection=connection, error="The request carries no SAMLResponse")
        run = svc.find_pending_run(connection, request.form.get("RelayState"))
        if run.status != "pending_login":
            return _finished_page(run, connection)
        run = svc.finish_saml_test(_public_actor(connection), connection, run, saml_response, site())
        sso_test_finished("saml", run.status)
        return _page(200, run=run, connection=connection)
    except ServiceError as error:
        sso_test_finished("saml", "refused")
        return _page(error.status, connection=connection, error=error.message)


@public_bp.route("/<connection_id>/callback", methods=["GET"])
def oidc_callback(connection_id):
    """Receive the OIDC redirect of a test run: exchange the code, verify the ID token, show the result."""
    connection = None
    try:
        connection = svc.find_public_connection(connection_id)
        if connection.provider != "oidc":
            return _page(404, connection=connection, error="This connection uses SAML, not OpenID Connect")
        run = svc.find_pending_run(connection, request.args.get("state"))
        if run.status != "pending_login":
            return _finished_page(run, connection)
        run = svc.finish_oidc_test(_public_actor(connection), connection, run, request.args, site())
        sso_test_finished("oidc", run.status)
        return _page(200, run=run, connection=connection)
    except ServiceError as error:
        sso_test_finished("oidc", "refused")
        return _page(error.status, connection=connection, error=error.message)


def _finished_page(run, connection):
    if run.status == "expired":
        return _page(410, run=run, connection=connection,
                     error="This test run expired before the sign-in came back; start a new test")
    return _page(409, run=run, connection=connection,
                 error="This test run has already received its answer; an answer is accepted once, so this "
                       "second delivery is refused as a replay. The admin API shows the stored result.")


class DomainClaimSchema(Schema):
    domain = fields.String(required=True, validate=validate.Length(min=1, max=253))


class DomainSchema(Schema):
    domain = fields.String()
    status = fields.String(metadata={"description": "claimed, verified or lapsed (unverified for 7 days)"})
    txt_record = fields.String(metadata={"description": "The DNS TXT record to publish at record_name"})
    record_name = fields.String()
    created_at = UtcDateTime()
    expires_at = UtcDateTime(allow_none=True, metadata={"description": "When an unverified claim lapses"})
    verified_at = UtcDateTime(allow_none=True)
    checked_at = UtcDateTime(allow_none=True)
    check_error = fields.String(allow_none=True, metadata={"description": "Why the last check did not verify"})


@blp.route("/<ws>/sso/domains")
class Domains(MethodView):
    @blp.response(200, DomainSchema(many=True))
    def get(self, ws):
        """List the workspace's domain claims with their verification state and TXT record."""
        workspace, _ = workspace_access(ws, "sso:read")
        return [svc.describe_claim(c) for c in svc.list_domains(workspace)]

    @blp.arguments(DomainClaimSchema)
    @blp.response(201, DomainSchema)
    @operation("sso.domain.changed", "sso_domain")
    def post(self, data, ws):
        """Claim a domain (or restart a lapsed claim): publish its TXT record, then verify."""
        workspace, _ = workspace_access(ws, "sso:manage")
        return svc.describe_claim(svc.claim_domain(workspace, current_actor(), data["domain"]))


@blp.route("/<ws>/sso/domains/<domain>", methods=["DELETE"])
@blp.response(204)
@operation("sso.domain.changed", "sso_domain", "domain")
def release_domain(ws, domain):
    """Drop a domain claim no connection of the workspace names."""
    workspace, _ = workspace_access(ws, "sso:manage")
    svc.release_domain(workspace, current_actor(), domain)


@blp.route("/<ws>/sso/domains/<domain>/verify", methods=["POST"])
@blp.response(200, DomainSchema)
@operation("sso.domain.changed", "sso_domain", "domain")
def verify_domain(ws, domain):
    """Check the domain's DNS TXT record now; verified when it holds roster-verification=<token>."""
    workspace, _ = workspace_access(ws, "sso:manage")
    return svc.describe_claim(svc.verify_domain(workspace, current_actor(), domain, site().dns_nameservers))
