"""Service tokens of a workspace: create (the secret is shown once), list, revoke."""

from flask.views import MethodView
from flask_smorest import Blueprint

from models.services import tokens as svc
from web.audit import operation

from .auth import authenticate_request, current_actor, workspace_access
from .schemas import TokenCreatedSchema, TokenCreateSchema, TokenSchema

blp = Blueprint("tokens", __name__, url_prefix="/api/v1/workspaces", description="Service tokens")
blp.before_request(authenticate_request)


@blp.route("/<ws>/tokens")
class Tokens(MethodView):
    @blp.response(200, TokenSchema(many=True))
    def get(self, ws):
        """List the workspace's service tokens (never their secrets)."""
        workspace, _ = workspace_access(ws, "tokens:read")
        return svc.list_workspace_tokens(workspace)

    @blp.arguments(TokenCreateSchema)
    @blp.response(201, TokenCreatedSchema)
    @operation("token.created", "token")
    def post(self, data, ws):
        """Create a service token; the response carries the secret, shown this once."""
        workspace, access = workspace_access(ws, "tokens:manage")
        token, raw = svc.create_service_token(workspace, current_actor(), data["scopes"], data["label"],
                                              data["expires_in_days"], access=access)
        token.token = raw
        return token


@blp.route("/<ws>/tokens/<token_id>", methods=["DELETE"])
@blp.response(204)
@operation("token.revoked", "token", "token_id")
def revoke_token(ws, token_id):
    """Revoke a service token."""
    workspace, _ = workspace_access(ws, "tokens:manage")
    svc.revoke_token(workspace, current_actor(), token_id)
