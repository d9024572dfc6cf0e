"""The provisioning log for people: the filters of `/events` with cursor paging, a member's or group's history,
the export as a streamed download, "Verify chain" with its verdict, and the three reports.

A person whose roles grant only audit:read lands here (the Overview sends them on) and sees nothing else."""

import datetime
import math

from flask import Response, request, stream_with_context

from models.services import InvalidError, NotFoundError
from models.services import audit

from . import bp
from .members import page_number
from .pages import open_workspace, page
from .session import signed_in

PAGE_SIZE = 50
OUTCOMES = ("success", "failure")
TARGET_TYPES = ("user", "group", "role", "invitation", "token", "workspace", "sso_connection")
# What the operation filter offers: each family (user.*, group.*, …) and then every operation.
OPERATION_CHOICES = sorted({op.split(".")[0] + ".*" for op in audit.OPERATIONS}) + sorted(audit.OPERATIONS)
IDPS = ("entra", "okta", "onelogin", "jumpcloud", "google", "pingone", "rippling")
REPORT_TITLES = {"daily-operations": "Operations per day", "deprovisioning": "Deprovisioning times",
                 "access": "Who has access"}


def _day(name, errors, end=False):
    """Read a YYYY-MM-DD query argument as a UTC datetime (the next midnight when `end`), noting a bad value."""
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    try:
        day = datetime.date.fromisoformat(raw[:10])
        return datetime.datetime.combine(day + datetime.timedelta(days=1) if end else day, datetime.time())
    except (ValueError, OverflowError):  # not a date, or the day after 9999-12-31
        errors[name] = ["Use a date like 2026-01-31."]
        return None


def _range(errors):
    """Return (since, until) from the `from` and `to` days (both inclusive), refusing an empty range."""
    since, until = _day("from", errors), _day("to", errors, end=True)
    if since is not None and until is not None and until <= since:
        errors["to"] = ["The end date is before the start date."]
    return since, until


def _form():
    """Return the filter form's values as sent, clipped, for refilling it and for the paging links."""
    keys = ("operation", "target_type", "actor", "outcome", "idp", "from", "to", "subject")
    return {k: request.args.get(k, "").strip()[:320] for k in keys if request.args.get(k, "").strip()}


def _filters(form, errors):
    since, until = _range(errors)
    outcome = form.get("outcome")
    if outcome and outcome not in OUTCOMES:
        errors["outcome"] = ["Choose success or failure."]
        outcome = None
    return {"operation": form.get("operation"), "target_type": form.get("target_type"), "actor": form.get("actor"),
            "outcome": outcome, "idp": form.get("idp"), "subject": (form.get("subject") or "")[:64] or None,
            "since": since, "until": until}


def _subject_label(subject, events):
    """Name the member or group a history is about, from its newest event that names it."""
    for event in events:
        if event["target_id"] == subject and event["target_name"]:
            return event["target_name"]
    return subject


@bp.route("/console/w/<ws>/log")
@signed_in
def log(ws):
    """List events, newest first, filtered; follow the cursor for older ones."""
    workspace, access = open_workspace(ws, "audit:read")
    form, errors = _form(), {}
    filters = _filters(form, errors)
    cursor = (request.args.get("cursor") or "")[:200] or None
    events, next_cursor, status = [], None, 200
    if not errors:
        try:
            events, next_cursor = audit.query_events(workspace, cursor=cursor, limit=PAGE_SIZE, order="desc",
                                                     **filters)
        except InvalidError as error:
            errors = {"cursor": [error.message]}
    if errors:
        status = 400
    subject = filters["subject"]
    return page("console/log.html", status, section="log", events=events, next_cursor=next_cursor,
                form=form, errors=errors, cursor=cursor, operations=OPERATION_CHOICES, outcomes=OUTCOMES,
                target_types=TARGET_TYPES, idps=IDPS,
                subject_label=_subject_label(subject, events) if subject else None,
                can_export=access.has("audit:export"))


@bp.route("/console/w/<ws>/log/events/<event_id>")
@signed_in
def log_event(ws, event_id):
    """Show one event with its before and after, its quirks and its place in the chain."""
    workspace, _ = open_workspace(ws, "audit:read")
    return page("console/log_event.html", section="log", event=audit.get_event(workspace, event_id[:64]))


@bp.route("/console/w/<ws>/log/export")
@signed_in
def log_export(ws):
    """Download the log (or a date range of it) as JSON Lines or CSV, streamed in batches."""
    workspace, _ = open_workspace(ws, "audit:export")
    errors = {}
    since, until = _range(errors)
    fmt = request.args.get("format", "csv")
    if fmt not in audit.EXPORT_FORMATS:
        errors["format"] = ["Choose CSV or JSON Lines."]
    if errors:
        raise InvalidError("; ".join(m for ms in errors.values() for m in ms), errors=errors)
    chunks = audit.export(workspace, fmt, since=since, until=until)
    filename = f"{workspace.slug}-events.{fmt}"
    return Response(stream_with_context(chunks), mimetype=audit.EXPORT_FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/console/w/<ws>/log/verify")
@signed_in
def log_verify(ws):
    """Verify the hash chain and show the verdict; when it is broken, the first bad event and what is wrong."""
    workspace, _ = open_workspace(ws, "audit:read")
    if request.args.get("run") != "1":  # reading the whole chain is work: only when asked
        return page("console/log_verify.html", section="log", verdict=None, bad=None, bad_event=None)
    verdict = audit.verify(workspace)
    bad = verdict.get("first_bad")
    event = audit.event_at(workspace, bad["seq"]) if bad else None
    return page("console/log_verify.html", section="log", verdict=verdict, bad=bad, bad_event=event)


@bp.route("/console/w/<ws>/log/reports/<name>")
@signed_in
def log_report(ws, name):
    """Run one of the three reports over a date range (access: for one environment)."""
    workspace, _ = open_workspace(ws, "audit:read")
    if name not in audit.REPORTS:
        raise NotFoundError(f"There is no report {name[:40]}; the reports are {', '.join(REPORT_TITLES.values())}.")
    form, errors = _form(), {}
    since, until = _range(errors)
    default = "prod" if "prod" in workspace.environments else workspace.environments[0]
    environment = request.args.get("environment") or default
    if environment not in workspace.environments:
        errors["environment"] = [f"Choose one of {', '.join(workspace.environments)}."]
    report = None
    if not errors:
        report = (audit.report_access(workspace, environment, page=page_number(), page_size=PAGE_SIZE)
                  if name == "access" else audit.REPORTS[name](workspace, since=since, until=until))
    pages = max(1, math.ceil(report["total"] / PAGE_SIZE)) if report and "total" in report else 1
    return page("console/log_report.html", 400 if errors else 200, section="log", name=name,
                titles=REPORT_TITLES, report=report, form=form, errors=errors, environment=environment,
                page_number=page_number(), pages=pages, page_size=PAGE_SIZE)
