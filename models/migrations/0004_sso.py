"""SSO: connections, the email domains they claim, test runs and consumed SAML response ids.

Frozen DDL as of this migration (generated from models/sso.py with peewee's schema manager).
"""

from peewee import PostgresqlDatabase

DDL = {'postgres': ['CREATE TABLE "sso_connection" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) '
              'NOT NULL, "provider" VARCHAR(8) NOT NULL, "name" VARCHAR(200) NOT NULL, "domains" JSONB NOT NULL, '
              '"config" JSONB NOT NULL, "secret" TEXT, "status" VARCHAR(16) NOT NULL, "config_version" INTEGER NOT '
              'NULL, "last_test" JSONB, "created_at" TIMESTAMP NOT NULL, "updated_at" TIMESTAMP NOT NULL, FOREIGN '
              'KEY ("workspace_id") REFERENCES "workspace" ("id") ON DELETE CASCADE)',
              'CREATE INDEX "sso_connection_workspace_id" ON "sso_connection" ("workspace_id")',
              'CREATE INDEX "sso_connection_workspace_id_created_at" ON "sso_connection" ("workspace_id", '
              '"created_at")',
              'CREATE TABLE "sso_domain" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT '
              'NULL, "domain" VARCHAR(253) NOT NULL, "created_at" TIMESTAMP NOT NULL, FOREIGN KEY ("workspace_id") '
              'REFERENCES "workspace" ("id") ON DELETE CASCADE)',
              'CREATE INDEX "sso_domain_workspace_id" ON "sso_domain" ("workspace_id")',
              'CREATE UNIQUE INDEX "sso_domain_domain" ON "sso_domain" ("domain")',
              'CREATE TABLE "sso_test_run" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT '
              'NULL, "connection_id" VARCHAR(36) NOT NULL, "provider" VARCHAR(8) NOT NULL, "status" VARCHAR(24) '
              'NOT NULL, "state_hash" VARCHAR(64) NOT NULL, "request_id" VARCHAR(100), "nonce" VARCHAR(100), '
              '"code_verifier" TEXT, "login_url" TEXT, "context" JSONB, "config_version" INTEGER NOT NULL, '
              '"started_by" VARCHAR(200) NOT NULL, "summary" TEXT NOT NULL, "checks" JSONB NOT NULL, "profile" '
              'JSONB, "created_at" TIMESTAMP NOT NULL, "expires_at" TIMESTAMP NOT NULL, "finished_at" TIMESTAMP, '
              'FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") ON DELETE CASCADE, FOREIGN KEY '
              '("connection_id") REFERENCES "sso_connection" ("id") ON DELETE CASCADE)',
              'CREATE INDEX "sso_test_run_workspace_id" ON "sso_test_run" ("workspace_id")',
              'CREATE INDEX "sso_test_run_connection_id" ON "sso_test_run" ("connection_id")',
              'CREATE UNIQUE INDEX "sso_test_run_state_hash" ON "sso_test_run" ("state_hash")',
              'CREATE INDEX "sso_test_run_workspace_id_connection_id_created_at" ON "sso_test_run" '
              '("workspace_id", "connection_id", "created_at")',
              'CREATE TABLE "sso_consumed_id" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) '
              'NOT NULL, "connection_id" VARCHAR(36) NOT NULL, "value" VARCHAR(256) NOT NULL, "created_at" '
              'TIMESTAMP NOT NULL, "expires_at" TIMESTAMP NOT NULL, FOREIGN KEY ("workspace_id") REFERENCES '
              '"workspace" ("id") ON DELETE CASCADE, FOREIGN KEY ("connection_id") REFERENCES "sso_connection" '
              '("id") ON DELETE CASCADE)',
              'CREATE INDEX "sso_consumed_id_workspace_id" ON "sso_consumed_id" ("workspace_id")',
              'CREATE INDEX "sso_consumed_id_connection_id" ON "sso_consumed_id" ("connection_id")',
              'CREATE UNIQUE INDEX "sso_consumed_id_connection_id_value" ON "sso_consumed_id" ("connection_id", '
              '"value")'],
 'sqlite': ['CREATE TABLE "sso_connection" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT '
            'NULL, "provider" VARCHAR(8) NOT NULL, "name" VARCHAR(200) NOT NULL, "domains" TEXT NOT NULL, "config" '
            'TEXT NOT NULL, "secret" TEXT, "status" VARCHAR(16) NOT NULL, "config_version" INTEGER NOT NULL, '
            '"last_test" TEXT, "created_at" DATETIME NOT NULL, "updated_at" DATETIME NOT NULL, FOREIGN KEY '
            '("workspace_id") REFERENCES "workspace" ("id") ON DELETE CASCADE)',
            'CREATE INDEX "sso_connection_workspace_id" ON "sso_connection" ("workspace_id")',
            'CREATE INDEX "sso_connection_workspace_id_created_at" ON "sso_connection" ("workspace_id", '
            '"created_at")',
            'CREATE TABLE "sso_domain" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT '
            'NULL, "domain" VARCHAR(253) NOT NULL, "created_at" DATETIME NOT NULL, FOREIGN KEY ("workspace_id") '
            'REFERENCES "workspace" ("id") ON DELETE CASCADE)',
            'CREATE INDEX "sso_domain_workspace_id" ON "sso_domain" ("workspace_id")',
            'CREATE UNIQUE INDEX "sso_domain_domain" ON "sso_domain" ("domain")',
            'CREATE TABLE "sso_test_run" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT '
            'NULL, "connection_id" VARCHAR(36) NOT NULL, "provider" VARCHAR(8) NOT NULL, "status" VARCHAR(24) NOT '
            'NULL, "state_hash" VARCHAR(64) NOT NULL, "request_id" VARCHAR(100), "nonce" VARCHAR(100), '
            '"code_verifier" TEXT, "login_url" TEXT, "context" TEXT, "config_version" INTEGER NOT NULL, '
            '"started_by" VARCHAR(200) NOT NULL, "summary" TEXT NOT NULL, "checks" TEXT NOT NULL, "profile" TEXT, '
            '"created_at" DATETIME NOT NULL, "expires_at" DATETIME NOT NULL, "finished_at" DATETIME, FOREIGN KEY '
            '("workspace_id") REFERENCES "workspace" ("id") ON DELETE CASCADE, FOREIGN KEY ("connection_id") '
            'REFERENCES "sso_connection" ("id") ON DELETE CASCADE)',
            'CREATE INDEX "sso_test_run_workspace_id" ON "sso_test_run" ("workspace_id")',
            'CREATE INDEX "sso_test_run_connection_id" ON "sso_test_run" ("connection_id")',
            'CREATE UNIQUE INDEX "sso_test_run_state_hash" ON "sso_test_run" ("state_hash")',
            'CREATE INDEX "sso_test_run_workspace_id_connection_id_created_at" ON "sso_test_run" ("workspace_id", '
            '"connection_id", "created_at")',
            'CREATE TABLE "sso_consumed_id" ("id" VARCHAR(36) NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) NOT '
            'NULL, "connection_id" VARCHAR(36) NOT NULL, "value" VARCHAR(256) NOT NULL, "created_at" DATETIME NOT '
            'NULL, "expires_at" DATETIME NOT NULL, FOREIGN KEY ("workspace_id") REFERENCES "workspace" ("id") ON '
            'DELETE CASCADE, FOREIGN KEY ("connection_id") REFERENCES "sso_connection" ("id") ON DELETE CASCADE)',
            'CREATE INDEX "sso_consumed_id_workspace_id" ON "sso_consumed_id" ("workspace_id")',
            'CREATE INDEX "sso_consumed_id_connection_id" ON "sso_consumed_id" ("connection_id")',
            'CREATE UNIQUE INDEX "sso_consumed_id_connection_id_value" ON "sso_consumed_id" ("connection_id", '
            '"value")']}


def up(migrator, db):
    dialect = "postgres" if isinstance(db, PostgresqlDatabase) else "sqlite"
    for statement in DDL[dialect]:
        db.execute_sql(statement)


def down(migrator, db):
    for table in ("sso_consumed_id", "sso_test_run", "sso_domain", "sso_connection"):
        db.execute_sql(f'DROP TABLE IF EXISTS "{table}"')
