"""SSO trust: who started a test run (so only they and sso:manage holders see its profile), login URLs no longer
stored, domain verification by DNS TXT record (several workspaces may claim a domain; one may verify it), and the tenant SSRF switch removed from workspace settings.

Frozen DDL as of this migration (models/sso.py).
"""

import json

from peewee import PostgresqlDatabase

DDL = {
    "postgres": [
        'ALTER TABLE "sso_test_run" ADD COLUMN "started_by_key" VARCHAR(80) NOT NULL DEFAULT \'\'',
        'UPDATE "sso_test_run" SET "login_url" = NULL',
        'ALTER TABLE "sso_domain" ADD COLUMN "status" VARCHAR(16) NOT NULL DEFAULT \'claimed\'',
        'ALTER TABLE "sso_domain" ADD COLUMN "token" VARCHAR(64) NOT NULL DEFAULT \'\'',
        'ALTER TABLE "sso_domain" ADD COLUMN "verified_at" TIMESTAMP',
        'ALTER TABLE "sso_domain" ADD COLUMN "checked_at" TIMESTAMP',
        'ALTER TABLE "sso_domain" ADD COLUMN "check_error" TEXT',
        'DROP INDEX "sso_domain_domain"',
        'CREATE UNIQUE INDEX "sso_domain_domain_workspace_id" ON "sso_domain" ("domain", "workspace_id")',
        'CREATE UNIQUE INDEX "sso_domain_verified" ON "sso_domain" ("domain") WHERE "status" = \'verified\'',
    ],
    "sqlite": [
        'ALTER TABLE "sso_test_run" ADD COLUMN "started_by_key" VARCHAR(80) NOT NULL DEFAULT \'\'',
        'UPDATE "sso_test_run" SET "login_url" = NULL',
        'ALTER TABLE "sso_domain" ADD COLUMN "status" VARCHAR(16) NOT NULL DEFAULT \'claimed\'',
        'ALTER TABLE "sso_domain" ADD COLUMN "token" VARCHAR(64) NOT NULL DEFAULT \'\'',
        'ALTER TABLE "sso_domain" ADD COLUMN "verified_at" DATETIME',
        'ALTER TABLE "sso_domain" ADD COLUMN "checked_at" DATETIME',
        'ALTER TABLE "sso_domain" ADD COLUMN "check_error" TEXT',
        'DROP INDEX "sso_domain_domain"',
        'CREATE UNIQUE INDEX "sso_domain_domain_workspace_id" ON "sso_domain" ("domain", "workspace_id")',
        'CREATE UNIQUE INDEX "sso_domain_verified" ON "sso_domain" ("domain") WHERE "status" = \'verified\'',
    ],
}
REMOVED_SETTING = "sso.allow_private_network"


def _drop_removed_setting(db):
    """Remove the former tenant switch from stored settings (it no longer does anything)."""
    for workspace_id, settings in db.execute_sql('SELECT "id", "settings" FROM "workspace"').fetchall():
        value = json.loads(settings) if isinstance(settings, str) else dict(settings or {})
        if REMOVED_SETTING in value:
            value.pop(REMOVED_SETTING)
            db.execute_sql('UPDATE "workspace" SET "settings" = ' + ("%s::jsonb" if isinstance(
                db, PostgresqlDatabase) else "?") + ' WHERE "id" = ' + (
                "%s" if isinstance(db, PostgresqlDatabase) else "?"), (json.dumps(value), workspace_id))


def up(migrator, db):
    dialect = "postgres" if isinstance(db, PostgresqlDatabase) else "sqlite"
    for statement in DDL[dialect]:
        db.execute_sql(statement)
    _drop_removed_setting(db)


def down(migrator, db):
    db.execute_sql('DROP INDEX "sso_domain_verified"')
    db.execute_sql('DROP INDEX "sso_domain_domain_workspace_id"')
    db.execute_sql('CREATE UNIQUE INDEX "sso_domain_domain" ON "sso_domain" ("domain")')
    for column in ("status", "token", "verified_at", "checked_at", "check_error"):
        db.execute_sql(f'ALTER TABLE "sso_domain" DROP COLUMN "{column}"')
    db.execute_sql('ALTER TABLE "sso_test_run" DROP COLUMN "started_by_key"')
