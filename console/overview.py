"""A workspace's Overview: the numbers of its stats and the provisioning activity of the last 30 days."""

from flask import redirect, request, url_for

from models.services.audit import ACTIVITY_KINDS, report_activity
from models.services.workspaces import stats

from . import bp
from .chart import activity_charts
from .pages import open_workspace, page, require_page
from .session import signed_in


@bp.route("/console/w/<ws>/")
@signed_in
def overview(ws):
    """Show the workspace's numbers and activity."""
    workspace, access = open_workspace(ws)
    if not access.has("workspace:read") and access.has("audit:read"):
        return redirect(url_for("console.log", ws=workspace.slug))  # an auditor's home is the log
    require_page(access, "workspace:read")
    numbers = stats(workspace)
    charts = activity_charts(report_activity(workspace)) if access.has("audit:read") else None
    return page("console/overview.html", section="overview", numbers=numbers, charts=charts, kinds=list(ACTIVITY_KINDS),
                welcome=request.args.get("welcome") == "1")
