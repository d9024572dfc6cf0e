"""The provisioning log: events, the per-workspace chain head, the mention index and prune checkpoints.

Frozen DDL as of this migration (generated from models/events.py with peewee's schema manager).
"""

from peewee import PostgresqlDatabase

DDL = {'postgres': ['CREATE TABLE "provisioning_event" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, '
                    '"workspace_id" VARCHAR(36) NOT NULL, "seq" BIGINT NOT NULL, "time" TIMESTAMP NOT NULL, '
                    '"received_at" TIMESTAMP, "request_id" VARCHAR(64), "actor_kind" VARCHAR(16) NOT NULL, '
                    '"actor_token_id" VARCHAR(36), "actor_token_label" VARCHAR(200), "actor_person_id" '
                    'VARCHAR(36), "actor_email" VARCHAR(320), "idp" VARCHAR(100), "client_ip" VARCHAR(64), '
                    '"user_agent" VARCHAR(400), "operation" VARCHAR(64) NOT NULL, "target_type" VARCHAR(32) '
                    'NOT NULL, "target_id" VARCHAR(64), "target_name" VARCHAR(320), "before" JSONB, "after" '
                    'JSONB, "status" INTEGER NOT NULL, "error" TEXT, "scim_type" VARCHAR(32), "quirks" JSONB '
                    'NOT NULL, "prev_hash" VARCHAR(64) NOT NULL, "hash" VARCHAR(64) NOT NULL)',
                    'CREATE UNIQUE INDEX "provisioning_event_workspace_id_seq" ON "provisioning_event" '
                    '("workspace_id", "seq")',
                    'CREATE INDEX "provisioning_event_workspace_id_time" ON "provisioning_event" '
                    '("workspace_id", "time")',
                    'CREATE INDEX "provisioning_event_workspace_id_target_id_seq" ON "provisioning_event" '
                    '("workspace_id", "target_id", "seq")',
                    'CREATE TABLE "provisioning_chain" ("workspace_id" VARCHAR(36) NOT NULL PRIMARY KEY, '
                    '"last_seq" BIGINT NOT NULL, "last_hash" VARCHAR(64) NOT NULL)',
                    'CREATE TABLE "provisioning_event_ref" ("id" SERIAL NOT NULL PRIMARY KEY, "workspace_id" '
                    'VARCHAR(36) NOT NULL, "ref_id" VARCHAR(64) NOT NULL, "seq" BIGINT NOT NULL)',
                    'CREATE INDEX "provisioning_event_ref_workspace_id_ref_id_seq" ON '
                    '"provisioning_event_ref" ("workspace_id", "ref_id", "seq")',
                    'CREATE INDEX "provisioning_event_ref_workspace_id_seq" ON "provisioning_event_ref" '
                    '("workspace_id", "seq")',
                    'CREATE TABLE "provisioning_checkpoint" ("id" SERIAL NOT NULL PRIMARY KEY, '
                    '"workspace_id" VARCHAR(36) NOT NULL, "seq" BIGINT NOT NULL, "last_hash" VARCHAR(64) NOT '
                    'NULL, "pruned_count" BIGINT NOT NULL, "pruned_before" TIMESTAMP NOT NULL, "created_at" '
                    'TIMESTAMP NOT NULL, "prev_checkpoint_hash" VARCHAR(64) NOT NULL, "hash" VARCHAR(64) NOT '
                    'NULL)',
                    'CREATE UNIQUE INDEX "provisioning_checkpoint_workspace_id_seq" ON '
                    '"provisioning_checkpoint" ("workspace_id", "seq")'],
       'sqlite': ['CREATE TABLE "provisioning_event" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" '
                  'VARCHAR(36) NOT NULL, "seq" INTEGER NOT NULL, "time" DATETIME NOT NULL, "received_at" '
                  'DATETIME, "request_id" VARCHAR(64), "actor_kind" VARCHAR(16) NOT NULL, "actor_token_id" '
                  'VARCHAR(36), "actor_token_label" VARCHAR(200), "actor_person_id" VARCHAR(36), '
                  '"actor_email" VARCHAR(320), "idp" VARCHAR(100), "client_ip" VARCHAR(64), "user_agent" '
                  'VARCHAR(400), "operation" VARCHAR(64) NOT NULL, "target_type" VARCHAR(32) NOT NULL, '
                  '"target_id" VARCHAR(64), "target_name" VARCHAR(320), "before" TEXT, "after" TEXT, '
                  '"status" INTEGER NOT NULL, "error" TEXT, "scim_type" VARCHAR(32), "quirks" TEXT NOT NULL, '
                  '"prev_hash" VARCHAR(64) NOT NULL, "hash" VARCHAR(64) NOT NULL)',
                  'CREATE UNIQUE INDEX "provisioning_event_workspace_id_seq" ON "provisioning_event" '
                  '("workspace_id", "seq")',
                  'CREATE INDEX "provisioning_event_workspace_id_time" ON "provisioning_event" '
                  '("workspace_id", "time")',
                  'CREATE INDEX "provisioning_event_workspace_id_target_id_seq" ON "provisioning_event" '
                  '("workspace_id", "target_id", "seq")',
                  'CREATE TABLE "provisioning_chain" ("workspace_id" VARCHAR(36) NOT NULL PRIMARY KEY, '
                  '"last_seq" INTEGER NOT NULL, "last_hash" VARCHAR(64) NOT NULL)',
                  'CREATE TABLE "provisioning_event_ref" ("id" INTEGER NOT NULL PRIMARY KEY, "workspace_id" '
                  'VARCHAR(36) NOT NULL, "ref_id" VARCHAR(64) NOT NULL, "seq" INTEGER NOT NULL)',
                  'CREATE INDEX "provisioning_event_ref_workspace_id_ref_id_seq" ON "provisioning_event_ref" '
                  '("workspace_id", "ref_id", "seq")',
                  'CREATE INDEX "provisioning_event_ref_workspace_id_seq" ON "provisioning_event_ref" '
                  '("workspace_id", "seq")',
                  'CREATE TABLE "provisioning_checkpoint" ("id" INTEGER NOT NULL PRIMARY KEY, "workspace_id" '
                  'VARCHAR(36) NOT NULL, "seq" INTEGER NOT NULL, "last_hash" VARCHAR(64) NOT NULL, '
                  '"pruned_count" INTEGER NOT NULL, "pruned_before" DATETIME NOT NULL, "created_at" DATETIME '
                  'NOT NULL, "prev_checkpoint_hash" VARCHAR(64) NOT NULL, "hash" VARCHAR(64) NOT NULL)',
                  'CREATE UNIQUE INDEX "provisioning_checkpoint_workspace_id_seq" ON '
                  '"provisioning_checkpoint" ("workspace_id", "seq")']}


def up(migrator, db):
    dialect = "postgres" if isinstance(db, PostgresqlDatabase) else "sqlite"
    for statement in DDL[dialect]:
        db.execute_sql(statement)


def down(migrator, db):
    for table in ("provisioning_checkpoint", "provisioning_event_ref", "provisioning_chain",
                  "provisioning_event"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')
