"""Reports over the log: operations per day, deprovisioning times, who has access to an environment and why."""

import datetime

from peewee import Case, fn

from ...db import utcnow

from ...directory import Group, GroupGrant, GroupMember, Member, MemberRole, Role
from ...events import ProvisioningDaily, ProvisioningEvent, ProvisioningEventRef, format_time
from .chain import mentions
from .query import filtered

E = ProvisioningEvent
D = ProvisioningDaily
DEPROVISION_OPS = ("user.deactivated", "user.deleted", "member.removed")


def _whole_days(since, until):
    """Tell whether a range starts and ends at UTC midnights (or is open), so the per-day counts answer it."""
    return all(t is None or t.time() == datetime.time() for t in (since, until))


def report_daily_operations(workspace, since=None, until=None):
    """Count events per UTC day and operation, split by outcome (from the per-day counts for whole days)."""
    if _whole_days(since, until):
        query = (D.select(D.day, D.operation, fn.SUM(D.success), fn.SUM(D.failure))
                 .where(D.workspace_id == workspace.id))
        if since is not None:
            query = query.where(D.day >= since.date().isoformat())
        if until is not None:
            query = query.where(D.day < until.date().isoformat())
        rows = query.group_by(D.day, D.operation).order_by(D.day, D.operation).tuples()
        items = [{"day": d, "operation": op, "total": int(ok) + int(fail), "success": int(ok), "failure": int(fail)}
                 for d, op, ok, fail in rows if int(ok) + int(fail)]
        return {"name": "daily-operations", "items": items}
    day = fn.DATE(E.time)
    failed = fn.SUM(Case(None, [(E.status >= 400, 1)], 0))
    rows = (filtered(workspace, since=since, until=until)
            .select(day.alias("day"), E.operation, fn.COUNT(E.id).alias("total"), failed.alias("failure"))
            .group_by(day, E.operation).order_by(day, E.operation).tuples())
    items = [{"day": str(d)[:10], "operation": op, "total": int(total),
              "success": int(total) - int(fail or 0), "failure": int(fail or 0)}
             for d, op, total, fail in rows]
    return {"name": "daily-operations", "items": items}


def report_deprovisioning(workspace, since=None, until=None):
    """For each deprovisioned member: when the request arrived, when access was gone, and the time between."""
    items = []
    query = filtered(workspace, since=since, until=until, operation=",".join(DEPROVISION_OPS),
                     outcome="success")
    for row in query.order_by(E.seq).dicts().iterator():
        seconds = None
        if row["received_at"] is not None:
            seconds = round(max((row["time"] - row["received_at"]).total_seconds(), 0.0), 6)
        items.append({"member_id": row["target_id"], "user_name": row["target_name"],
                      "operation": row["operation"],
                      "idp": row["idp"], "actor_kind": row["actor_kind"], "actor_email": row["actor_email"],
                      "actor_token_label": row["actor_token_label"], "seq": row["seq"],
                      "requested_at": format_time(row["received_at"]),
                      "access_removed_at": format_time(row["time"]),
                      "seconds": seconds})
    timed = sorted(i["seconds"] for i in items if i["seconds"] is not None)
    summary = {"count": len(items), "timed": len(timed),
               "median_seconds": timed[len(timed) // 2] if timed else None,
               "max_seconds": timed[-1] if timed else None}
    return {"name": "deprovisioning", "items": items, "summary": summary}


def _event_summary(row):
    return {"seq": row["seq"], "time": format_time(row["time"]), "operation": row["operation"],
            "actor_kind": row["actor_kind"], "actor_email": row["actor_email"],
            "actor_token_label": row["actor_token_label"], "idp": row["idp"]}


def _grants_env(after, environment):
    if not isinstance(after, dict):
        return False
    if after.get("environment") == environment and after.get("role"):
        return True
    roles = after.get("roles")
    return isinstance(roles, dict) and bool(roles.get(environment)) and roles.get(environment) != "NoAccess"


ACCESS_CHUNK = 500
GRANTING_OPS = ("role.granted", "member.added", "user.created", "user.updated")
JOINING_OPS = ("group.created", "group.members_added")


def _with_access(workspace, environment):
    """The query of the workspace's not-suspended members with a direct role or a group grant in `environment`."""
    direct = MemberRole.select(MemberRole.member).where(MemberRole.workspace == workspace.id,
                                                        MemberRole.environment == environment)
    granting = GroupGrant.select(GroupGrant.group).where(GroupGrant.workspace == workspace.id,
                                                         GroupGrant.environment == environment)
    via_group = GroupMember.select(GroupMember.member).where(GroupMember.workspace == workspace.id,
                                                             GroupMember.group.in_(granting))
    return Member.select().where(Member.workspace == workspace.id, Member.status != "suspended",
                                 Member.id.in_(direct) | Member.id.in_(via_group))


def _provenance(workspace, environment, ids, granting):
    """Return ({member: event that granted its direct role}, {(group, member): event that added it}) for `ids`,
    read through the target and mention indexes (only these members' events, not the whole log)."""
    granted_by, joined_by = {}, {}
    for row in (filtered(workspace, operation=",".join(GRANTING_OPS), outcome="success")
                .where(E.target_id.in_(ids)).order_by(E.seq).dicts().iterator()):
        if _grants_env(row["after"], environment):
            granted_by[row["target_id"]] = _event_summary(row)
    if granting:
        mentioned = ProvisioningEventRef.select(ProvisioningEventRef.seq).where(
            ProvisioningEventRef.workspace_id == workspace.id, ProvisioningEventRef.ref_id.in_(ids))
        wanted = set(ids)
        for row in (filtered(workspace, operation=",".join(JOINING_OPS), outcome="success")
                    .where(E.seq.in_(mentioned), E.target_id.in_(list(granting))).order_by(E.seq).dicts().iterator()):
            for member_id in set(mentions(None, row["after"])) & wanted:
                joined_by[(row["target_id"], member_id)] = _event_summary(row)
    return granted_by, joined_by


def report_access(workspace, environment="prod", page=None, page_size=50):
    """List members with access to `environment` and how: a direct role or a group's grant, with the event.

    By userName; with `page`, one page of `page_size` and the total. Reads per chunk of members, so its cost
    follows the members listed, not the length of the log."""
    if environment not in workspace.environments:
        return {"name": "access", "environment": environment, "items": [], "total": 0,
                "note": f"Environment {environment} is not enabled in this workspace"}
    roles = {rid: (name, frozenset(privs)) for rid, name, privs in
             Role.select(Role.id, Role.name, Role.privileges).where(Role.workspace == workspace.id).tuples()}
    granting = {gid: (name, rid) for gid, name, rid in
                GroupGrant.select(GroupGrant.group, Group.display_name, GroupGrant.role)
                .join(Group, on=(GroupGrant.group == Group.id))
                .where(GroupGrant.workspace == workspace.id, GroupGrant.environment == environment).tuples()}
    query = _with_access(workspace, environment).order_by(Member.user_name_ci, Member.id)
    total = query.count() if page is not None else None
    members = list(query.paginate(page, page_size) if page is not None else query)
    items = []
    for start in range(0, len(members), ACCESS_CHUNK):
        chunk = members[start:start + ACCESS_CHUNK]
        ids = [m.id for m in chunk]
        direct = dict(MemberRole.select(MemberRole.member, MemberRole.role).where(
            MemberRole.workspace == workspace.id, MemberRole.environment == environment,
            MemberRole.member.in_(ids)).tuples())
        via_groups = {}
        if granting:
            for member_id, group_id in (GroupMember.select(GroupMember.member, GroupMember.group)
                                        .where(GroupMember.workspace == workspace.id, GroupMember.member.in_(ids),
                                               GroupMember.group.in_(list(granting))).tuples()):
                via_groups.setdefault(member_id, []).append(group_id)
        granted_by, joined_by = _provenance(workspace, environment, ids, granting)
        for member in chunk:
            role_ids = ([direct[member.id]] if member.id in direct else []) + \
                [granting[g][1] for g in via_groups.get(member.id, [])]
            privileges = frozenset().union(*(roles[r][1] for r in role_ids))
            if not privileges:
                continue
            sources = []
            if member.id in direct:
                sources.append({"type": "direct", "role": roles[direct[member.id]][0],
                                "granted_by": granted_by.get(member.id)})
            for group_id in via_groups.get(member.id, []):
                name, role_id = granting[group_id]
                sources.append({"type": "group", "group_id": group_id, "group": name, "role": roles[role_id][0],
                                "member_since": joined_by.get((group_id, member.id))})
            items.append({"member_id": member.id, "user_name": member.user_name, "status": member.status,
                          "privileges": sorted(privileges), "sources": sources})
    out = {"name": "access", "environment": environment, "items": items}
    if page is not None:
        out.update(total=total, page=page, page_size=page_size)
    return out


# What the console's activity chart counts, by kind: the provisioning operations that create, change, deactivate
# or delete members and groups (docs/audit.md lists the operations).
ACTIVITY_KINDS = {
    "created": ("user.created", "member.added", "group.created"),
    "updated": ("user.updated", "user.reactivated", "member.roles_changed", "group.updated", "group.renamed",
                "group.members_added", "group.members_removed", "group.grants_changed"),
    "deactivated": ("user.deactivated",),
    "deleted": ("user.deleted", "member.removed", "group.deleted"),
}


def report_activity(workspace, days=30, today=None):
    """Count successful provisioning per UTC day (the last `days`, today included), per IdP (None: the admin API,
    the console and the command line) and kind: {"days": [...], "series": {idp: {kind: [count per day]}}}."""
    today = today or utcnow().date()
    first = today - datetime.timedelta(days=days - 1)
    kind_of = {op: kind for kind, ops in ACTIVITY_KINDS.items() for op in ops}
    rows = (D.select(D.day, D.idp, D.operation, fn.SUM(D.success))
            .where(D.workspace_id == workspace.id, D.day >= first.isoformat(), D.operation.in_(list(kind_of)))
            .group_by(D.day, D.idp, D.operation).tuples())
    labels = [(first + datetime.timedelta(days=i)).isoformat() for i in range(days)]
    index = {label: i for i, label in enumerate(labels)}
    series = {}
    for when, idp, operation, count in rows:
        position = index.get(when)
        if position is None or not int(count):
            continue
        counts = series.setdefault(idp or None, {kind: [0] * days for kind in ACTIVITY_KINDS})
        counts[kind_of[operation]][position] += int(count)
    return {"days": labels, "series": series}


REPORTS = {"daily-operations": report_daily_operations, "deprovisioning": report_deprovisioning,
           "access": report_access}
