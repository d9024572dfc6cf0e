"""Shard readiness, as a report: distributing tables by workspace (Citus) requires every tenant table's primary
key and unique constraints to include `workspace_id`. Read from the model metadata; the tables that do not yet
are listed in the expected failure until the schema change (issue 14, "Scale") lands.

Global by design (reference tables, docs/architecture.md): `person` (one person across workspaces), `token`
(looked up by hash before any workspace is known; a service token names its workspace, a personal one none),
`sso_domain` (a domain is claimed once across workspaces) and `workspace` itself (its id is the distribution
value)."""

import importlib
import pkgutil

import pytest

import models
from models.db import BaseModel

REFERENCE_TABLES = {"person", "token", "sso_domain", "workspace", "schema_migration",
                    # per person, before any workspace is chosen (console sign-in codes and sessions)
                    "signin_code", "console_session",
                    # the signed record a deleted workspace leaves behind: it outlives its workspace by design
                    "deleted_workspace"}


def _models():
    for info in pkgutil.iter_modules(models.__path__):
        if info.name not in ("migrations", "services"):
            importlib.import_module(f"models.{info.name}")
    found, todo = [], list(BaseModel.__subclasses__())
    while todo:
        model = todo.pop()
        found.append(model)
        todo.extend(model.__subclasses__())
    return sorted({m for m in found if m.__module__.startswith("models.")}, key=lambda m: m._meta.table_name)


def _workspace_column(model):
    for name in ("workspace", "workspace_id"):
        field = model._meta.fields.get(name)
        if field is not None:
            return field.column_name
    return None


def _unique_column_sets(model):
    """Yield (what, columns) for the primary key and each unique constraint of `model`."""
    meta = model._meta
    pk = meta.primary_key
    pk_fields = pk.field_names if hasattr(pk, "field_names") else [pk.name]
    yield "primary key", [meta.fields[name].column_name for name in pk_fields]
    for field in meta.sorted_fields:
        if field.unique:
            yield f"unique {field.column_name}", [field.column_name]
    for fields, unique in (meta.indexes or ()):
        if unique:
            columns = [meta.fields[name].column_name for name in fields]
            yield f"unique ({', '.join(columns)})", columns


def shard_violations():
    """Return ["table: constraint"] for tenant tables whose key or unique constraints lack workspace_id."""
    out = []
    for model in _models():
        table = model._meta.table_name
        column = _workspace_column(model)
        if table in REFERENCE_TABLES or column is None:
            continue
        out.extend(f"{table}: {what}" for what, columns in _unique_column_sets(model) if column not in columns)
    return out


def test_every_table_is_tenant_or_reference():
    untenanted = [m._meta.table_name for m in _models()
                  if _workspace_column(m) is None and m._meta.table_name not in REFERENCE_TABLES]
    assert untenanted == []


KNOWN = [
    "group_grant: primary key", "group_grant: unique (group_id, environment)",
    "group_member: primary key", "group_member: unique (group_id, member_id)",
    "invitation: primary key", "invitation: unique token_hash",
    "member: primary key", "member_group: primary key", "member_role: primary key", "member_role: unique (member_id, environment)",
    "one_time_code: primary key", "provisioning_checkpoint: primary key", "provisioning_event: primary key",
    "provisioning_event_ref: primary key", "role: primary key",
    "sso_connection: primary key", "sso_consumed_id: primary key", "sso_consumed_id: unique (connection_id, value)",
    "sso_test_run: primary key", "sso_test_run: unique state_hash",
    # Added by work that landed beside this test (signed checkpoints, refused-token counts, per-day counts);
    # they join the same schema change.
    "auth_refusal: primary key", "provisioning_daily: primary key", "provisioning_signed_checkpoint: primary key",
]


def test_no_new_table_breaks_the_rule():
    """The known list only shrinks: a new tenant table must key by workspace_id from the start."""
    new = sorted(set(shard_violations()) - set(KNOWN))
    assert new == [], "tenant tables whose key or unique constraints lack workspace_id"


@pytest.mark.xfail(strict=True, reason="the Scale part of issue 14 adds workspace_id to these keys (KNOWN)")
def test_tenant_keys_include_workspace_id():
    assert shard_violations() == []
