"""Signed checkpoints of the provisioning log (docs/audit.md): the signed chain heads, when each workspace's head
was last signed, the signed records of deleted workspaces, the per-minute counters of refused tokens, and an index
on token prefixes (a refused token is matched to its workspace by prefix).

Frozen DDL as of this migration (generated from models/events.py with peewee's schema manager).
"""

from peewee import PostgresqlDatabase

DDL = {'postgres': ['CREATE TABLE "provisioning_signed_checkpoint" ("id" SERIAL NOT NULL PRIMARY KEY, "workspace_id" '
                    'VARCHAR(36) NOT NULL, "seq" BIGINT NOT NULL, "hash" VARCHAR(64) NOT NULL, "signed_at" TIMESTAMP '
                    'NOT NULL, "reason" VARCHAR(16) NOT NULL, "key_id" VARCHAR(32) NOT NULL, "statement" TEXT NOT '
                    'NULL, "signature" VARCHAR(128) NOT NULL)',
                    'CREATE INDEX "provisioning_signed_checkpoint_workspace_id_seq" ON '
                    '"provisioning_signed_checkpoint" ("workspace_id", "seq")',
                    'CREATE TABLE "deleted_workspace" ("id" SERIAL NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) '
                    'NOT NULL, "slug" VARCHAR(64) NOT NULL, "deleted_at" TIMESTAMP NOT NULL, "key_id" VARCHAR(32), '
                    '"statement" TEXT NOT NULL, "signature" VARCHAR(128))',
                    'CREATE INDEX "deleted_workspace_deleted_at" ON "deleted_workspace" ("deleted_at")',
                    'CREATE TABLE "auth_refusal" ("id" SERIAL NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT '
                    'NULL, "token_prefix" VARCHAR(16) NOT NULL, "minute" TIMESTAMP NOT NULL, "reason" VARCHAR(16) '
                    'NOT NULL, "token_id" VARCHAR(36), "client_ip" VARCHAR(64), "user_agent" VARCHAR(400), "count" '
                    'INTEGER NOT NULL)',
                    'CREATE UNIQUE INDEX "auth_refusal_workspace_id_token_prefix_minute_reason" ON "auth_refusal" '
                    '("workspace_id", "token_prefix", "minute", "reason")',
                    'ALTER TABLE "provisioning_chain" ADD COLUMN "signed_seq" BIGINT NOT NULL DEFAULT 0',
                    'ALTER TABLE "provisioning_chain" ADD COLUMN "signed_at" TIMESTAMP',
                    'CREATE INDEX "token_prefix" ON "token" ("prefix")'],
       'sqlite': ['CREATE TABLE "provisioning_signed_checkpoint" ("id" INTEGER NOT NULL PRIMARY KEY, "workspace_id" '
                  'VARCHAR(36) NOT NULL, "seq" INTEGER NOT NULL, "hash" VARCHAR(64) NOT NULL, "signed_at" DATETIME '
                  'NOT NULL, "reason" VARCHAR(16) NOT NULL, "key_id" VARCHAR(32) NOT NULL, "statement" TEXT NOT '
                  'NULL, "signature" VARCHAR(128) NOT NULL)',
                  'CREATE INDEX "provisioning_signed_checkpoint_workspace_id_seq" ON '
                  '"provisioning_signed_checkpoint" ("workspace_id", "seq")',
                  'CREATE TABLE "deleted_workspace" ("id" INTEGER NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) '
                  'NOT NULL, "slug" VARCHAR(64) NOT NULL, "deleted_at" DATETIME NOT NULL, "key_id" VARCHAR(32), '
                  '"statement" TEXT NOT NULL, "signature" VARCHAR(128))',
                  'CREATE INDEX "deleted_workspace_deleted_at" ON "deleted_workspace" ("deleted_at")',
                  'CREATE TABLE "auth_refusal" ("id" INTEGER NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT '
                  'NULL, "token_prefix" VARCHAR(16) NOT NULL, "minute" DATETIME NOT NULL, "reason" VARCHAR(16) NOT '
                  'NULL, "token_id" VARCHAR(36), "client_ip" VARCHAR(64), "user_agent" VARCHAR(400), "count" '
                  'INTEGER NOT NULL)',
                  'CREATE UNIQUE INDEX "auth_refusal_workspace_id_token_prefix_minute_reason" ON "auth_refusal" '
                  '("workspace_id", "token_prefix", "minute", "reason")',
                  'ALTER TABLE "provisioning_chain" ADD COLUMN "signed_seq" INTEGER NOT NULL DEFAULT 0',
                  'ALTER TABLE "provisioning_chain" ADD COLUMN "signed_at" DATETIME',
                  'CREATE INDEX "token_prefix" ON "token" ("prefix")']}


def up(migrator, db):
    dialect = "postgres" if isinstance(db, PostgresqlDatabase) else "sqlite"
    for statement in DDL[dialect]:
        db.execute_sql(statement)


def down(migrator, db):
    db.execute_sql('DROP INDEX IF EXISTS "token_prefix"')
    for table in ("auth_refusal", "deleted_workspace", "provisioning_signed_checkpoint"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')
    for column in ("signed_at", "signed_seq"):
        db.execute_sql(f'ALTER TABLE "provisioning_chain" DROP COLUMN "{column}"')
