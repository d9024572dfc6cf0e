"""Signed checkpoints: signing a head on demand, the latest signed head, verifying the chain against it and
against a head an auditor saved elsewhere, and the signed records deleted workspaces leave behind.

What each check detects, and against whom, is in docs/audit.md ("What verification proves").
"""

import json
import re

from ...db import db, utcnow
from ...events import (GENESIS_HASH, DeletedWorkspace, ProvisioningChain, ProvisioningEvent, SignedCheckpoint,
                       format_time)
from ...workspace import Workspace
from .. import ConflictError, InvalidError
from . import signing
from .chain import _latest_checkpoint, chain_head
from .chain import verify as verify_chain

E = ProvisioningEvent
HEAD_PATTERN = re.compile(r"^(\d{1,18}):([0-9a-f]{64})$")


def parse_head(text):
    """Parse `<seq>:<hash>` (a head saved from `GET {ws}/events/head`); raise InvalidError when malformed."""
    match = HEAD_PATTERN.match(text.strip().lower()) if isinstance(text, str) else None
    if match is None:
        raise InvalidError("Invalid expected head", errors={"expected_head": [
            "Use <seq>:<hash>, the seq and the 64 hex digits of a head this log answered"]})
    return int(match.group(1)), match.group(2)


def _lock_head(workspace_id):
    """Lock the workspace's chain head (creating it before the first event) and return it."""
    ProvisioningChain.insert(workspace_id=workspace_id, last_seq=0, last_hash=GENESIS_HASH) \
        .on_conflict_ignore().as_rowcount().execute()
    ProvisioningChain.update(last_seq=ProvisioningChain.last_seq).where(
        ProvisioningChain.workspace_id == workspace_id).execute()
    return chain_head(workspace_id)


def sign_in_transaction(workspace_id, reason, now=None, **extra):
    """Sign the workspace's current head inside the caller's transaction; return the SignedCheckpoint."""
    now = now or utcnow()
    head = _lock_head(workspace_id)
    row = signing.store_checkpoint(workspace_id, head.last_seq, head.last_hash, now, reason, **extra)
    ProvisioningChain.update(signed_seq=head.last_seq, signed_at=now).where(
        ProvisioningChain.workspace_id == workspace_id).execute()
    return row


def sign_now(workspace, reason="demand"):
    """Sign the workspace's head now (on demand, or from `roster audit checkpoint`); return the document."""
    if signing.settings().signing_key is None:
        raise ConflictError("No signing key is configured (AUDIT_SIGNING_KEY): checkpoints cannot be signed")
    from .refusals import flush_refusals  # the refused tokens of past minutes go into the chain first
    with db.atomic():
        flush_refusals(workspace.id)
        row = sign_in_transaction(workspace.id, reason)
    signing.stream_pending()
    return signing.checkpoint_document(row)


def sign_all():
    """Sign the head of every workspace that moved since it was last signed (cron); return {slug: seq}."""
    out = {}
    moved = (Workspace.select(Workspace, ProvisioningChain.last_seq)
             .join(ProvisioningChain, on=(ProvisioningChain.workspace_id == Workspace.id))
             .where(ProvisioningChain.last_seq > ProvisioningChain.signed_seq).order_by(Workspace.slug))
    for workspace in moved:
        out[workspace.slug] = sign_now(workspace, "interval")["seq"]
    return out


def latest_signed(workspace_id):
    """Return the workspace's signed checkpoint with the highest seq (newest first among equals), or None."""
    return (SignedCheckpoint.select().where(SignedCheckpoint.workspace_id == workspace_id)
            .order_by(SignedCheckpoint.seq.desc(), SignedCheckpoint.id.desc()).first())


def head(workspace):
    """Return the latest signed checkpoint (what an auditor saves elsewhere) and the current, unsigned head."""
    row = latest_signed(workspace.id)
    current = chain_head(workspace.id)
    return {"signed": signing.checkpoint_document(row) if row is not None else None,
            "current": {"seq": current.last_seq if current else 0,
                        "hash": current.last_hash if current else GENESIS_HASH},
            "key_id": signing.settings().key_id}


def _statement_problem(row):
    """Return what is wrong with a signed checkpoint's statement and signature, or None."""
    problem = signing.check_signature(row.statement, row.key_id, row.signature)
    if problem is not None:
        return problem
    statement = json.loads(row.statement)
    if (statement.get("type") != signing.CHECKPOINT_TYPE or statement.get("workspace_id") != row.workspace_id
            or statement.get("seq") != row.seq or statement.get("hash") != row.hash):
        return "its columns differ from the statement that was signed"
    return None


def _hash_at(workspace_id, seq):
    """Return the hash the log holds for `seq`: the event's, or the prune checkpoint's; ("pruned", None) when
    `seq` lies inside a pruned range; (None, None) when the log does not reach it."""
    if seq == 0:
        return "present", GENESIS_HASH
    pruned = _latest_checkpoint(workspace_id)
    if pruned is not None and seq <= pruned.seq:
        return ("present", pruned.last_hash) if seq == pruned.seq else ("pruned", None)
    found = E.select(E.hash).where(E.workspace_id == workspace_id, E.seq == seq).scalar()
    return ("present", found) if found is not None else (None, None)


def _bad(result, seq, problem, detail):
    result.update(ok=False, first_bad={"seq": seq, "problem": problem, "detail": detail})


def _check_signed(workspace, result):
    row = latest_signed(workspace.id)
    if row is None:
        result["signed_checkpoint"] = None
        return
    problem = _statement_problem(row)
    result["signed_checkpoint"] = dict(signing.checkpoint_document(row), signature_ok=problem is None)
    when = format_time(row.signed_at)
    if problem is not None:
        return _bad(result, row.seq, "signature", f"the checkpoint of event {row.seq} signed at {when} is not "
                                                  f"authentic: {problem}")
    current = chain_head(workspace.id)
    head_seq = current.last_seq if current is not None else 0
    if head_seq < row.seq:
        return _bad(result, head_seq + 1, "deleted",
                    f"events {head_seq + 1} to {row.seq} are missing: the chain ends at {head_seq}, but a "
                    f"checkpoint signed at {when} (key {row.key_id}) attests event {row.seq}")
    state, found = _hash_at(workspace.id, row.seq)
    if state == "present" and found != row.hash:
        _bad(result, row.seq, "modified", f"event {row.seq} no longer has the hash signed at {when} "
                                          f"(key {row.key_id}): the chain was rewritten")
    elif state is None:
        _bad(result, row.seq, "deleted", f"event {row.seq}, signed at {when}, is missing")


def _check_expected(workspace, result, expected):
    seq, expected_hash = expected
    state, found = _hash_at(workspace.id, seq)
    out = {"seq": seq, "hash": expected_hash, "extended": state == "present" and found == expected_hash}
    result["expected_head"] = out
    if out["extended"]:
        out["detail"] = f"the log extends the saved head: event {seq} still has that hash"
        return
    if state == "pruned":
        out["detail"] = f"event {seq} was pruned: the saved head can no longer be compared"
        problem = "unverifiable"
    elif state is None:
        out["detail"] = f"the log does not reach event {seq}: it was cut short below the saved head"
        problem = "deleted"
    else:
        out["detail"] = f"event {seq} has another hash than the saved head: the log was rewritten"
        problem = "diverged"
    if result["ok"]:
        _bad(result, seq, problem, out["detail"])


def verify(workspace, expected_head=None):
    """Verify the chain, then against its newest signed checkpoint and, when given, a saved `(seq, hash)`.

    Returns chain.verify's answer with `signed_checkpoint` and `expected_head`; `first_bad` names the first
    problem found, in that order."""
    result = verify_chain(workspace)
    if result["ok"]:
        _check_signed(workspace, result)
    else:
        result["signed_checkpoint"] = (signing.checkpoint_document(latest_signed(workspace.id))
                                       if latest_signed(workspace.id) is not None else None)
    result["expected_head"] = None
    if expected_head is not None:
        _check_expected(workspace, result, expected_head)
    return result


# -- deleted workspaces -----------------------------------------------------------------------------------------

def record_deletion(workspace, actor, counts, now=None):
    """Leave a signed record of a workspace deletion outside the workspace, in the deleting transaction."""
    now = now or utcnow()
    current = chain_head(workspace.id)
    person = getattr(actor, "person", None)
    statement = {"type": signing.DELETION_TYPE, "workspace_id": workspace.id, "slug": workspace.slug,
                 "name": workspace.name, "deleted_at": format_time(now),
                 "actor": {"kind": getattr(actor, "kind", None), "token_id": getattr(actor, "token_id", None),
                           "token_label": getattr(actor, "token_label", None),
                           "person_id": person.id if person is not None else None,
                           "email": person.email if person is not None else None,
                           "ip": getattr(actor, "ip", None)},
                 "counts": counts,
                 "final_head": {"seq": current.last_seq if current else 0,
                                "hash": current.last_hash if current else GENESIS_HASH}}
    text, kid, signature = signing.sign(statement)
    return DeletedWorkspace.create(workspace_id=workspace.id, slug=workspace.slug, deleted_at=now, key_id=kid,
                                   statement=text, signature=signature)


def deleted_workspaces():
    """List the deletion records, oldest first, each with whether its signature verifies."""
    out = []
    for row in DeletedWorkspace.select().order_by(DeletedWorkspace.deleted_at, DeletedWorkspace.id):
        problem = signing.check_signature(row.statement, row.key_id, row.signature)
        try:
            statement = json.loads(row.statement)
        except ValueError:
            statement = {}
        if problem is None and (statement.get("workspace_id") != row.workspace_id
                                or statement.get("slug") != row.slug):
            problem = "its columns differ from the statement that was signed"
        out.append({"statement": statement, "key_id": row.key_id, "signature": row.signature,
                    "signature_ok": problem is None, "problem": problem})
    return out
