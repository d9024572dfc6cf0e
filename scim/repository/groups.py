"""SCIM Groups <-> groups: documents and PATCH member operations mapped onto the group engine
(models.services.groups); the value-filter removal, which needs SCIM's filter matcher, stays here."""

from models.services import groups as engine

from .. import mapping, schema
from ..errors import InvalidValueError
from ..filters import matches
from ..patch import apply_patch
from ..schema import GROUP
from ..validation import check_immutable, member_ids, normalize_resource
from .common import check_if_match, diff, record_attempt, scim_mutation, scim_source
from .reads import get_group


def remove_members_matching(change, workspace, group, node, base_url):
    """Remove the members a value filter selects (`members[display co "x"]`), scanning the group in batches.

    `members[value eq "id"]` never comes here: the PATCH engine turns it into a plain removal by id.
    """
    attribute = schema.resolve(GROUP, None, "members")
    doomed = []
    for member_id, display in engine.scan_members(workspace, group):
        element = {"value": member_id, "display": display, "type": "User",
                   "$ref": mapping.user_location(base_url, member_id)}
        if matches(node, element, attribute, resource_type=GROUP):
            doomed.append(member_id)
    return engine.remove_members(change, workspace, group, doomed)


def _apply_member_ops(change, workspace, group, member_ops, base_url):
    changed = False
    for op in member_ops:
        kind = op[0]
        if kind == "add":
            changed |= bool(engine.add_members(change, workspace, group, op[1]))
        elif kind == "remove":
            changed |= bool(engine.remove_members(change, workspace, group, op[1]))
        elif kind == "remove_all":
            changed |= bool(engine.remove_all_members(change, workspace, group))
        elif kind == "replace":
            added, removed = engine.replace_members(change, workspace, group, op[1])
            changed |= bool(added or removed)
        elif kind == "remove_filter":
            changed |= bool(remove_members_matching(change, workspace, group, op[1], base_url))
        else:
            raise ValueError(f"Unknown member operation {kind!r}")
    return changed


def create_group(workspace, actor, body, options):
    """Create a group, with its initial members (RFC 7644 §3.3)."""
    doc, quirks = normalize_resource(GROUP, body, strict=options.strict)
    options.note(quirks)
    ids = member_ids(doc.pop("members", None) or [])
    with scim_mutation(workspace, actor, "group.created") as change:
        group = engine.insert_group(change, workspace, doc["displayName"], doc.get("externalId"), attributes=doc,
                                    member_ids=ids, quirks=quirks, source=scim_source(actor))
        options.respond(group)
    return group


def _update_group_doc(change, workspace, group, old, new, quirks):
    """Store a group's new document; record a rename or update. Return True when it changed."""
    check_immutable(GROUP, old, new)
    if new == old:
        return False
    engine.update_group(change, workspace, group, new["displayName"], new.get("externalId"), attributes=new,
                        quirks=quirks)
    rest_before, rest_after = diff({k: v for k, v in old.items() if k != "displayName"},
                                    {k: v for k, v in new.items() if k != "displayName"})
    if rest_before or rest_after:
        change.record("group.updated", "group", group.id, new["displayName"], before=rest_before,
                      after=rest_after, quirks=quirks)
    return True


def replace_group(workspace, actor, group_id, body, options):
    """Replace a group and its membership (RFC 7644 §3.5.1), writing only the membership rows that differ."""
    doc, quirks = normalize_resource(GROUP, body, strict=options.strict)
    options.note(quirks)
    ids = member_ids(doc.pop("members", None) or [])
    with scim_mutation(workspace, actor, "group.updated") as change:
        group = get_group(workspace, group_id, lock=True)
        check_if_match(group, options.if_match)
        changed = _update_group_doc(change, workspace, group, dict(group.attributes or {}), doc, quirks)
        added, removed = engine.replace_members(change, workspace, group, ids)
        if changed or added or removed:
            engine.touch(group)
        record_attempt(change, "group.updated", "group", group.id, group.display_name, quirks)
        options.respond(group)
    return group


def patch_group(workspace, actor, group_id, operations, options):
    """Apply a PatchOp to a group atomically (RFC 7644 §3.5.2); members change as row deltas."""
    with scim_mutation(workspace, actor, "group.updated") as change:
        group = get_group(workspace, group_id, lock=True)
        check_if_match(group, options.if_match)
        old = dict(group.attributes or {})
        result = apply_patch(GROUP, old, operations, strict=options.strict, resource_id=group.id)
        options.note(result.quirks)
        new = dict(result.resource)
        new.pop("members", None)
        if not new.get("displayName"):
            raise InvalidValueError("Attribute 'displayName' is required")
        changed = _update_group_doc(change, workspace, group, old, new, result.quirks)
        if result.member_ops:
            if _apply_member_ops(change, workspace, group, result.member_ops, options.base_url):
                changed = True
        if changed:
            engine.touch(group)
        record_attempt(change, "group.updated", "group", group.id, group.display_name, result.quirks)
        options.respond(group)
    return group


def delete_group(workspace, actor, group_id, options):
    """Delete a group (RFC 7644 §3.6); its membership rows and role grants go with it."""
    with scim_mutation(workspace, actor, "group.deleted") as change:
        group = get_group(workspace, group_id, lock=True)
        check_if_match(group, options.if_match)
        engine.remove_group(change, workspace, group)
