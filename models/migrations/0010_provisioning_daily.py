"""Events per day, IdP and operation (`provisioning_daily`), kept with the log so the console's activity chart and
the per-day report read days instead of every event; filled from the events already recorded.

Frozen DDL as of this migration (generated from models/events.py with peewee's schema manager).
"""

from peewee import PostgresqlDatabase

DDL = {'postgres': ['CREATE TABLE "provisioning_daily" ("id" SERIAL NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) '
                    'NOT NULL, "day" VARCHAR(10) NOT NULL, "idp" VARCHAR(100) NOT NULL, "operation" VARCHAR(64) NOT '
                    'NULL, "success" BIGINT NOT NULL, "failure" BIGINT NOT NULL)',
                    'CREATE UNIQUE INDEX "provisioning_daily_workspace_id_day_idp_operation" ON "provisioning_daily" '
                    '("workspace_id", "day", "idp", "operation")'],
       'sqlite': ['CREATE TABLE "provisioning_daily" ("id" INTEGER NOT NULL PRIMARY KEY, "workspace_id" VARCHAR(36) '
                  'NOT NULL, "day" VARCHAR(10) NOT NULL, "idp" VARCHAR(100) NOT NULL, "operation" VARCHAR(64) NOT '
                  'NULL, "success" INTEGER NOT NULL, "failure" INTEGER NOT NULL)',
                  'CREATE UNIQUE INDEX "provisioning_daily_workspace_id_day_idp_operation" ON "provisioning_daily" '
                  '("workspace_id", "day", "idp", "operation")']}

DAY = {"postgres": "to_char(\"time\", 'YYYY-MM-DD')", "sqlite": "substr(\"time\", 1, 10)"}
BACKFILL = ('INSERT INTO "provisioning_daily" ("workspace_id", "day", "idp", "operation", "success", "failure") '
            'SELECT "workspace_id", {day}, COALESCE("idp", \'\'), "operation", '
            'SUM(CASE WHEN "status" < 400 THEN 1 ELSE 0 END), SUM(CASE WHEN "status" >= 400 THEN 1 ELSE 0 END) '
            'FROM "provisioning_event" GROUP BY "workspace_id", {day}, COALESCE("idp", \'\'), "operation"')


def up(migrator, db):
    dialect = "postgres" if isinstance(db, PostgresqlDatabase) else "sqlite"
    for statement in DDL[dialect]:
        db.execute_sql(statement)
    db.execute_sql(BACKFILL.format(day=DAY[dialect]))


def down(migrator, db):
    db.execute_sql('DROP TABLE IF EXISTS "provisioning_daily"')
